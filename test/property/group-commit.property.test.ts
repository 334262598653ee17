import { encodeHlc } from '@tillsync/sync-protocol';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PushInput, settlePushes } from '../../hub/src/sync/push.js';
import { parsePushedOps } from '../../hub/src/sync/push-plan.js';
import { buildTestHub, type TestHub } from '../../hub/test/helpers/build-hub.js';
import { seedCatalog } from '../../hub/test/helpers/fixtures.js';
import { testDbKind } from '../../hub/test/helpers/test-db.js';

/*
 * Group commit changes nothing a till can see: the same pushes from many tills, settled in
 * random groups (one transaction each), end exactly as when settled one by one in the same
 * order — stock rows, ledger, remembered answers, dead letters, conflicts, per-op answers.
 * Each run plays its pushes twice, in two disjoint copies of the same world (locations, tills,
 * op ids and transfer ids carry the copy's mark), and compares the copies with the marks removed.
 * Change cursors are not compared: one transaction takes one cursor per row it changed.
 */

const SKUS = ['SKU-A', 'SKU-B'] as const;
const DEVICES = [
  ['t1', 'l1'],
  ['t2', 'l1'],
  ['t3', 'l2'],
  ['t4', 'l2'],
] as const;
const NUM_RUNS = 20;

/** Op ids by logical number; the copy's mark is the uuid's first hex digit. */
const opId = (mark: string, n: number) => `${mark}0000000-0000-7000-8000-${String(n).padStart(12, '0')}`;

const sku = fc.constantFrom(...SKUS);
const lines = fc.array(fc.record({ sku, qty: fc.integer({ min: 1, max: 4 }) }), {
  minLength: 1,
  maxLength: 2,
});
/** An op body, without seq/ids; `transfer` bodies name the transfer by a small number. */
const body = fc.oneof(
  lines.map((ls) => ({
    type: 'sale',
    receiptId: 'r',
    lines: ls.map((l) => ({ ...l, unitPriceMinor: 100 })),
  })),
  lines.map((ls) => ({ type: 'receive', lines: ls })),
  lines.map((ls) => ({ type: 'adjust', reason: 'damage', lines: ls })),
  fc
    .uniqueArray(fc.record({ sku, counted: fc.integer({ min: 0, max: 9 }) }), {
      minLength: 1,
      maxLength: 2,
      selector: (l) => l.sku,
    })
    .map((ls) => ({ type: 'count', lines: ls })),
  fc.tuple(lines, fc.integer({ min: 1, max: 3 })).map(([ls, t]) => ({ type: 'transfer_out', t, lines: ls })),
  fc.tuple(lines, fc.integer({ min: 1, max: 3 })).map(([ls, t]) => ({ type: 'transfer_in', t, lines: ls })),
  fc.constant({ type: 'sale', malformed: true }),
  fc.constant({ type: 'sale', unknownSku: true }),
);

/** How an op is sent: next seq, a gap before it, or an earlier op resent; its id may be another's. */
const sending = fc.record({
  device: fc.integer({ min: 0, max: DEVICES.length - 1 }),
  body,
  gap: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
  reuse: fc.integer({ min: 0, max: 7 }).map((n) => n === 0),
  resend: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
});

const scenario = fc.record({
  sends: fc.array(sending, { minLength: 1, maxLength: 40 }),
  batchSizes: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 40, maxLength: 40 }),
  cuts: fc.array(
    fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
    { minLength: 40, maxLength: 40 },
  ),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

/** The pushes a scenario makes, as raw ops with logical ids: [device index, ops]. */
function pushesOf(s: Scenario): Array<[number, Array<Record<string, unknown>>]> {
  const next = DEVICES.map(() => 1);
  const sent: Array<Array<Record<string, unknown>>> = DEVICES.map(() => []);
  const ops: Array<[number, Record<string, unknown>]> = [];
  s.sends.forEach((send, i) => {
    const d = send.device;
    const [, loc] = DEVICES[d]!;
    if (send.resend && sent[d]!.length > 0) {
      ops.push([d, sent[d]![i % sent[d]!.length]!]);
      return;
    }
    if (send.gap) next[d]! += 1;
    const seq = next[d]!;
    next[d]! += 1;
    const n = send.reuse && i > 0 ? i - 1 : i;
    const { t, malformed, unknownSku, ...rest } = send.body as Record<string, unknown>;
    const op: Record<string, unknown> = {
      ...rest,
      opId: n,
      seq,
      hlc: { wall: 1_700_000_000_000 + i, device: d },
      locationId: loc,
    };
    if (malformed) delete op.lines;
    if (unknownSku) op.lines = [{ sku: 'SKU-NONE', qty: 1, unitPriceMinor: 1 }];
    if (rest.type === 'transfer_out')
      Object.assign(op, { transferId: t, toLocationId: loc === 'l1' ? 'l2' : 'l1' });
    if (rest.type === 'transfer_in')
      Object.assign(op, { transferId: t, fromLocationId: loc === 'l1' ? 'l2' : 'l1' });
    sent[d]!.push(op);
    ops.push([d, op]);
  });
  // Consecutive ops of one device go in one batch, up to its planned size.
  const pushes: Array<[number, Array<Record<string, unknown>>]> = [];
  let k = 0;
  for (const [d, op] of ops) {
    const last = pushes[pushes.length - 1];
    if (last && last[0] === d && last[1].length < s.batchSizes[k % s.batchSizes.length]!) last[1].push(op);
    else {
      pushes.push([d, [op]]);
      k += 1;
    }
  }
  return pushes;
}

