import { closeSync, copyFileSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runTillCli } from '../src/cli/main.js';
import { salvageOutbox } from '../src/engine/salvage.js';
import { type OutboxEntry, Till, TillDamagedError } from '../src/index.js';
import { CATALOG, provision, removeDir, stockPush, stockRow, tempDir } from './helpers/till-fixture.js';

/*
 * Finding 8: a till database damaged on disk. Real SQLite files, damaged with fs.writeSync at page
 * offsets computed from the file's page_size; which pages hold which rows comes from SQLite's own
 * dbstat table, read before the damage.
 */

interface PageInfo {
  name: string;
  pageno: number;
  pagetype: string;
  ncell: number;
  /** Where the page sits in its b-tree: sorting leaves by path puts them in key (seq) order. */
  path: string;
}

/** Deterministic garbage (a seeded xorshift), so a failure replays byte for byte. */
function garbage(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function damage(file: string, offset: number, length: number, seed: number): void {
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, garbage(length, seed), 0, length, offset);
  } finally {
    closeSync(fd);
  }
}

describe('a till database damaged on disk', () => {
  let dir: string;
  let pageSize: number;
  let pageCount: number;
  let pages: PageInfo[];
  /** The outbox as the till held it before the damage. */
  let outbox: OutboxEntry[];
  const file = () => join(dir, 'till.sqlite');

  beforeEach(() => {
    dir = tempDir('till-damage-');
    // NORMAL: the same files, faster on a loaded machine (durability is not what is tested here).
    const till = provision(Till.open({ dataDir: dir, synchronous: 'NORMAL' }), {
      catalog: CATALOG,
      at: 1,
      stock: stockPush('0', '2', [
        stockRow('LIP-RED', { onHand: 1000 }),
        stockRow('MASCARA', { onHand: 1000 }),
      ]),
    });
    // 80 sales synced (their rows deleted: freed pages keep them), then 240 waiting.
    for (let i = 0; i < 80; i++) till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 1 }] });
    till.replica.applyAck({ lastAckedSeq: 80, results: [], stock: [] });
    for (let i = 0; i < 240; i++)
      till.cashier.sell({ lines: [{ ref: i % 2 ? 'LIP-RED' : 'MASCARA', qty: 1 + (i % 3) }] });
    outbox = till.replica.pendingBatch(1_000);
    pageSize = till.db.pragma('page_size', { simple: true }) as number;
    pageCount = till.db.pragma('page_count', { simple: true }) as number;
    pages = till.db
      .prepare('SELECT name, pageno, pagetype, ncell, path FROM dbstat ORDER BY pageno')
      .all() as PageInfo[];
    till.close(); // checkpointed: every page is in till.sqlite now
    expect(existsSync(`${file()}-wal`)).toBe(false);
  });
  afterEach(() => removeDir(dir));

  /** The outbox's leaf pages in seq order. */
  const outboxLeaves = () =>
    pages
      .filter((p) => p.name === 'outbox' && p.pagetype === 'leaf')
      .sort((a, b) => (a.path < b.path ? -1 : 1));
  const seqs = (ops: Array<{ seq: number }>) => ops.map((o) => o.seq);
  /** The seqs a leaf holds, by dbstat's cell counts of the leaves before it. */
  function seqsOn(leaf: PageInfo): number[] {
    const leaves = outboxLeaves();
    const before = leaves.slice(0, leaves.indexOf(leaf)).reduce((n, p) => n + p.ncell, 0);
    return seqs(outbox.slice(before, before + leaf.ncell));
  }

  /** Opening refuses with TillDamagedError; returns it. */
  function refusedOpen(): TillDamagedError {
    let error: unknown;
    try {
      Till.open({ dataDir: dir }).close();
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(TillDamagedError);
    const damaged = error as TillDamagedError;
    expect(damaged.code).toBe('till_damaged');
    expect(damaged.message).toMatch(/will not sell on it.*till recover --data <new dir> --from/s);
    return damaged;
  }

  it('sanity: 240 ops wait in the outbox, over more than ten leaf pages, after 80 acknowledged', () => {
    expect(seqs(outbox)).toEqual(Array.from({ length: 240 }, (_, i) => 81 + i));
    expect(outboxLeaves().length).toBeGreaterThan(10);
    expect(outboxLeaves().reduce((n, p) => n + p.ncell, 0)).toBe(240);
    expect(pageSize).toBe(4096);
  });

  it('a damaged header: the till refuses to open; salvage guesses the page size and reads every op', () => {
    damage(file(), 0, 100, 1);
    refusedOpen();
    const s = salvageOutbox(dir);
    expect(s.scan).toMatchObject({ pageSize, pageSizeFrom: 'guess' });
    expect(seqs(s.ops)).toEqual(seqs(outbox));
    expect(s.ops).toEqual(outbox.map((e) => e.op));
    expect(s).toMatchObject({ deviceId: 'paris-1', locationId: 'paris', lastAckedSeq: 80, nextSeq: 321 });
    expect(s.missingSeqs).toEqual([]);
  });

  it('a damaged middle page: quick_check finds it at open; salvage reads every op but that page’s and names the lost seqs', () => {
    const leaves = outboxLeaves();
    const victim = leaves[Math.floor(leaves.length / 2)]!;
    damage(file(), (victim.pageno - 1) * pageSize, pageSize, 2);
    const err = refusedOpen();
    expect(err.problems.length).toBeGreaterThan(0);

    const s = salvageOutbox(dir);
    const lost = seqs(outbox).filter((seq) => !seqs(s.ops).includes(seq));
    // Exactly the page's rows are lost, and the report names them.
    expect(lost).toEqual(seqsOn(victim));
    expect(lost.length).toBeGreaterThan(5);
    expect(s.missingSeqs).toEqual(lost);
    expect(s.scan.unknownPages).toContain(victim.pageno);
    // Every op read is exactly the op the till had written.
    const written = new Map(outbox.map((e) => [e.seq, e.op]));
    for (const op of s.ops) expect(op).toEqual(written.get(op.seq));
  });

  it('a damaged last page: the till refuses to open; salvage loses only the rows that page held', () => {
    const last = pages.find((p) => p.pageno === pageCount)!;
    damage(file(), (pageCount - 1) * pageSize, pageSize, 3);
    refusedOpen();
    const s = salvageOutbox(dir);
    // (With this fixture the last page is a receipts leaf: receipts travel inside their sale ops.)
    const lost = last.name === 'outbox' && last.pagetype === 'leaf' ? seqsOn(last) : [];
    expect(s.missingSeqs).toEqual(lost);
    expect(seqs(s.ops)).toEqual(seqs(outbox).filter((seq) => !lost.includes(seq)));
  });

  it('a till killed before a checkpoint: ops only in the WAL are salvaged, the header coming from the WAL', () => {
    const till = Till.open({ dataDir: dir });
    for (let i = 0; i < 30; i++) till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 1 }] });
    const all = till.replica.pendingBatch(1_000);
    // The crash image: the files as they are while the till runs (no checkpoint since the sales).
    const crashed = tempDir('till-crashed-');
    try {
      for (const f of ['till.sqlite', 'till.sqlite-wal']) copyFileSync(join(dir, f), join(crashed, f));
      till.close();
      damage(join(crashed, 'till.sqlite'), 0, 100, 4);
      const s = salvageOutbox(crashed);
      expect(s.scan).toMatchObject({ pageSizeFrom: 'wal', unreadable: [] });
      expect(s.scan.wal?.committedFrames).toBeGreaterThan(0);
      expect(s.ops).toEqual(all.map((e) => e.op));
      expect(s.missingSeqs).toEqual([]);
    } finally {
      removeDir(crashed);
    }
  });

  describe('the operator’s path', () => {
    let newDir: string;
    let lines: string[];
    let victim: PageInfo;
    const cli = (args: string[]) =>
      runTillCli(['--data', newDir, ...args], { out: (l) => lines.push(l), err: (l) => lines.push(l) }, {});

    beforeEach(() => {
      newDir = tempDir('till-salvage-into-');
      lines = [];
      const leaves = outboxLeaves();
      victim = leaves[3]!;
      damage(file(), (victim.pageno - 1) * pageSize, pageSize, 5);
    });
    afterEach(() => removeDir(newDir));

    it('`till status` on the damaged till raises the alert (stderr, exit 2, a fatal line in till.log)', async () => {
      const code = await runTillCli(
        ['--data', dir, 'status'],
        { out: (l) => lines.push(l), err: (l) => lines.push(l) },
        {},
      );
      expect(code).toBe(2);
      expect(lines.join('\n')).toMatch(/damaged .*will not sell on it/s);
      const log = readFileSync(join(dir, 'till.log'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(log.at(-1)).toMatchObject({
        level: 60,
        code: 'till_damaged',
        msg: 'till database damaged: refusing to sell',
      });
    });

    it('`till recover --from` salvages the damaged outbox into the new till, says what it lost, and cannot run twice', async () => {
      provision(Till.open({ dataDir: newDir }), { catalog: CATALOG, at: 1 }).close();
      expect(await cli(['recover', '--from', dir])).toBe(0);
      const lostSeqs = seqsOn(victim);
      expect(lines.join('\n')).toContain(`salvaged ${240 - lostSeqs.length} unsynced op(s) from ${dir}`);
      expect(lines.join('\n')).toContain(`LOST: unsynced op(s) with seq ${lostSeqs[0]}-${lostSeqs.at(-1)}`);

      const till = Till.open({ dataDir: newDir });
      try {
        const taken = till.replica.pendingBatch(1_000);
        const kept = outbox.filter((e) => !lostSeqs.includes(e.seq));
        // Same ops (ids, clocks, receipts), under the new till's seqs.
        expect(taken.map((e) => e.opId)).toEqual(kept.map((e) => e.opId));
        expect(taken.map((e) => ({ ...e.op, seq: 0 }))).toEqual(kept.map((e) => ({ ...e.op, seq: 0 })));
        expect(seqs(taken)).toEqual(Array.from({ length: kept.length }, (_, i) => 1 + i));
      } finally {
        till.close();
      }
      expect(existsSync(join(dir, 'till.sqlite'))).toBe(false);
      expect(existsSync(join(dir, 'till.sqlite.salvaged'))).toBe(true);

      lines = [];
      expect(await cli(['recover', '--from', dir])).toBe(2);
      expect(lines.join('\n')).toMatch(/already salvaged/);
    });

    it("refuses to salvage another till's damaged disk", async () => {
      const other = Till.open({ dataDir: newDir });
      other.replica.saveEnrolment({
        deviceId: 'paris-2',
        locationId: 'paris',
        name: 'Paris till 2',
        token: 't2',
        hubUrl: 'http://127.0.0.1:1',
      });
      other.close();
      expect(await cli(['recover', '--from', dir])).toBe(2);
      expect(lines.join('\n')).toMatch(/belongs to till paris-1 at paris; this till is paris-2 at paris/);
      expect(existsSync(join(dir, 'till.sqlite'))).toBe(true);
    });
  });
});
