import { z } from 'zod';

/** Who the caller's token stands for, and what it may write (the HQ dashboard hides what it may not). */
export const WhoAmI = z
  .object({
    role: z.enum(['admin', 'hq', 'store_manager', 'channel', 'device']),
    /** A store manager's or device's location; null for brand-wide roles. */
    locationId: z.string().nullable(),
    /** May settle conflicts and dead letters (admin; a store manager at its own location). */
    canTriage: z.boolean(),
  })
  .meta({ id: 'WhoAmI' });
export type WhoAmI = z.infer<typeof WhoAmI>;
