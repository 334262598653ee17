/*
 * A reader of SQLite's file format (https://www.sqlite.org/fileformat2.html) for salvage: it reads
 * the records of every table b-tree leaf page it can parse, page by page, without following the
 * b-tree from its root, so a damaged header, interior page or neighbouring leaf costs only the
 * rows on the damaged pages themselves. Pure: bytes in, records out.
 *
 * The pages are the database file's, each replaced by its newest copy in the WAL's committed
 * frames (a till killed before a checkpoint has its last sales only there). Pages on the freelist
 * (when the header is readable) are skipped: they hold rows already deleted.
 */

export type SqlValue = null | number | string | Buffer;

export interface LeafRecord {
  page: number;
  rowid: number;
  values: SqlValue[];
}

export interface PageScan {
  pageSize: number;
  /** Where the page size came from: the header, the WAL header, or a guess from the pages. */
  pageSizeFrom: 'header' | 'wal' | 'guess';
  pageCount: number;
  wal: { frames: number; committedFrames: number } | null;
  records: LeafRecord[];
  /** Pages (or cells) that looked like table leaves but could not be read, with why. */
  unreadable: Array<{ page: number; reason: string }>;
  /** Pages that are not b-tree pages, overflow pages or free pages: damaged, or unknown. */
  unknownPages: number[];
}

const HEADER_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');
const WAL_MAGIC_LE = 0x377f0682;
const WAL_MAGIC_BE = 0x377f0683;
const TABLE_LEAF = 13;
const BTREE_TYPES = new Set([2, 5, 10, TABLE_LEAF]);

export function scanPages(dbFile: Buffer, walFile?: Buffer): PageScan {
  const fromHeader = headerPageSize(dbFile);
  const wal = walFile && walFile.length >= 32 ? walFile : undefined;
  const fromWal = wal ? validPageSize(wal.readUInt32BE(8)) : undefined;
  const pageSize = fromHeader ?? fromWal ?? guessPageSize(dbFile);
  const pageSizeFrom = fromHeader ? 'header' : fromWal ? 'wal' : 'guess';
  const reserved = fromHeader ? dbFile[20]! : 0;
  const usable = pageSize - reserved;

  const pages = new Map<number, Buffer>();
  const fileCount = Math.floor(dbFile.length / pageSize);
  for (let p = 1; p <= fileCount; p++) pages.set(p, dbFile.subarray((p - 1) * pageSize, p * pageSize));
  const walInfo = wal && fromWal === pageSize ? overlayWal(wal, pageSize, pages) : null;
  const pageCount = Math.max(0, ...pages.keys());

  const free = fromHeader ? freelistPages(dbFile, pages, usable) : new Set<number>();
  const overflow = new Set<number>();
  const records: LeafRecord[] = [];
  const unreadable: PageScan['unreadable'] = [];
  const btree = new Set<number>();
  for (const [p, page] of [...pages].sort((a, b) => a[0] - b[0])) {
    if (free.has(p)) continue;
    const hdr = p === 1 ? 100 : 0;
    const type = page[hdr]!;
    if (!BTREE_TYPES.has(type) || !plausibleBtree(page, hdr, usable)) continue;
    btree.add(p);
    if (type !== TABLE_LEAF) continue;
    const cells = page.readUInt16BE(hdr + 3);
    for (let i = 0; i < cells; i++) {
      try {
        const at = page.readUInt16BE(hdr + 8 + 2 * i);
        records.push({ page: p, ...readCell(page, at, usable, pages, overflow) });
      } catch (err) {
        unreadable.push({ page: p, reason: `cell ${i}: ${(err as Error).message}` });
      }
    }
  }
  const unknownPages = [...pages.keys()]
    .filter((p) => !btree.has(p) && !overflow.has(p) && !free.has(p))
    .sort((a, b) => a - b);
  return { pageSize, pageSizeFrom, pageCount, wal: walInfo, records, unreadable, unknownPages };
}

function validPageSize(n: number): number | undefined {
  const size = n === 1 ? 65_536 : n;
  return size >= 512 && size <= 65_536 && (size & (size - 1)) === 0 ? size : undefined;
}

function headerPageSize(db: Buffer): number | undefined {
  if (db.length < 100 || !db.subarray(0, 16).equals(HEADER_MAGIC)) return undefined;
  const size = validPageSize(db.readUInt16BE(16));
  // Reserved bytes beyond a fifth of the page would leave no room for cells: a damaged header.
  return size && db[20]! < size / 5 ? size : undefined;
}

