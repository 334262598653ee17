import type { Database, Queryable } from './database.js';
import { quoteIdent } from './postgres.js';

/*
 * The hub serves as a role that owns nothing (so it cannot ALTER TABLE … DISABLE TRIGGER or DROP),
 * may not TRUNCATE anything, and may only read and append to the ledger: its append-only trigger is
 * then a guarantee, not a convention. Migrations run as the schema's owner (`tillsync-hub migrate`,
 * or TILLSYNC_MIGRATION_DATABASE_URL); every migration run re-grants the recorded roles (app_roles),
 * and default privileges cover tables the owner creates in between. Postgres only: PGlite is one
 * embedded database with one role.
 */

/** Tables the app may read and append to, never change: the ledger. */
export const APPEND_ONLY_TABLES: readonly string[] = ['movements'];

export class GrantError extends Error {}

/** The statements that give `role` what the hub needs in `schema`, and no more. Idempotent. */
export function grantStatements(schema: string, role: string): string[] {
  const s = quoteIdent(schema);
  const r = quoteIdent(role);
  return [
    `GRANT USAGE ON SCHEMA ${s} TO ${r}`,
    `REVOKE CREATE ON SCHEMA ${s} FROM ${r}`,
    `REVOKE ALL ON ALL TABLES IN SCHEMA ${s} FROM ${r}`,
    `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${s} TO ${r}`,
    `GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${s} TO ${r}`,
    ...APPEND_ONLY_TABLES.map((t) => `REVOKE UPDATE, DELETE, TRUNCATE ON ${s}.${quoteIdent(t)} FROM ${r}`),
    `ALTER DEFAULT PRIVILEGES IN SCHEMA ${s} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${r}`,
    `ALTER DEFAULT PRIVILEGES IN SCHEMA ${s} GRANT USAGE, SELECT ON SEQUENCES TO ${r}`,
  ];
}

/** `db grant --role`: check the role may safely be the hub's, grant, and record it for later migrations. */
export async function grantAppRole(db: Database, role: string): Promise<{ schema: string }> {
  if (db.kind !== 'postgres') {
    throw new GrantError('database roles are Postgres-only: PGlite is one embedded database with one role');
  }
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(role)) {
    throw new GrantError(`--role: ${JSON.stringify(role)} is not a plain lower-case role name`);
  }
  const { rows } = await db.query<{ superuser: boolean; owner: string; member: boolean; owns: number }>(
    `SELECT r.rolsuper AS superuser, current_user AS owner,
            pg_has_role(r.rolname, current_user, 'MEMBER') AS member,
            (SELECT count(*)::int FROM pg_tables WHERE schemaname = current_schema() AND tableowner = r.rolname) AS owns
       FROM pg_roles r WHERE r.rolname = $1`,
    [role],
  );
  const r = rows[0];
  if (!r) throw new GrantError(`role ${role} does not exist: CREATE ROLE ${role} LOGIN PASSWORD '…' first`);
  if (r.superuser)
    throw new GrantError(`role ${role} is a superuser: it could do anything; use a plain role`);
  if (r.member) {
    throw new GrantError(
      `role ${role} is (or is a member of) ${r.owner}, the owner running this: use another role`,
    );
  }
  if (r.owns > 0)
    throw new GrantError(`role ${role} owns ${r.owns} tables here: hand them to ${r.owner} first`);
  return db.transaction(async (tx) => {
    const schema = await applyGrants(tx, role);
    await tx.query(
      'INSERT INTO app_roles (role) VALUES ($1) ON CONFLICT (role) DO UPDATE SET granted_at = now()',
      [role],
    );
    return { schema };
  });
}

/** After migrating: the recorded roles get the same rights on the tables just created. */
export async function regrantAppRoles(tx: Queryable): Promise<void> {
  const { rows } = await tx.query<{ role: string }>(
    'SELECT a.role FROM app_roles a JOIN pg_roles r ON r.rolname = a.role ORDER BY a.role',
  );
  for (const { role } of rows) await applyGrants(tx, role);
}

async function applyGrants(tx: Queryable, role: string): Promise<string> {
  const { rows } = await tx.query<{ schema: string }>('SELECT current_schema() AS schema');
  const schema = rows[0]!.schema;
  for (const sql of grantStatements(schema, role)) await tx.exec(sql);
  return schema;
}
