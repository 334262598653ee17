import { byId } from '../../../web/dom.js';
import { type ApiError, createApi } from './api.js';
import { createDashboard, type Dashboard } from './dashboard.js';
import { ago, refreshTimes } from './format.js';
import { connectLive, type LinkState, type Refusal } from './live.js';
import { forgetToken, storedToken, storeToken, takeTokenFromUrl } from './session.js';

/*
 * Sign-in, then the live dashboard. The page holds no data: everything comes from the hub with the
 * token, and the live feed's handshake is what accepts (or refuses) it.
 */

/** No update for this long while connected: say the numbers may be stale. */
const STALE_MS = 10_000;

const signin = byId('signin');
const form = byId<HTMLFormElement>('signin-form');
const input = byId<HTMLInputElement>('token');
const signinError = byId('signin-error');
const dashboardEl = byId('dashboard');
const waiting = byId('waiting');
const nav = byId('nav');
const signOut = byId<HTMLButtonElement>('sign-out');
const connection = byId('connection');

interface Session {
  dashboard: Dashboard;
  close(): void;
  link: LinkState;
  lastUpdate: number;
}
let session: Session | null = null;

function showSignIn(error?: string) {
  signin.hidden = false;
  waiting.hidden = true;
  dashboardEl.hidden = true;
  nav.hidden = true;
  signOut.hidden = true;
  connection.textContent = '';
  connection.dataset.state = 'signed-out';
  signinError.hidden = !error;
  signinError.textContent = error ?? '';
  input.value = '';
  input.focus();
}

function start(token: string) {
  signin.hidden = true;
  signinError.hidden = true;
  waiting.hidden = false;
  signOut.hidden = false;
  // Answers to an earlier session (signed out since) must not end this one.
  // A token refused before the first update was never accepted: a browser cannot read why the live
  // feed's upgrade was refused, so the REST call's 401 says it, as a sign-in refusal.
  const api = createApi(token, (e: ApiError) => {
    if (session !== s) return;
    end(
      s.lastUpdate === 0
        ? refusalText({ code: 'unauthorized', message: e.message })
        : `Signed out: the hub no longer accepts this token (${e.message}).`,
    );
  });
  const s: Session = {
    dashboard: createDashboard(api, token),
    close: () => undefined,
    link: 'connecting',
    lastUpdate: 0,
  };
  session = s;
  s.close = connectLive(token, {
    update(u) {
      if (session !== s) return;
      if (s.lastUpdate === 0) {
        waiting.hidden = true;
        dashboardEl.hidden = false;
        nav.hidden = false;
      }
      s.lastUpdate = Date.now();
      s.dashboard.update(u);
      showLink();
    },
    refused(r) {
      if (session === s) end(refusalText(r));
    },
    link(state) {
      s.link = state;
      showLink();
    },
    closedByHub() {
      // A 401 here ends the session (createApi's handler); any other answer: keep reconnecting.
      api.get('/v1/me').catch(() => undefined);
    },
  });
  showLink();
}

function signIn(token: string) {
  storeToken(token);
  start(token);
}

function end(error?: string) {
  session?.close();
  session?.dashboard.destroy();
  session = null;
  forgetToken();
  showSignIn(error);
}

function refusalText(r: Refusal): string {
  return r.code === 'forbidden'
    ? `This token may not open the HQ dashboard: it needs the hq or admin role (${r.message}).`
    : 'The hub does not accept this token: it is unknown, revoked or mistyped. Check it and sign in again.';
}

function showLink() {
  if (!session) return;
  const { link, lastUpdate } = session;
  const since = lastUpdate ? ago(lastUpdate) : '';
  const stale = link === 'live' && lastUpdate > 0 && Date.now() - lastUpdate > STALE_MS;
  const state = stale ? 'stale' : link;
  connection.dataset.state = state;
  connection.textContent =
    state === 'live'
      ? lastUpdate
        ? `● Live · updated ${since}`
        : '● Live'
      : state === 'stale'
        ? `▲ No update since ${since}`
        : state === 'reconnecting'
          ? `○ Reconnecting…${lastUpdate ? ` (last update ${since})` : ''}`
          : '○ Connecting…';
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  const token = input.value.trim();
  if (token) signIn(token);
});
signOut.addEventListener('click', () => end());

// Relative times ("2 min ago") and the link line move on between updates.
window.setInterval(() => {
  refreshTimes(document.body);
  showLink();
}, 1_000);

// A #token= link opened in a tab already showing the page changes only the fragment.
window.addEventListener('hashchange', () => {
  const token = takeTokenFromUrl();
  if (!token) return;
  end();
  signIn(token);
});

const linked = takeTokenFromUrl();
if (linked) storeToken(linked);
const token = storedToken();
if (token) start(token);
else showSignIn();