/**
 * The header is gone: try every page size and keep the largest one under which (nearly) as many
 * pages read as b-tree pages as under the best one. Too small a size also "finds" pages at the
 * true page starts; too large a size finds only every other one.
 */
function guessPageSize(db: Buffer): number {
  const counts = new Map<number, number>();
  for (let size = 512; size <= 65_536; size *= 2) {
    let n = 0;
    for (let off = 0; off + size <= db.length; off += size) {
      const page = db.subarray(off, off + size);
      const hdr = off === 0 ? 100 : 0;
      if (BTREE_TYPES.has(page[hdr]!) && plausibleBtree(page, hdr, size)) n++;
    }
    counts.set(size, n);
  }
  const best = Math.max(...counts.values());
  if (best === 0) return 4096;
  return Math.max(...[...counts].filter(([, n]) => n >= best * 0.9).map(([size]) => size));
}

/** A b-tree page header whose cell pointers all land inside the page, after the pointer array. */
function plausibleBtree(page: Buffer, hdr: number, usable: number): boolean {
  if (page.length < hdr + 12) return false;
  const leaf = page[hdr] === TABLE_LEAF || page[hdr] === 10;
  const headerSize = leaf ? 8 : 12;
  const cells = page.readUInt16BE(hdr + 3);
  const start = page.readUInt16BE(hdr + 5) || 65_536;
  const arrayEnd = hdr + headerSize + 2 * cells;
  if (arrayEnd > usable || start < arrayEnd || start > usable) return false;
  for (let i = 0; i < cells; i++) {
    const at = page.readUInt16BE(hdr + headerSize + 2 * i);
    if (at < start || at >= usable) return false;
  }
  return true;
}

/**
 * Lays the WAL's committed frames over the file's pages: frames of the current WAL generation
 * (salts equal to the header's) whose cumulative checksums hold, up to the last commit frame.
 */
function overlayWal(
  wal: Buffer,
  pageSize: number,
  pages: Map<number, Buffer>,
): { frames: number; committedFrames: number } {
  const magic = wal.readUInt32BE(0);
  if (magic !== WAL_MAGIC_LE && magic !== WAL_MAGIC_BE) return { frames: 0, committedFrames: 0 };
  const bigEndian = magic === WAL_MAGIC_BE;
  let sum = checksum(wal.subarray(0, 24), [0, 0], bigEndian);
  if (sum[0] !== wal.readUInt32BE(24) || sum[1] !== wal.readUInt32BE(28))
    return { frames: 0, committedFrames: 0 };
  const salt = wal.subarray(16, 24);
  const frameSize = 24 + pageSize;
  const pending: Array<[number, Buffer]> = [];
  let frames = 0;
  let committedFrames = 0;
  for (let off = 32; off + frameSize <= wal.length; off += frameSize) {
    const header = wal.subarray(off, off + 24);
    if (!header.subarray(8, 16).equals(salt)) break;
    const data = wal.subarray(off + 24, off + frameSize);
    sum = checksum(data, checksum(header.subarray(0, 8), sum, bigEndian), bigEndian);
    if (sum[0] !== header.readUInt32BE(16) || sum[1] !== header.readUInt32BE(20)) break;
    frames++;
    pending.push([header.readUInt32BE(0), data]);
    const dbSizeAfterCommit = header.readUInt32BE(4);
    if (dbSizeAfterCommit > 0) {
      for (const [p, d] of pending) pages.set(p, d);
      for (const p of [...pages.keys()]) if (p > dbSizeAfterCommit) pages.delete(p);
      committedFrames = frames;
      pending.length = 0;
    }
  }
  return { frames, committedFrames };
}

/** SQLite's WAL checksum: Fibonacci-weighted sums of 32-bit words, carried from frame to frame. */
function checksum(data: Buffer, [a, b]: [number, number], bigEndian: boolean): [number, number] {
  let s0 = a;
  let s1 = b;
  for (let i = 0; i + 8 <= data.length; i += 8) {
    const x0 = bigEndian ? data.readUInt32BE(i) : data.readUInt32LE(i);
    const x1 = bigEndian ? data.readUInt32BE(i + 4) : data.readUInt32LE(i + 4);
    s0 = (s0 + x0 + s1) >>> 0;
    s1 = (s1 + x1 + s0) >>> 0;
  }
  return [s0, s1];
}

