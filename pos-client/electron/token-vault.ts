import { safeStorage } from 'electron';
import { cipherVault, plainVault, type TokenVault } from '../src/engine/token-vault.js';

/*
 * The Electron till keeps its device token sealed by the OS keychain (Keychain, DPAPI, libsecret /
 * kwallet) through safeStorage, so a copy of till.sqlite does not carry a usable token. Call after
 * app 'ready'. Where no keychain is available (Linux without a secret service falls back to
 * 'basic_text', a key built into Chromium) sealing would only obfuscate: the plain vault is used,
 * leaving the 0700/0600 file modes as the protection, and the reason is returned for the log.
 *
 * Type-checked by `pnpm typecheck` (pos-client/electron/tsconfig.json); the Electron binary does
 * not run in this repository's CI, so the engine side (cipherVault, sealing, upgrade of a plain
 * token) is tested in Node with a real AES cipher (pos-client/test/till-files.test.ts).
 */
export function electronTokenVault(): { vault: TokenVault; warning: string | null } {
  if (!safeStorage.isEncryptionAvailable())
    return {
      vault: plainVault,
      warning: 'safeStorage unavailable: device token kept in plain (file modes only)',
    };
  if (process.platform === 'linux' && safeStorage.getSelectedStorageBackend() === 'basic_text')
    return {
      vault: plainVault,
      warning: 'no OS keychain (basic_text): device token kept in plain (file modes only)',
    };
  return {
    vault: cipherVault('electron-safe-storage', {
      encrypt: (text) => safeStorage.encryptString(text),
      decrypt: (sealed) => safeStorage.decryptString(sealed),
    }),
    warning: null,
  };
}
