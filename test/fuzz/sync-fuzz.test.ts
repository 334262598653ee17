import { batchLines, ErrorCode, HybridClock, LIMITS, newOpId, type Reply } from '@tillsync/sync-protocol';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestHub, type TestHub } from '../../hub/test/helpers/build-hub.js';
import { ledgerMismatches, seedCatalog } from '../../hub/test/helpers/fixtures.js';
import {
  authFor,
  checksum,
  connectRaw,
  enrolDevice,
  push,
  type RawTill,
} from '../../hub/test/helpers/sync-client.js';
import { testDbKind } from '../../hub/test/helpers/test-db.js';
import { INJECTIONS, nastyString, nastyValue, tablesIntact } from './hostile.js';

/*
 * Garbage on every sync event from one till, while another till of another store keeps syncing.
 * One hub for the file (a fresh one per property would spend the time budget on migrations).
 */

type Op = Record<string, unknown>;

/** A till over a raw socket that stamps its own valid ops and tracks the seq the hub acked. */
interface FuzzTill {
  socket: RawTill;
  locationId: string;
  acked: number;
  sale(over?: Op): Op;
}

const ackTimeout = 10_000;

function emitWithReply(socket: RawTill, event: string, payload: unknown): Promise<Reply<unknown>> {
  const s = socket as unknown as {
    timeout(ms: number): { emitWithAck(event: string, payload: unknown): Promise<Reply<unknown>> };
  };
  return s.timeout(ackTimeout).emitWithAck(event, payload);
}

