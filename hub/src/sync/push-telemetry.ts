import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Ack } from '@tillsync/sync-protocol';
import type { FastifyInstance } from 'fastify';
import type { PushingDevice } from './push-plan.js';

/**
 * Apply a push batch (`apply`) and account for it: metrics (ops by result, batch size, apply time)
 * and one info log line naming the batch's op ids. An op id is the correlation id that follows an
 * op from the till's log through this line to the ledger (movements.op_id); the batch id ties the
 * line to the batch.
 */
export async function observedPush(
  app: FastifyInstance,
  device: PushingDevice,
  apply: () => Promise<Ack>,
): Promise<Ack> {
  const t0 = performance.now();
  const ack = await apply();
  const ms = performance.now() - t0;
  app.metrics.observePush(ack.results, ms / 1000);
  const seqs = ack.results.map((r) => r.seq);
  const count = (status: Ack['results'][number]['status']) =>
    ack.results.filter((r) => r.status === status).length;
  app.log.info(
    {
      device: device.deviceId,
      location: device.locationId,
      batchId: randomUUID(),
      seqFrom: Math.min(...seqs),
      seqTo: Math.max(...seqs),
      applied: count('applied'),
      duplicate: count('duplicate'),
      rejected: count('rejected'),
      lastAckedSeq: ack.lastAckedSeq,
      opIds: ack.results.map((r) => r.opId),
      ms: Math.round(ms),
    },
    'push batch applied',
  );
  return ack;
}
