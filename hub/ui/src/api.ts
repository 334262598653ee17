/** The hub's REST API with the dashboard's bearer token; errors arrive in the hub's one error shape. */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface Api {
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body?: unknown): Promise<T>;
  /** A file download (CSV): the body and the name the hub suggests for it. */
  file(path: string): Promise<{ blob: Blob; filename: string | null }>;
}

/** `onUnauthorized`: the token stopped working mid-session (revoked, expired): back to sign-in. */
export function createApi(token: string, onUnauthorized: (error: ApiError) => void): Api {
  const call = async (method: string, path: string, body?: unknown): Promise<Response> => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? null : JSON.stringify(body),
      cache: 'no-store',
    });
    if (res.ok) return res;
    const error = await toError(res);
    if (res.status === 401) onUnauthorized(error);
    throw error;
  };
  return {
    get: async <T>(path: string) => (await (await call('GET', path)).json()) as T,
    post: async <T>(path: string, body?: unknown) => (await (await call('POST', path, body)).json()) as T,
    async file(path) {
      const res = await call('GET', path);
      const disposition = res.headers.get('content-disposition') ?? '';
      return { blob: await res.blob(), filename: /filename="([^"]+)"/.exec(disposition)?.[1] ?? null };
    },
  };
}

async function toError(res: Response): Promise<ApiError> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as { code?: unknown; message?: unknown };
    if (typeof body.message === 'string') {
      return new ApiError(res.status, typeof body.code === 'string' ? body.code : 'error', body.message);
    }
  } catch {
    // Not the hub's JSON error (a proxy's page, say): report the status line.
  }
  return new ApiError(res.status, `http_${res.status}`, `${res.status} ${res.statusText || 'error'}`.trim());
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Query strings from optional values (undefined ones left out). */
export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
