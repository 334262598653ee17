/*
 * Group commit: work submitted while a group is in flight waits, and is settled with everything
 * else that arrived meanwhile in the next group: one transaction and one COMMIT for many callers.
 *
 *   idle        a lone member runs at once (no added latency)
 *   busy        members queue; when a group slot frees, up to `maxMembers` of them run together
 *   one key     at most one member per key in a group, and none while an earlier member of the
 *               same key is still in flight: a key's members settle in submission order
 *   a failure   `settle` rejecting fails no one yet: each member of the group is settled alone
 *               (in submission order), so a bad member fails only itself
 *
 * What a member *means* (a push's per-op answers, an order's allocation) is decided by `settle`;
 * a refusal it decides is an output, not a failure. Failures are what it did not plan for: a
 * deadlock, a lost connection, a bug.
 */

export interface GroupCommitOptions<I, O> {
  /** Settle a group of inputs in one transaction: one output per input, in input order. */
  settle: (inputs: readonly I[]) => Promise<O[]>;
  /** Members of one key never share a group or overlap in flight (a device's pushes). */
  keyOf?: (input: I) => string;
  /** Most members in one group. */
  maxMembers?: number;
  /** Groups in flight at once (Postgres: several connections; PGlite: one). */
  concurrency?: number;
}

interface Member<I, O> {
  input: I;
  key: string | undefined;
  resolve: (output: O) => void;
  reject: (err: unknown) => void;
}

/** What a GroupCommit has done since it was made (metrics, benchmarks, tests). */
export interface GroupCommitStats {
  groups: number;
  members: number;
  /** Groups whose `settle` failed and were settled member by member. */
  split: number;
}

export class GroupCommit<I, O> {
  private readonly queue: Array<Member<I, O>> = [];
  private readonly busyKeys = new Set<string>();
  private inFlight = 0;
  private readonly maxMembers: number;
  private readonly concurrency: number;
  readonly stats: GroupCommitStats = { groups: 0, members: 0, split: 0 };

  constructor(private readonly options: GroupCommitOptions<I, O>) {
    this.maxMembers = Math.max(1, options.maxMembers ?? 200);
    this.concurrency = Math.max(1, options.concurrency ?? 1);
  }

  /** Members waiting for a group (not counting those in flight). */
  get waiting(): number {
    return this.queue.length;
  }

  submit(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ input, key: this.options.keyOf?.(input), resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.concurrency) {
      const group = this.takeGroup();
      if (group.length === 0) return;
      this.inFlight += 1;
      void this.run(group).finally(() => {
        this.inFlight -= 1;
        for (const m of group) if (m.key !== undefined) this.busyKeys.delete(m.key);
        this.pump();
      });
    }
  }

  /** The oldest queued members that may run now, at most one per key, none of a busy key. */
  private takeGroup(): Array<Member<I, O>> {
    const group: Array<Member<I, O>> = [];
    const taken = new Set<string>();
    for (let i = 0; i < this.queue.length && group.length < this.maxMembers; ) {
      const m = this.queue[i]!;
      // A key already taken (or in flight) blocks its later members too: they keep their order.
      if (m.key !== undefined && (this.busyKeys.has(m.key) || taken.has(m.key))) {
        taken.add(m.key);
        i += 1;
        continue;
      }
      this.queue.splice(i, 1);
      group.push(m);
      if (m.key !== undefined) taken.add(m.key);
    }
    for (const m of group) if (m.key !== undefined) this.busyKeys.add(m.key);
    return group;
  }

  private async run(group: Array<Member<I, O>>): Promise<void> {
    this.stats.groups += 1;
    this.stats.members += group.length;
    try {
      const outputs = await this.options.settle(group.map((m) => m.input));
      if (outputs.length !== group.length) {
        throw new Error(`settle returned ${outputs.length} outputs for ${group.length} inputs`);
      }
      for (const [i, m] of group.entries()) m.resolve(outputs[i]!);
    } catch (err) {
      if (group.length === 1) {
        group[0]!.reject(err);
        return;
      }
      this.stats.split += 1;
      for (const m of group) {
        try {
          const [output] = await this.options.settle([m.input]);
          m.resolve(output!);
        } catch (alone) {
          m.reject(alone);
        }
      }
    }
  }
}
