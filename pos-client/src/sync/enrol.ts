import { Till, type TillOptions } from '../engine/till.js';
import { enrolWithHub, fetchCatalog } from './hub-api.js';

/**
 * First start of a till: exchange the one-time code for a device token, store it, and fetch the
 * catalogue so the till can sell before its first sync completes.
 */
export async function enrolTill(
  options: TillOptions & { hubUrl: string; enrolmentCode: string },
): Promise<Till> {
  const hubUrl = options.hubUrl.replace(/\/+$/, '');
  const till = Till.open(options);
  try {
    const { lastAckedSeq, ...enrolment } = await enrolWithHub(hubUrl, options.enrolmentCode);
    till.replica.saveEnrolment({ ...enrolment, hubUrl }, lastAckedSeq);
    till.replica.saveCatalog(await fetchCatalog(hubUrl, enrolment.token), Date.now());
    return till;
  } catch (err) {
    till.close();
    throw err;
  }
}