describe(`group commit of pushes on ${testDbKind()}: random groups settle exactly as one by one`, () => {
  let hub: TestHub;
  let run = 0;
  /** What the runs exercised, so a generator that stopped making real cases fails the test. */
  const seen = { applied: 0, multiMemberGroups: 0, reused: 0 };

  beforeAll(async () => {
    hub = await buildTestHub();
    await seedCatalog(hub.database.db, { locations: [], products: SKUS.map((s) => ({ sku: s })) });
  });
  afterAll(async () => {
    await hub.close();
  });

  it('ends with the same rows, ledger, answers and acks', async () => {
    const db = hub.database.db;
    const ctx = { stock: hub.app.stock, reservations: hub.app.reservationFeed };
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        run += 1;
        const pushes = pushesOf(s);
        /** One copy of the world: its mark on every id. */
        const copy = async (mark: 'a' | 'b') => {
          const m = `${mark}${run}-`;
          for (const loc of ['l1', 'l2']) {
            await db.query("INSERT INTO locations (id, name, kind) VALUES ($1, $1, 'store')", [m + loc]);
          }
          for (const [d, loc] of DEVICES) {
            await db.query(
              'INSERT INTO devices (id, location_id, name, enrolled_at) VALUES ($1, $2, $1, now())',
              [m + d, m + loc],
            );
          }
          const inputs: PushInput[] = pushes.map(([d, ops]) => ({
            device: { deviceId: m + DEVICES[d]![0], locationId: m + DEVICES[d]![1] },
            ops: parsePushedOps(
              ops.map((op) => {
                const hlc = op.hlc as { wall: number; device: number };
                const out: Record<string, unknown> = {
                  ...op,
                  opId: opId(mark === 'a' ? 'a' : 'b', op.opId as number),
                  hlc: encodeHlc({ wall: hlc.wall, counter: 0, node: m + DEVICES[hlc.device]![0] }),
                  locationId: m + (op.locationId as string),
                };
                if ('transferId' in op) out.transferId = `${m}T${op.transferId}`;
                if ('toLocationId' in op) out.toLocationId = m + (op.toLocationId as string);
                if ('fromLocationId' in op) out.fromLocationId = m + (op.fromLocationId as string);
                return out;
              }),
            ),
          }));
          return { m, inputs };
        };
        const one = await copy('a');
        const grouped = await copy('b');

        const answersAlone: Awaited<ReturnType<typeof settlePushes>> = [];
        for (const input of one.inputs) answersAlone.push(...(await settlePushes(ctx, [input])));

        // Groups: consecutive pushes, cut at random and wherever a device would come twice.
        const answersGrouped: Awaited<ReturnType<typeof settlePushes>> = [];
        let group: PushInput[] = [];
        const flush = async () => {
          if (group.length > 1) seen.multiMemberGroups += 1;
          if (group.length > 0) answersGrouped.push(...(await settlePushes(ctx, group)));
          group = [];
        };
        for (const [i, input] of grouped.inputs.entries()) {
          if (group.some((g) => g.device.deviceId === input.device.deviceId) || s.cuts[i % s.cuts.length])
            await flush();
          group.push(input);
        }
        await flush();

        const strip = (x: unknown, m: string, mark: string) =>
          JSON.parse(
            JSON.stringify(x)
              .replaceAll(m, '')
              .replace(new RegExp(`${mark}0000000-0000-7000`, 'g'), 'x0000000-0000-7000'),
          );
        const world = async (m: string, mark: string) => {
          const q = async (sql: string) => strip((await db.query(sql, [`${m}%`])).rows, m, mark);
          return {
            stock: await q(
              `SELECT location_id, sku, on_hand, reserved, incoming, damaged, version, count_hlc FROM stock
               WHERE location_id LIKE $1 ORDER BY location_id, sku`,
            ),
            movements: await q(
              `SELECT location_id, sku, op_id, op_type, reason, outcome, d_on_hand, d_reserved, d_incoming,
                 d_damaged, absorbed_on_hand, counted, on_hand_after, version_after, oversell, hlc, device_id,
                 actor, reference
               FROM movements WHERE location_id LIKE $1 ORDER BY location_id, id`,
            ),
            answers: await q(
              `SELECT device_id, seq, op_id, status, code, reason, sent_op_id FROM applied_ops
               WHERE device_id LIKE $1 ORDER BY device_id, seq`,
            ),
            acks: await q('SELECT id, last_acked_seq FROM devices WHERE id LIKE $1 ORDER BY id'),
            deadLetters: await q(
              `SELECT device_id, seq, op_id, op, code, reason FROM dead_letters
               WHERE device_id LIKE $1 ORDER BY device_id, seq`,
            ),
            conflicts: await q(
              `SELECT location_id, kind, sku, op_id, details FROM conflicts
               WHERE location_id LIKE $1 ORDER BY location_id, kind, op_id, id`,
            ),
            transfers: await q(
              'SELECT id, from_location_id, to_location_id, status FROM transfers WHERE id LIKE $1 ORDER BY id',
            ),
          };
        };
        const results = (acks: Array<{ lastAckedSeq: number; results: unknown[] }>) =>
          acks.map((a) => ({ lastAckedSeq: a.lastAckedSeq, results: a.results }));
        expect(strip(results(answersGrouped), grouped.m, 'b')).toEqual(
          strip(results(answersAlone), one.m, 'a'),
        );
        expect(await world(grouped.m, 'b')).toEqual(await world(one.m, 'a'));
        for (const a of answersAlone) {
          for (const r of a.results) {
            if (r.status === 'applied') seen.applied += 1;
            if (r.status === 'rejected' && r.code === 'op_id_reused') seen.reused += 1;
          }
        }
      }),
      { numRuns: NUM_RUNS },
    );
    expect(seen.applied).toBeGreaterThan(0);
    expect(seen.multiMemberGroups).toBeGreaterThan(NUM_RUNS);
    expect(seen.reused).toBeGreaterThan(0);
  });
});
