import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enrolTill } from '@tillsync/pos-client';
import type { EnrollingHub } from './tills.js';

/** What startTillApp needs to run a till that is already enrolled, for tests not driving the real UI. */
export interface EnrolledTillApp {
  /** The till's data directory: its SQLite file, and till.log once the app runs. */
  dataDir: string;
  /** A stand-in for the built cashier UI: a bare index.html, so the test needs no UI build. */
  staticDir: string;
  /** Delete both directories (close the app first). */
  remove(): void;
}

/** Enrol a till at the hub into a fresh data directory, then close it again, as `till enrol` leaves it. */
export async function enrolTillApp(
  hub: EnrollingHub,
  locationId: string,
  id: string,
): Promise<EnrolledTillApp> {
  const dataDir = mkdtempSync(join(tmpdir(), `till-app-${id}-`));
  const staticDir = mkdtempSync(join(tmpdir(), `till-app-ui-${id}-`));
  writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>Till</title>');
  const enrolled = await enrolTill({
    dataDir,
    hubUrl: hub.url,
    enrolmentCode: await hub.enrolmentCode(locationId, id),
  });
  enrolled.close();
  return {
    dataDir,
    staticDir,
    remove() {
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(staticDir, { recursive: true, force: true });
    },
  };
}
