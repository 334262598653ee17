/*
 * The dashboard's token lives in this tab's session storage only. A link may hand it over in the URL
 * fragment (#token=…, never sent to the server nor logged); it is moved out of the address bar and
 * history at once, so it does not end up in bookmarks, screenshots or a shared screen.
 */

const TOKEN_KEY = 'tillsync.hq.token';

/** Take a #token=… out of the address bar (and history); null if there is none. */
export function takeTokenFromUrl(): string | null {
  const found = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!found?.[1]) return null;
  history.replaceState(null, '', location.pathname + location.search);
  return decodeURIComponent(found[1]);
}

export function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function storeToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}