/** Trunk and leaf pages of the freelist, as far as it can be followed. */
function freelistPages(db: Buffer, pages: Map<number, Buffer>, usable: number): Set<number> {
  const free = new Set<number>();
  // The WAL may hold a newer page 1, and so a newer freelist head.
  const first = pages.get(1) ?? db;
  let trunk = first.readUInt32BE(32);
  while (trunk > 0 && !free.has(trunk)) {
    const page = pages.get(trunk);
    if (!page) break;
    free.add(trunk);
    const leaves = page.readUInt32BE(4);
    if (leaves > (usable - 8) / 4) break;
    for (let i = 0; i < leaves; i++) free.add(page.readUInt32BE(8 + 4 * i));
    trunk = page.readUInt32BE(0);
  }
  return free;
}

function varint(buf: Buffer, at: number): [value: number, next: number] {
  let v = 0;
  for (let i = 0; i < 9; i++) {
    const byte = buf[at + i];
    if (byte === undefined) throw new Error('varint past the end of the page');
    if (i === 8) return [v * 256 + byte, at + 9];
    v = v * 128 + (byte & 0x7f);
    if (byte < 0x80) return [v, at + i + 1];
  }
  throw new Error('unreachable');
}

/** One table-leaf cell: its rowid and record, the payload continued on overflow pages if needed. */
function readCell(
  page: Buffer,
  at: number,
  usable: number,
  pages: Map<number, Buffer>,
  overflow: Set<number>,
): { rowid: number; values: SqlValue[] } {
  const [size, afterSize] = varint(page, at);
  const [rowid, start] = varint(page, afterSize);
  const maxLocal = usable - 35;
  const minLocal = Math.floor(((usable - 12) * 32) / 255) - 23;
  let local = size;
  if (size > maxLocal) {
    const k = minLocal + ((size - minLocal) % (usable - 4));
    local = k <= maxLocal ? k : minLocal;
  }
  if (start + local > usable) throw new Error('payload past the end of the page');
  const parts = [page.subarray(start, start + local)];
  let have = local;
  let next = size > local ? page.readUInt32BE(start + local) : 0;
  const seen = new Set<number>();
  while (have < size) {
    const o = next > 0 && !seen.has(next) ? pages.get(next) : undefined;
    if (!o) throw new Error(`overflow page ${next} missing`);
    seen.add(next);
    const take = Math.min(usable - 4, size - have);
    parts.push(o.subarray(4, 4 + take));
    have += take;
    next = o.readUInt32BE(0);
  }
  for (const p of seen) overflow.add(p);
  return { rowid, values: readRecord(Buffer.concat(parts)) };
}

function readRecord(rec: Buffer): SqlValue[] {
  const [headerSize, first] = varint(rec, 0);
  if (headerSize > rec.length) throw new Error('record header past its end');
  const types: number[] = [];
  for (let at = first; at < headerSize; ) {
    const [t, next] = varint(rec, at);
    types.push(t);
    at = next;
  }
  const values: SqlValue[] = [];
  let at = headerSize;
  for (const t of types) {
    const [value, len] = readValue(rec, at, t);
    values.push(value);
    at += len;
  }
  if (at !== rec.length) throw new Error('record length does not match its header');
  return values;
}

const INT_BYTES = [0, 1, 2, 3, 4, 6, 8];

function readValue(rec: Buffer, at: number, type: number): [SqlValue, number] {
  if (type === 0) return [null, 0];
  if (type >= 1 && type <= 6) {
    const n = INT_BYTES[type]!;
    if (at + n > rec.length) throw new Error('integer past the record');
    return [n === 8 ? Number(rec.readBigInt64BE(at)) : rec.readIntBE(at, n), n];
  }
  if (type === 7) return [rec.readDoubleBE(at), 8];
  if (type === 8 || type === 9) return [type - 8, 0];
  if (type < 12) throw new Error(`reserved serial type ${type}`);
  const len = Math.floor((type - 12) / 2);
  if (at + len > rec.length) throw new Error('value past the record');
  const bytes = rec.subarray(at, at + len);
  return [type % 2 === 1 ? bytes.toString('utf8') : Buffer.from(bytes), len];
}
