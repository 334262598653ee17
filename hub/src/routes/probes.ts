import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { pendingMigrations } from '../db/migrate.js';
import { publicErrors } from '../schemas/common.js';

/*
 * Probes for a supervisor or load balancer, outside /v1 and without a token (they say nothing
 * about the data). /healthz: the process answers (liveness: restart it if not). /readyz: send it
 * traffic (database reachable in time, schema fully migrated, not shutting down), else 503.
 */

/** A database that does not answer within this is "not reachable" for readiness. */
export const READY_DB_TIMEOUT_MS = 2_000;
/** What a 503 from /readyz tells the prober to wait before asking again. */
export const READY_RETRY_AFTER_SECONDS = 5;

const Check = z.object({ ok: z.boolean(), message: z.string().optional() });
const Checks = z.object({
  database: Check.describe('a query answered within 2 s'),
  migrations: Check.describe(
    "every migration this hub ships is applied (a hub that could not migrate isn't ready)",
  ),
  shutdown: Check.describe('the hub is not shutting down'),
});
export const Readiness = z
  .object({ ok: z.boolean(), checks: Checks, failed: z.array(Checks.keyof()).optional() })
  .meta({ id: 'Readiness' });
export type Readiness = z.infer<typeof Readiness>;
type CheckResult = z.infer<typeof Check>;

const Liveness = z.object({ ok: z.literal(true) }).meta({ id: 'Liveness' });

/** The verdict from the three checks (no I/O). */
export function readiness(checks: Readiness['checks']): Readiness {
  const failed = (Object.keys(checks) as (keyof Readiness['checks'])[]).filter((k) => !checks[k].ok);
  return failed.length === 0 ? { ok: true, checks } : { ok: false, checks, failed };
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

async function databaseChecks(
  app: FastifyInstance,
): Promise<Pick<Readiness['checks'], 'database' | 'migrations'>> {
  let pending: string[];
  try {
    await withTimeout(app.db.query('SELECT 1'), READY_DB_TIMEOUT_MS);
    pending = await withTimeout(pendingMigrations(app.db), READY_DB_TIMEOUT_MS);
  } catch (err) {
    const unknown: CheckResult = { ok: false, message: 'not checked: the database is not reachable' };
    return { database: { ok: false, message: (err as Error).message }, migrations: unknown };
  }
  return {
    database: { ok: true },
    migrations:
      pending.length === 0
        ? { ok: true }
        : {
            ok: false,
            message: `${pending.length} pending (first ${pending[0]}): run \`tillsync-hub migrate\``,
          },
  };
}

export default async function probes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  app.get(
    '/healthz',
    {
      schema: {
        operationId: 'getHealth',
        tags: ['operations'],
        summary: 'Liveness probe',
        description:
          'Always 200 while the process runs and answers HTTP (also while it shuts down). A supervisor ' +
          'restarts the hub when this stops answering. Needs no token; checks nothing else: see /readyz.',
        security: [],
        response: { 200: Liveness, ...publicErrors() },
      },
    },
    async () => ({ ok: true as const }),
  );
  app.get(
    '/readyz',
    {
      schema: {
        operationId: 'getReadiness',
        tags: ['operations'],
        summary: 'Readiness probe',
        description:
          'Whether to send this hub traffic: its database answers within 2 s, every migration it ships ' +
          'is applied, and it is not shutting down. 200 when all hold; 503 with `failed` naming the ' +
          'checks that did not, and `Retry-After`. Needs no token.',
        security: [],
        response: {
          ...publicErrors(),
          200: Readiness,
          503: Readiness.describe('a check failed; `Retry-After` says when to ask again'),
        },
      },
    },
    async (_request, reply) => {
      const shutdown: CheckResult = app.lifecycle.shuttingDown
        ? { ok: false, message: 'the hub is shutting down' }
        : { ok: true };
      const verdict = readiness({ ...(await databaseChecks(app)), shutdown });
      if (verdict.ok) return verdict;
      return reply.code(503).header('retry-after', String(READY_RETRY_AFTER_SECONDS)).send(verdict);
    },
  );
}
