import { DeviceId, LocationId } from '@tillsync/sync-protocol';
import { z } from 'zod';

export const DeviceCreate = z
  .strictObject({
    locationId: LocationId,
    name: z.string().trim().min(1).max(100),
    /** Chosen id (e.g. "paris-till-2"); generated when absent. */
    id: DeviceId.optional(),
  })
  .meta({ id: 'DeviceCreate' });

export const EnrolmentCode = z
  .object({
    deviceId: DeviceId,
    locationId: LocationId,
    enrolmentCode: z.string(),
    enrolmentExpiresAt: z.string(),
  })
  .meta({ id: 'EnrolmentCode' });

export const EnrolRequest = z
  .strictObject({ enrolmentCode: z.string().min(10).max(20) })
  .meta({ id: 'EnrolRequest' });

export const Enrolment = z
  .object({
    deviceId: DeviceId,
    locationId: LocationId,
    name: z.string(),
    token: z.string(),
    /** Highest seq the hub holds for this device id (0 for a new till; more for a replacement). */
    lastAckedSeq: z.number().int(),
  })
  .meta({ id: 'Enrolment' });

export const Device = z
  .object({
    id: DeviceId,
    locationId: LocationId,
    name: z.string(),
    enrolled: z.boolean(),
    revoked: z.boolean(),
    lastAckedSeq: z.number().int(),
    lastSeenAt: z.string().nullable(),
    connected: z.boolean(),
    outboxDepth: z.number().int().nullable(),
    oldestUnsyncedAgeMs: z.number().int().nullable(),
    clockOffsetMs: z.number().int().nullable(),
    appVersion: z.string().nullable(),
    lastHeartbeatAt: z.string().nullable(),
  })
  .meta({ id: 'Device' });

export const DeadLetter = z
  .object({
    id: z.number().int(),
    locationId: LocationId,
    deviceId: DeviceId,
    seq: z.number().int(),
    opId: z.string().nullable(),
    op: z.unknown(),
    code: z.string(),
    reason: z.string(),
    status: z.enum(['open', 'retried', 'dismissed']),
    createdAt: z.string(),
    resolvedAt: z.string().nullable(),
    resolvedBy: z.string().nullable().describe('Who retried or dismissed it ("token:<id>")'),
    resolution: z.string().nullable().describe('Why it was dismissed'),
  })
  .meta({ id: 'DeadLetter' });
export type DeadLetter = z.infer<typeof DeadLetter>;

export const DeadLetterParams = z.strictObject({
  id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER),
});

export const DeadLetterDismiss = z
  .strictObject({ reason: z.string().trim().min(1).max(500) })
  .meta({ id: 'DeadLetterDismiss' });

/** A till found ahead of the hub at its hello (the hub restored from an older backup). */
export const SyncIncident = z
  .object({
    id: z.number().int(),
    locationId: LocationId,
    deviceId: DeviceId,
    /** The device's acked seq at the hub, and at the till, when detected. */
    hubSeq: z.number().int(),
    tillSeq: z.number().int(),
    /** The till re-sends its ops from this seq to tillSeq (same seqs and op ids). */
    resendFrom: z.number().int(),
    /** Of those, applied again so far. */
    opsRecovered: z.number().int(),
    /** Seqs the till no longer held: gone for good (the device was re-based past them). */
    opsLost: z.number().int(),
    lostFrom: z.number().int().nullable(),
    lostTo: z.number().int().nullable(),
    status: z
      .enum(['recovering', 'recovered'])
      .describe('recovered: every op the till still held is back in the ledger'),
    detectedAt: z.string(),
  })
  .meta({ id: 'SyncIncident' });
export type SyncIncident = z.infer<typeof SyncIncident>;
