import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openTillLog } from '../src/app/till-log.js';
import { cipherVault, plainVault, Till, TokenSealedError, type TokenVault } from '../src/index.js';
import { CATALOG, PARIS_TILL, provision, removeDir, tempDir } from './helpers/till-fixture.js';

/*
 * Finding 6: the till's data directory holds its device token and its unsynced sales. Real files:
 * the modes are read back with stat, the token looked for in the bytes on disk.
 */

const mode = (path: string) => statSync(path).mode & 0o777;

describe('the till data directory is private to the till user', () => {
  let dir: string;
  beforeEach(() => {
    dir = join(tempDir('till-files-'), 'data');
  });
  afterEach(() => removeDir(join(dir, '..')));

  const db = () => join(dir, 'till.sqlite');

  it('creates the directory 0700 and the database, its WAL and the log 0600', () => {
    const till = provision(Till.open({ dataDir: dir }), { catalog: CATALOG, at: 1 });
    const log = openTillLog(till, dir);
    try {
      till.cashier.receive([{ ref: 'LIP-RED', qty: 1 }]);
      expect(mode(dir)).toBe(0o700);
      expect(mode(db())).toBe(0o600);
      expect(mode(`${db()}-wal`)).toBe(0o600);
      expect(mode(join(dir, 'till.log'))).toBe(0o600);
      // Exclusive locking keeps the WAL index in memory: there is no -shm to leak.
      expect(existsSync(`${db()}-shm`)).toBe(false);
    } finally {
      log.close();
      till.close();
    }
  });

  it('tightens a directory an older version left 0755 with 0644 files when it opens it', () => {
    provision(Till.open({ dataDir: dir }), { catalog: CATALOG, at: 1 }).close();
    chmodSync(dir, 0o755);
    chmodSync(db(), 0o644);
    for (const f of [`${db()}-wal`, `${db()}-shm`, join(dir, 'till.log')])
      writeFileSync(f, '', { mode: 0o644 });
    for (const f of [`${db()}-wal`, `${db()}-shm`]) expect(mode(f)).toBe(0o644);

    const till = Till.open({ dataDir: dir });
    const log = openTillLog(till, dir);
    try {
      expect(till.replica.enrolment?.deviceId).toBe('paris-1');
      till.cashier.receive([{ ref: 'LIP-RED', qty: 1 }]);
      expect(mode(dir)).toBe(0o700);
      for (const f of [db(), `${db()}-wal`, `${db()}-shm`, join(dir, 'till.log')])
        expect(mode(f)).toBe(0o600);
    } finally {
      log.close();
      till.close();
    }
  });
});

/** A real cipher standing in for Electron's safeStorage (which needs the Electron binary). */
function aesVault(key = randomBytes(32)): TokenVault {
  return cipherVault('test-aes', {
    encrypt(text) {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([c.update(text, 'utf8'), c.final()]);
      return Buffer.concat([iv, c.getAuthTag(), body]);
    },
    decrypt(sealed) {
      const d = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12));
      d.setAuthTag(sealed.subarray(12, 28));
      return Buffer.concat([d.update(sealed.subarray(28)), d.final()]).toString('utf8');
    },
  });
}

describe('the device token in its vault', () => {
  const token = `tok_${randomBytes(16).toString('hex')}`;
  let dir: string;
  beforeEach(() => {
    dir = tempDir('till-vault-');
  });
  afterEach(() => removeDir(dir));

  /** Every byte the till keeps on disk, as text (the database, and its WAL while open). */
  const onDisk = () =>
    ['till.sqlite', 'till.sqlite-wal']
      .filter((f) => existsSync(join(dir, f)))
      .map((f) => readFileSync(join(dir, f)).toString('latin1'))
      .join('');

  it('the plain vault keeps the token readable by the till (files 0600 are its protection)', () => {
    const till = Till.open({ dataDir: dir });
    till.replica.saveEnrolment({ ...PARIS_TILL, token });
    till.close();
    const again = Till.open({ dataDir: dir, vault: plainVault });
    expect(again.replica.enrolment?.token).toBe(token);
    again.close();
  });

  it('a sealing vault stores the token sealed, and opens it again after a restart', () => {
    const vault = aesVault();
    const till = Till.open({ dataDir: dir, vault });
    till.replica.saveEnrolment({ ...PARIS_TILL, token });
    expect(till.replica.enrolment?.token).toBe(token);
    expect(onDisk()).not.toContain(token);
    till.close();
    expect(onDisk()).not.toContain(token);
    const again = Till.open({ dataDir: dir, vault });
    expect(again.replica.enrolment?.token).toBe(token);
    again.close();
  });

  it('seals a token enrolled in plain (from the CLI) at the first open with the sealing vault, leaving no plain copy', () => {
    const plain = Till.open({ dataDir: dir });
    plain.replica.saveEnrolment({ ...PARIS_TILL, token });
    plain.close();
    expect(onDisk()).toContain(token);

    const vault = aesVault();
    const sealed = Till.open({ dataDir: dir, vault });
    expect(sealed.replica.enrolment?.token).toBe(token);
    expect(onDisk()).not.toContain(token);
    sealed.close();
    expect(onDisk()).not.toContain(token);
  });

  it('without the sealing vault the till still opens, sells and reports, but cannot use the token', () => {
    const vault = aesVault();
    provision(Till.open({ dataDir: dir, vault }), { catalog: CATALOG, at: 1 }).close();
    const cli = Till.open({ dataDir: dir });
    try {
      expect(cli.replica.enrolment?.deviceId).toBe('paris-1');
      cli.cashier.receive([{ ref: 'LIP-RED', qty: 2 }]);
      expect(cli.cashier.status()).toMatchObject({ deviceId: 'paris-1', outboxDepth: 1 });
      expect(() => cli.replica.enrolment?.token).toThrow(TokenSealedError);
      expect(() => cli.replica.enrolment?.token).toThrow(/sealed by test-aes/);
    } finally {
      cli.close();
    }
  });
});
