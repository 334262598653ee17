import { LocationId } from '@tillsync/sync-protocol';
import { z } from 'zod';
import { PageQuery } from './common.js';

/*
 * REST API tokens (not device tokens: a till's token comes from enrolment and is revoked with the
 * device). The secret is in the create and rotate answers only; no answer ever carries its hash.
 */

export const ApiRole = z.enum(['admin', 'hq', 'store_manager', 'channel']);

/** Ids are 12 hex characters when minted here; a provisioned admin's id is the operator's choice. */
export const ApiTokenId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a token id (the part after "tsk.")');

/** The one rule for a token's scope: a store manager's token names its location, no other token does. */
export function scopeIsValid(role: z.infer<typeof ApiRole>, locationId: string | null | undefined): boolean {
  return (role === 'store_manager') === (locationId !== undefined && locationId !== null);
}

/** Longest lifetime a token may be given (ten years: "no expiry" is said by leaving it out). */
export const MAX_EXPIRY_DAYS = 3650;

export const ApiTokenCreate = z
  .strictObject({
    name: z.string().trim().min(1).max(100).describe('What the token is for, shown in the list'),
    role: ApiRole,
    locationId: LocationId.optional().describe('Required for store_manager, refused for the other roles'),
    expiresAt: z.iso
      .datetime({ offset: true })
      .optional()
      .describe('When the token stops working; leave out (with expiresInDays) for no expiry'),
    expiresInDays: z.number().int().min(1).max(MAX_EXPIRY_DAYS).optional(),
  })
  .refine((t) => scopeIsValid(t.role, t.locationId), {
    message: 'a store_manager token needs a locationId, and only a store_manager token takes one',
    path: ['locationId'],
  })
  .refine((t) => t.expiresAt === undefined || t.expiresInDays === undefined, {
    message: 'give expiresAt or expiresInDays, not both',
    path: ['expiresInDays'],
  })
  .refine((t) => t.expiresAt === undefined || Date.parse(t.expiresAt) > Date.now(), {
    message: 'must be in the future',
    path: ['expiresAt'],
  })
  .refine(
    (t) => t.expiresAt === undefined || Date.parse(t.expiresAt) <= Date.now() + MAX_EXPIRY_DAYS * 86_400_000,
    { message: `at most ${MAX_EXPIRY_DAYS} days ahead`, path: ['expiresAt'] },
  )
  .meta({ id: 'ApiTokenCreate' });
export type ApiTokenCreate = z.infer<typeof ApiTokenCreate>;

export const ApiTokenStatus = z.enum(['active', 'expired', 'revoked']);
export type ApiTokenStatus = z.infer<typeof ApiTokenStatus>;

export const ApiToken = z
  .object({
    id: ApiTokenId,
    name: z.string(),
    role: ApiRole,
    locationId: z.string().nullable(),
    status: ApiTokenStatus.describe("By the hub's clock: revoked wins over expired"),
    createdAt: z.string(),
    lastUsedAt: z
      .string()
      .nullable()
      .describe(
        'Last accepted use; written at most once a minute per token, so up to a minute behind (null: never used)',
      ),
    expiresAt: z.string().nullable(),
    revokedAt: z.string().nullable(),
    rotatedAt: z.string().nullable().describe('When the secret was last replaced (null: never rotated)'),
    createdBy: z
      .string()
      .nullable()
      .describe('Id of the admin token that created it; null when made by the CLI or at first start'),
  })
  .meta({ id: 'ApiToken' });
export type ApiToken = z.infer<typeof ApiToken>;

export const ApiTokenSecret = ApiToken.extend({
  token: z.string().describe('The bearer token "tsk.<id>.<secret>": shown in this answer only, never again'),
}).meta({ id: 'ApiTokenSecret' });
export type ApiTokenSecret = z.infer<typeof ApiTokenSecret>;

export const ApiTokenListQuery = PageQuery.extend({ status: ApiTokenStatus.optional() });
export type ApiTokenListQuery = z.infer<typeof ApiTokenListQuery>;