describe(`sync protocol under hostile input on ${testDbKind()}`, () => {
  let hub: TestHub;
  let url: string;
  let fuzzer: FuzzTill;
  let bystander: FuzzTill;
  const sockets: RawTill[] = [];

  async function till(locationId: string): Promise<FuzzTill> {
    const device = await enrolDevice(hub, locationId);
    const { socket } = await connectRaw(url, authFor(device.token));
    sockets.push(socket);
    const clock = new HybridClock(device.id);
    const t: FuzzTill = {
      socket,
      locationId,
      acked: 0,
      sale: (over = {}) => ({
        type: 'sale',
        opId: newOpId(),
        seq: t.acked + 1,
        hlc: clock.tick(),
        locationId,
        receiptId: `r-${newOpId()}`,
        lines: [{ sku: 'LIP-1', qty: 1, unitPriceMinor: 1000 }],
        payments: [{ method: 'card', amountMinor: 1000 }],
        ...over,
      }),
    };
    return t;
  }

  /** Push and return the per-op results, keeping `t.acked` in step with the hub. */
  async function pushOk(t: FuzzTill, ops: unknown[]) {
    const reply = await push(t.socket, ops);
    if (!reply.ok) throw new Error(`push failed: ${JSON.stringify(reply.error)}`);
    t.acked = reply.value.lastAckedSeq;
    return reply.value.results;
  }

  const movementsOf = async (opId: string) =>
    (
      await hub.database.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM movements WHERE op_id::text = $1',
        [opId],
      )
    ).rows[0]!.n;

  /** The other store's till still pushes and gets its sale applied. */
  async function bystanderStillSyncs() {
    const op = bystander.sale();
    expect(await pushOk(bystander, [op])).toEqual([{ seq: op.seq, opId: op.opId, status: 'applied' }]);
    expect((await checksum(bystander.socket)).ok).toBe(true);
  }

  beforeAll(async () => {
    hub = await buildTestHub();
    url = await hub.listen();
    await seedCatalog(hub.database.db, {
      locations: [{ id: 'store-a' }, { id: 'store-b' }],
      products: [{ sku: 'LIP-1' }],
      stock: [
        { locationId: 'store-a', sku: 'LIP-1', onHand: 100_000 },
        { locationId: 'store-b', sku: 'LIP-1', onHand: 100_000 },
      ],
    });
    fuzzer = await till('store-a');
    bystander = await till('store-b');
  });
  afterAll(async () => {
    for (const s of sockets.splice(0)) s.close();
    await hub?.close();
  });

  it('answers garbage on push, pull and checksum with a protocol error code, and stays up', async () => {
    const payload = fc.oneof(
      nastyValue,
      fc.record({ ops: nastyValue }),
      fc.record({ ops: fc.array(nastyValue, { minLength: 1, maxLength: 4 }) }),
      fc.record({ since: nastyValue, limit: nastyValue }),
      fc.constant({ ops: Array.from({ length: 5000 }, () => ({})) }),
      fc.constant({ ops: [] }),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('push', 'pull', 'checksum'), payload, async (event, body) => {
        const reply = await emitWithReply(fuzzer.socket, event, body);
        if (!reply.ok) {
          expect(ErrorCode.options).toContain(reply.error.code);
          expect(reply.error.code).not.toBe('internal');
          expect(reply.error.message.length).toBeGreaterThan(0);
        } else if (event === 'push') {
          fuzzer.acked = (reply.value as { lastAckedSeq: number }).lastAckedSeq;
        }
      }),
      { numRuns: 60 },
    );
    // Unknown events and garbage heartbeats have no answer to wait for: the hub must only survive them.
    const heartbeatErrors: unknown[] = [];
    fuzzer.socket.on('error' as never, (e: unknown) => {
      heartbeatErrors.push(e);
    });
    for (const body of [null, 42, 'x', { outboxDepth: -1 }, { outboxDepth: '1'.repeat(1000) }]) {
      fuzzer.socket.emit('heartbeat', body as never);
      (fuzzer.socket as unknown as { emit(e: string, p: unknown): void }).emit('no-such-event', body);
    }
    await expect.poll(() => heartbeatErrors.length).toBe(5);
    expect(heartbeatErrors[0]).toMatchObject({ code: 'malformed' });
    // The garbage spent this socket's checksum budget (rate_limited above): it refills in seconds.
    await expect.poll(async () => (await checksum(fuzzer.socket)).ok).toBe(true);
    await bystanderStillSyncs();
  });

  it('rejects hostile ops one by one without failing the batch, corrupting seqs or writing half an op', async () => {
    // A valid sale with one field (or one line field) replaced by a hostile value.
    const mutatedOp = fc.oneof(
      fc.record({
        field: fc.constantFrom(
          'type',
          'opId',
          'hlc',
          'locationId',
          'receiptId',
          'lines',
          'payments',
          'extra',
        ),
        value: nastyValue,
      }),
      fc.record({
        field: fc.constantFrom('line.sku', 'line.qty', 'line.unitPriceMinor'),
        value: nastyValue,
      }),
      fc.record({ field: fc.constant('hugeLines'), value: fc.constant(null) }),
      fc.record({ field: fc.constant('valid'), value: fc.constant(null) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(mutatedOp, { minLength: 1, maxLength: 5 }), async (mutations) => {
        const before = fuzzer.acked;
        const ops = mutations.map(({ field, value }, i) => {
          const op = fuzzer.sale({ seq: before + i + 1 });
          if (field === 'valid') return op;
          if (field === 'hugeLines') {
            return {
              ...op,
              lines: Array.from({ length: LIMITS.maxLinesPerOp + 1 }, () => ({
                sku: 'LIP-1',
                qty: 1,
                unitPriceMinor: 1,
              })),
            };
          }
          if (field.startsWith('line.')) {
            return {
              ...op,
              lines: [{ sku: 'LIP-1', qty: 1, unitPriceMinor: 1000, [field.slice(5)]: value }],
            };
          }
          return { ...op, [field]: value };
        });
        if (batchLines(ops) > LIMITS.maxLinesPerBatch) {
          // Too many lines in all: the whole batch is refused before any op is looked at.
          const reply = await push(fuzzer.socket, ops);
          expect(reply).toMatchObject({ ok: false, error: { code: 'batch_too_large' } });
          for (const op of ops) if (typeof op.opId === 'string') expect(await movementsOf(op.opId)).toBe(0);
          return;
        }
        const results = await pushOk(fuzzer, ops);
        expect(results.map((r) => r.seq)).toEqual(ops.map((o) => o.seq));
        expect(fuzzer.acked).toBe(before + ops.length);
        for (const r of results) {
          const sent = ops[r.seq - before - 1]!;
          expect(['applied', 'rejected'], JSON.stringify(r)).toContain(r.status);
          // Applied ops are in the ledger once; rejected ones not at all.
          if (typeof sent.opId === 'string' && /^[0-9a-f-]{36}$/.test(sent.opId)) {
            expect(await movementsOf(sent.opId)).toBe(r.status === 'applied' ? 1 : 0);
          }
        }
      }),
      { numRuns: 40 },
    );
    const after = fuzzer.sale();
    expect(await pushOk(fuzzer, [after])).toEqual([{ seq: after.seq, opId: after.opId, status: 'applied' }]);
    expect(await ledgerMismatches(hub.database.db)).toEqual([]);
    await bystanderStillSyncs();
  });

  it('stores hostile strings of valid ops verbatim, or refuses the op as malformed', async () => {
    const hostile = fc.oneof(fc.constantFrom(...INJECTIONS, 'a\u0000b', '\u0000'), nastyString);
    await fc.assert(
      fc.asyncProperty(hostile, async (text) => {
        const op = fuzzer.sale({
          receiptId: text,
          reservedOverride: { reason: text },
        });
        const [result] = await pushOk(fuzzer, [op]);
        const fits = text.length >= 1 && text.length <= 64;
        if (result!.status === 'applied') {
          expect(fits).toBe(true);
          const { rows } = await hub.database.db.query<{ reference: string }>(
            'SELECT reference FROM movements WHERE op_id = $1',
            [op.opId],
          );
          expect(rows.map((r) => r.reference)).toEqual([text]);
        } else {
          expect(result).toMatchObject({ status: 'rejected', code: 'malformed' });
          expect(await movementsOf(op.opId as string)).toBe(0);
        }
      }),
      { numRuns: 40 },
    );
    expect(await tablesIntact(hub.database.db)).toBe(true);
    await bystanderStillSyncs();
  });

  it('rejects a malformed op carrying an applied op id without failing the batch, and answers its resend the same', async () => {
    const applied = fuzzer.sale();
    expect((await pushOk(fuzzer, [applied]))[0]!.status).toBe('applied');
    const first = fuzzer.acked;
    // The same id on a malformed op in a later batch, and twice in one batch.
    const malformed = { ...fuzzer.sale({ opId: applied.opId }), lines: 'not lines' };
    const fresh = fuzzer.sale({ seq: first + 2 });
    const twice = { ...fuzzer.sale({ seq: first + 3, opId: fresh.opId }), payments: 7 };
    const batch = [malformed, fresh, twice];
    const results = await pushOk(fuzzer, batch);
    expect(results.map((r) => [r.status, 'code' in r ? r.code : null])).toEqual([
      ['rejected', 'malformed'],
      ['applied', null],
      ['rejected', 'malformed'],
    ]);
    expect(fuzzer.acked).toBe(first + 3);
    // A resend (a lost ack) gets the same answers, and nothing is applied twice.
    expect(await pushOk(fuzzer, batch)).toEqual(
      results.map((r) => (r.status === 'applied' ? { ...r, status: 'duplicate' } : r)),
    );
    expect(await movementsOf(applied.opId as string)).toBe(1);
    expect(await movementsOf(fresh.opId as string)).toBe(1);
    // A resend of that seq with another op is still a seq conflict.
    const [conflict] = await pushOk(fuzzer, [{ ...malformed, opId: newOpId() }]);
    expect(conflict).toMatchObject({ status: 'rejected', code: 'seq_conflict' });
  });
});
