import { LocationId } from '@tillsync/sync-protocol';
import { z } from 'zod';
import { configFromEnv } from '../config.js';
import { ApiRole, scopeIsValid } from '../schemas/tokens.js';
import { createApiToken } from '../services/tokens.js';
import { openCliDatabase } from './database.js';
import { type CliIo, type CliOutcome, say, UsageError } from './io.js';

const TokenRequest = z
  .strictObject({
    role: ApiRole,
    location: LocationId.optional(),
    name: z.string().trim().min(1).max(100).optional(),
  })
  .refine((t) => scopeIsValid(t.role, t.location), {
    message: 'a store_manager token needs --location <id>, and only a store_manager token takes one',
    path: ['location'],
  });

/** `token create --role <role> [--location <id>] [--name <n>]`: the way back in when a token is lost. */
export async function createToken(
  io: CliIo,
  options: { role?: string; location?: string; name?: string },
): Promise<CliOutcome> {
  const parsed = TokenRequest.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`--${String(issue?.path[0] ?? 'role')}: ${issue?.message ?? 'invalid'}`);
  }
  const { role, location, name } = parsed.data;
  const db = await openCliDatabase(configFromEnv(io.env));
  try {
    if (location) {
      const { rows } = await db.query('SELECT 1 FROM locations WHERE id = $1', [location]);
      if (rows.length === 0) {
        io.stderr.write(`unknown location ${location}\n`);
        return { exitCode: 1 };
      }
    }
    const tokenName = name ?? `cli ${role}${location ? ` ${location}` : ''}`;
    const { token } = await createApiToken(db, { name: tokenName, role, locationId: location ?? null });
    say(io, `New ${role} token "${tokenName}" (shown once, store it now):`);
    say(io, token);
    return { exitCode: 0 };
  } finally {
    await db.close();
  }
}
