import { TokenSealedError } from './errors.js';

/*
 * Where the till's device token is kept. The database stores it sealed, as
 * `sealed:<vault kind>:<payload>`: the plain vault (CLI, browser mode) relies on the data
 * directory's 0700/0600 modes alone; the Electron app seals it with the OS keychain (safeStorage,
 * pos-client/electron/token-vault.ts), so a copy of the file is not a copy of the till. A token
 * stored before vaults existed (no prefix) reads as plain.
 */

export interface TokenVault {
  /** Names the vault in the stored text, so the right one opens it (and a weaker one is upgraded). */
  readonly kind: string;
  seal(token: string): string;
  open(sealed: string): string;
}

export const plainVault: TokenVault = {
  kind: 'plain',
  seal: (token) => token,
  open: (sealed) => sealed,
};

/** A vault over a byte cipher (Electron's safeStorage.encryptString / decryptString). */
export function cipherVault(
  kind: string,
  cipher: { encrypt(text: string): Buffer; decrypt(sealed: Buffer): string },
): TokenVault {
  return {
    kind,
    seal: (token) => cipher.encrypt(token).toString('base64'),
    open: (sealed) => cipher.decrypt(Buffer.from(sealed, 'base64')),
  };
}

const PREFIX = 'sealed:';

export function sealToken(vault: TokenVault, token: string): string {
  return `${PREFIX}${vault.kind}:${vault.seal(token)}`;
}

/** The vault kind a stored token was sealed with, and its sealed text. */
export function parseSealed(stored: string): { kind: string; payload: string } {
  const end = stored.indexOf(':', PREFIX.length);
  if (!stored.startsWith(PREFIX) || end < 0) return { kind: plainVault.kind, payload: stored };
  return { kind: stored.slice(PREFIX.length, end), payload: stored.slice(end + 1) };
}

/** Opens with `vault`, or the plain vault for a plain token; TokenSealedError for another vault's. */
export function openToken(vault: TokenVault, stored: string): string {
  const { kind, payload } = parseSealed(stored);
  if (kind === vault.kind) return vault.open(payload);
  if (kind === plainVault.kind) return payload;
  throw new TokenSealedError(kind);
}
