import type { ApiToken, ApiTokenSecret } from '../schemas/tokens.js';
import { type CliIo, type CliOutcome, say, UsageError } from './io.js';

/*
 * `token create|list|revoke|rotate` against a running hub, over its REST API (routes/v1/tokens.ts)
 * with an admin token: the hub keeps running, and on PGlite its data directory stays its own. The
 * hub validates; this only carries the arguments there and prints the answer.
 */

interface RemoteOptions {
  /** The hub's base URL; else TILLSYNC_URL. */
  url?: string | undefined;
  /** An admin token; else TILLSYNC_TOKEN. */
  token?: string | undefined;
  role?: string | undefined;
  location?: string | undefined;
  name?: string | undefined;
  expiresInDays?: string | undefined;
  expiresAt?: string | undefined;
}

/** revoke and rotate name a token: its id (the part after "tsk."), required by commander. */
export type RemoteTokenArgs = RemoteOptions &
  ({ action: 'create' | 'list' } | { action: 'revoke' | 'rotate'; id: string });

/** The hub the remote commands talk to, when one is given (flag or environment). */
export function remoteUrl(io: CliIo, url: string | undefined): string | undefined {
  return url ?? (io.env.TILLSYNC_URL || undefined);
}

const PAGE = 500;

export async function remoteToken(io: CliIo, args: RemoteTokenArgs): Promise<CliOutcome> {
  const url = remoteUrl(io, args.url);
  if (!url) throw new UsageError(`token ${args.action} needs the hub's address: --url <url> or TILLSYNC_URL`);
  const bearer = args.token ?? (io.env.TILLSYNC_TOKEN || undefined);
  if (!bearer)
    throw new UsageError(`token ${args.action} needs an admin token: --token <token> or TILLSYNC_TOKEN`);
  let base: URL;
  try {
    base = new URL(url.endsWith('/') ? url : `${url}/`);
  } catch {
    throw new UsageError(`--url: not a URL: ${url}`);
  }
  const call = (method: 'GET' | 'POST', path: string, body?: unknown) =>
    request(new URL(path, base), method, bearer, body);

  switch (args.action) {
    case 'create': {
      if (!args.role) throw new UsageError('token create needs --role <admin|hq|store_manager|channel>');
      const name = args.name ?? `cli ${args.role}${args.location ? ` ${args.location}` : ''}`;
      const created = await call('POST', 'v1/tokens', {
        name,
        role: args.role,
        ...(args.location !== undefined ? { locationId: args.location } : {}),
        ...(args.expiresInDays !== undefined ? { expiresInDays: wholeDays(args.expiresInDays) } : {}),
        ...(args.expiresAt !== undefined ? { expiresAt: args.expiresAt } : {}),
      });
      if (!created.ok) return failed(io, created);
      const t = created.body as ApiTokenSecret;
      say(io, `New ${t.role} token "${t.name}" (id ${t.id}${expiry(t)}; shown once, store it now):`);
      say(io, t.token);
      return { exitCode: 0 };
    }
    case 'list': {
      const items: ApiToken[] = [];
      let cursor: string | null = null;
      do {
        const q = new URLSearchParams({ limit: String(PAGE), ...(cursor ? { cursor } : {}) });
        const page = await call('GET', `v1/tokens?${q}`);
        if (!page.ok) return failed(io, page);
        const body = page.body as { items: ApiToken[]; nextCursor: string | null };
        items.push(...body.items);
        cursor = body.nextCursor;
      } while (cursor);
      printTable(io, items);
      return { exitCode: 0 };
    }
    case 'revoke':
    case 'rotate': {
      const answer = await call('POST', `v1/tokens/${encodeURIComponent(args.id)}/${args.action}`);
      if (!answer.ok) return failed(io, answer);
      if (args.action === 'revoke') {
        const t = answer.body as ApiToken;
        say(io, `Revoked token ${t.id} "${t.name}" (${t.role}) at ${t.revokedAt}.`);
      } else {
        const t = answer.body as ApiTokenSecret;
        say(io, `New secret for token ${t.id} "${t.name}" (the old one no longer works; shown once):`);
        say(io, t.token);
      }
      return { exitCode: 0 };
    }
  }
}

function wholeDays(text: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`--expires-in-days: a whole number of days, not ${text}`);
  return Number(text);
}

const expiry = (t: ApiToken) => (t.expiresAt ? `, expires ${t.expiresAt}` : ', no expiry');

interface Answer {
  ok: boolean;
  status: number;
  body: unknown;
}

async function request(url: URL, method: string, bearer: string, body?: unknown): Promise<Answer> {
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: {
        authorization: `Bearer ${bearer}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
    return {
      ok: false,
      status: 0,
      body: { code: 'unreachable', message: `cannot reach the hub at ${url.origin}: ${cause}` },
    };
  }
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON (a proxy's page): reported as it is.
  }
  return { ok: res.ok, status: res.status, body: parsed };
}

/** The hub's error shape, one line: what failed and why, exit 1. */
function failed(io: CliIo, answer: Answer): CliOutcome {
  const b = answer.body as { code?: unknown; message?: unknown };
  const what =
    typeof b === 'object' && b !== null && typeof b.message === 'string'
      ? `${String(b.code)}: ${b.message}`
      : `${answer.status} ${String(answer.body).slice(0, 200)}`;
  io.stderr.write(`error: ${answer.status ? `${answer.status} ` : ''}${what}\n`);
  return { exitCode: 1 };
}

function printTable(io: CliIo, items: readonly ApiToken[]): void {
  if (items.length === 0) {
    say(io, 'No API tokens.');
    return;
  }
  const day = (s: string | null) => (s ? s.slice(0, 16).replace('T', ' ') : '-');
  const rows = [
    ['ID', 'NAME', 'ROLE', 'LOCATION', 'STATUS', 'CREATED', 'LAST USED', 'EXPIRES'],
    ...items.map((t) => [
      t.id,
      t.name,
      t.role,
      t.locationId ?? '-',
      t.status,
      day(t.createdAt),
      day(t.lastUsedAt),
      day(t.expiresAt),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows)
    say(
      io,
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    );
}
