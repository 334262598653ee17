import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../src/db/group-commit.js';

/** A settle whose calls can be held open and released by the test. */
function gate() {
  const calls: Array<{ inputs: string[]; release: () => void; fail: (err: Error) => void }> = [];
  const settle = (inputs: readonly string[]) =>
    new Promise<string[]>((resolve, reject) => {
      calls.push({
        inputs: [...inputs],
        release: () => resolve(inputs.map((i) => `done:${i}`)),
        fail: reject,
      });
    });
  return { calls, settle };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('GroupCommit', () => {
  it('runs a lone member at once and groups what arrives while it is in flight', async () => {
    const g = gate();
    const gc = new GroupCommit({ settle: g.settle });
    const a = gc.submit('a');
    await tick();
    expect(g.calls.map((c) => c.inputs)).toEqual([['a']]);
    const rest = ['b', 'c', 'd'].map((x) => gc.submit(x));
    await tick();
    expect(g.calls).toHaveLength(1);
    g.calls[0]!.release();
    expect(await a).toBe('done:a');
    await tick();
    expect(g.calls[1]!.inputs).toEqual(['b', 'c', 'd']);
    g.calls[1]!.release();
    expect(await Promise.all(rest)).toEqual(['done:b', 'done:c', 'done:d']);
    expect(gc.stats).toEqual({ groups: 2, members: 4, split: 0 });
  });

  it('keeps at most one member per key in a group, in submission order', async () => {
    const g = gate();
    const gc = new GroupCommit({ settle: g.settle, keyOf: (s: string) => s[0]! });
    void gc.submit('x0');
    await tick();
    const later = ['x1', 'y1', 'x2', 'z1'].map((s) => gc.submit(s));
    g.calls[0]!.release();
    await tick();
    // x1 waited for x0; x2 must wait for x1 even though its group had room.
    expect(g.calls[1]!.inputs).toEqual(['x1', 'y1', 'z1']);
    g.calls[1]!.release();
    await tick();
    expect(g.calls[2]!.inputs).toEqual(['x2']);
    g.calls[2]!.release();
    await Promise.all(later);
  });

  it('never overlaps two members of a key across concurrent groups', async () => {
    const g = gate();
    const gc = new GroupCommit({ settle: g.settle, keyOf: (s: string) => s[0]!, concurrency: 2 });
    void gc.submit('x0');
    void gc.submit('x1');
    void gc.submit('y0');
    await tick();
    // Two slots: x0 runs; y0 takes the second slot; x1 waits for x0 to finish.
    expect(g.calls.map((c) => c.inputs)).toEqual([['x0'], ['y0']]);
    g.calls[1]!.release();
    await tick();
    expect(g.calls).toHaveLength(2);
    g.calls[0]!.release();
    await tick();
    expect(g.calls[2]!.inputs).toEqual(['x1']);
  });

  it('caps a group at maxMembers', async () => {
    const g = gate();
    const gc = new GroupCommit({ settle: g.settle, maxMembers: 2 });
    void gc.submit('a');
    await tick();
    for (const s of ['b', 'c', 'd']) void gc.submit(s);
    g.calls[0]!.release();
    await tick();
    expect(g.calls[1]!.inputs).toEqual(['b', 'c']);
    expect(gc.waiting).toBe(1);
  });

  it('settles a failed group member by member, so one bad member fails only itself', async () => {
    const seen: string[][] = [];
    const gc = new GroupCommit<string, string>({
      settle: async (inputs) => {
        seen.push([...inputs]);
        if (inputs.includes('bad')) throw new Error('deadlock');
        return inputs.map((i) => `ok:${i}`);
      },
    });
    const first = gc.submit('first');
    const members = ['a', 'bad', 'b'].map((s) => gc.submit(s).catch((e: Error) => `failed:${e.message}`));
    expect(await first).toBe('ok:first');
    expect(await Promise.all(members)).toEqual(['ok:a', 'failed:deadlock', 'ok:b']);
    expect(seen).toEqual([['first'], ['a', 'bad', 'b'], ['a'], ['bad'], ['b']]);
    expect(gc.stats.split).toBe(1);
  });

  it('fails a group whose settle returns the wrong number of outputs, then settles each alone', async () => {
    const gc = new GroupCommit<string, string>({
      settle: async (inputs) => (inputs.length > 1 ? ['only one'] : [`ok:${inputs[0]}`]),
    });
    void gc.submit('first');
    const both = [gc.submit('a'), gc.submit('b')];
    expect(await Promise.all(both)).toEqual(['ok:a', 'ok:b']);
  });
});
