import { enrolTill, Till } from '@tillsync/pos-client';
import type { Queryable } from '../../hub/src/db/database.js';
import { createDevice, findDevice, renewEnrolmentCode } from '../../hub/src/services/devices.js';

/**
 * The demo's tills are enrolled once, on the first start, straight through the hub's device
 * service (the demo owns the hub's database); a later start finds the till enrolled and reuses it.
 */
export async function openEnrolledTill(
  db: Queryable,
  hubUrl: string,
  dataDir: string,
  device: { locationId: string; name: string; id?: string },
): Promise<Till> {
  const till = Till.open({ dataDir });
  const enrolment = till.replica.enrolment;
  if (enrolment) {
    // The hub came back on another address (PORT changed): the same device, pointed at it.
    if (enrolment.hubUrl !== hubUrl) till.replica.saveEnrolment({ ...enrolment, hubUrl });
    return till;
  }
  till.close();
  // A device row without an enrolled till (its folder was deleted): a fresh code for the same device.
  const known = device.id ? await findDevice(db, device.id) : null;
  const enrolmentCode = known
    ? (await renewEnrolmentCode(db, known.id)).code
    : (await createDevice(db, device)).enrolmentCode;
  return enrolTill({ dataDir, hubUrl, enrolmentCode });
}
