import { Ack, encodeHlc, Hello, PROTOCOL_VERSION, parseHlc } from '@tillsync/sync-protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Till } from '../src/index.js';
import { CATALOG, provision, removeDir, stockPush, stockRow, tempDir } from './helpers/till-fixture.js';

/*
 * A till whose wall clock is set while it runs, or while it is off: its ops must still carry the
 * hub's time (a sale stamped a day early is absorbed by a manager's count made before it; a count
 * stamped 30 days ahead absorbs every change made after it). Wall and monotonic clocks are fakes.
 */

const DAY = 86_400_000;
const MIN = 60_000;
const T0 = 1_764_000_000_000;

describe('a till whose clock jumps', () => {
  let dir: string;
  /** Real (hub) time, the till's wall clock, and a monotonic clock counting from the till's start. */
  let real: number;
  let wall: number;
  let mono: number;
  let till: Till;

  const open = () => Till.open({ dataDir: dir, now: () => wall, monotonic: () => mono });
  /** Time passes: every clock moves. */
  const run = (ms: number) => {
    real += ms;
    wall += ms;
    mono += ms;
  };
  const sell = () => {
    till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 1 }] });
    return till.replica.pendingBatch(1000).at(-1)!.op;
  };
  const wallOf = (op: { hlc: string }) => parseHlc(op.hlc).wall;
  const hello = () =>
    Hello.parse({
      protocolVersion: PROTOCOL_VERSION,
      serverTime: real,
      serverHlc: encodeHlc({ wall: real, counter: 0, node: 'hub' }),
      deviceId: 'paris-1',
      locationId: 'paris',
      lastAckedSeq: till.cashier.status().lastAckedSeq,
      stockCursor: '1',
    });
  /** What the sync agent does on a hello: the offset is the till's wall minus the hub's time. */
  const connect = () => till.replica.applyHello(hello(), [], wall - real);
  const ackAll = () => {
    const pending = till.replica.pendingBatch(1000);
    till.replica.applyAck(
      Ack.parse({
        lastAckedSeq: pending.at(-1)!.seq,
        results: pending.map((e) => ({ seq: e.seq, opId: e.opId, status: 'applied' })),
        stock: [],
      }),
    );
  };

  beforeEach(() => {
    dir = tempDir('till-clock-');
    real = T0;
    wall = T0;
    mono = 1_000;
    till = provision(open(), {
      catalog: CATALOG,
      at: T0,
      stock: stockPush('0', '1', [stockRow('LIP-RED', { onHand: 100 })]),
    });
    connect();
  });
  afterEach(() => {
    till.close();
    removeDir(dir);
  });

  it.each([
    ['+30 days', 30 * DAY],
    ['−1 day', -DAY],
  ])('set %s while it runs: stamps keep the hub’s time, the jump is reported', (_name, by) => {
    run(MIN);
    const before = sell();
    expect(wallOf(before)).toBe(real);
    wall += by;
    run(5 * MIN);
    const after = sell();
    expect(wallOf(after)).toBe(real);
    expect(after.hlc > before.hlc).toBe(true);
    expect(till.cashier.status().clockJump).toEqual({ at: real, byMs: by });
    // The heartbeat reports this offset; the hub's health rules flag a clock this far off.
    expect(till.replica.clockOffsetMs()).toBe(by);
    // Reconnecting measures the same offset: nothing moves.
    connect();
    run(MIN);
    expect(wallOf(sell())).toBe(real);
  });

  it('set a day back while off: stamps carry on from its last one, and the hub’s time settles it', () => {
    run(MIN);
    const last = sell();
    till.close();
    wall -= DAY;
    mono = 0; // a new process: its monotonic clock starts again
    run(10 * MIN);
    till = open();
    expect(till.cashier.status().clockJump).toMatchObject({ byMs: -(DAY - 10 * MIN) });
    run(5 * MIN);
    // Not a day early: at least 5 minutes after the last stamp before the restart.
    const offline = sell();
    expect(wallOf(offline)).toBe(wallOf(last) + 5 * MIN);
    connect();
    run(MIN);
    expect(wallOf(sell())).toBe(real);
  });

  it('set 30 days ahead while off: once it has seen the hub’s time, its ops stop being stamped ahead', () => {
    run(MIN);
    sell();
    ackAll();
    till.close();
    wall += 30 * DAY;
    mono = 0;
    run(10 * MIN);
    till = open();
    // Offline, nothing can tell a clock set ahead from a till that was off for 30 days.
    const offline = sell();
    expect(wallOf(offline)).toBe(real + 30 * DAY);
    connect();
    run(MIN);
    // The stamp 30 days ahead is still unsent: later ops stay ordered after it (the hub restamps both).
    const queued = sell();
    expect(queued.hlc > offline.hlc).toBe(true);
    ackAll();
    run(MIN);
    const settled = sell();
    expect(wallOf(settled)).toBe(real);
    // And after a restart, too: the stamps ahead are not restored.
    till.close();
    run(MIN);
    till = open();
    expect(wallOf(sell())).toBe(real);
  });
});
