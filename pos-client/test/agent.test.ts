import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SyncAgent, type SyncState, Till } from '../src/index.js';
import { PARIS_TILL, product, removeDir, tempDir } from './helpers/till-fixture.js';

/*
 * The sync agent with no hub to talk to: a closed loopback port, so every connection attempt is
 * refused by the operating system at once. Timers are fake (the backoff is walked through
 * exactly); sockets are real, so each attempt's failure arrives as I/O and the tests wait for the
 * agent's state events rather than for time.
 */

const T0 = 1_700_000_000_000;

describe('the sync agent without a hub', () => {
  let dir: string;
  let till: Till;
  let agent: SyncAgent;
  let states: SyncState[];

  function makeAgent(): SyncAgent {
    const a = new SyncAgent(till.replica, { backoff: { baseMs: 1000, maxMs: 4000 } });
    a.on('state', (s) => states.push(s.state));
    return a;
  }
  /** Wait (on real I/O) until the agent has gone through `count` states since the test began. */
  async function statesSeen(count: number): Promise<void> {
    while (states.length < count) await new Promise((resolve) => agent.once('state', resolve));
  }
  /** Let pending socket I/O run without moving the fake clock. */
  async function flushIo(): Promise<void> {
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
  }

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    vi.setSystemTime(T0);
    // Jitter pinned to the middle of each interval: delays of 500, 1000, 2000, then 2000 (cap 4000).
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    dir = tempDir('till-agent-');
    till = Till.open({ dataDir: dir });
    till.replica.saveCatalog([product('LIP-RED', 'Red lipstick', 1500)], T0);
    states = [];
  });
  afterEach(async () => {
    await agent.stop();
    till.close();
    vi.useRealTimers();
    vi.restoreAllMocks();
    removeDir(dir);
  });

  it('goes connecting → waiting and retries after a growing, capped backoff', async () => {
    till.replica.saveEnrolment(PARIS_TILL);
    agent = makeAgent();
    agent.start();
    expect(agent.state).toBe('connecting');

    await statesSeen(2);
    expect(agent.status()).toEqual({
      state: 'waiting',
      online: false,
      lastError: expect.stringMatching(/^hub unreachable: /),
      driftRepairs: 0,
      nextRetryAt: T0 + 500,
    });

    await vi.advanceTimersByTimeAsync(499);
    expect(states).toEqual(['connecting', 'waiting']);
    await vi.advanceTimersByTimeAsync(1);
    await statesSeen(4);
    expect(agent.status().nextRetryAt).toBe(T0 + 1500);

    await vi.advanceTimersByTimeAsync(1000);
    await statesSeen(6);
    expect(agent.status().nextRetryAt).toBe(T0 + 3500);

    await vi.advanceTimersByTimeAsync(2000);
    await statesSeen(8);
    expect(agent.status().nextRetryAt).toBe(T0 + 5500);

    await vi.advanceTimersByTimeAsync(2000);
    await statesSeen(10);
    expect(agent.status().nextRetryAt).toBe(T0 + 7500);
    expect(states).toEqual([
      'connecting',
      'waiting',
      'connecting',
      'waiting',
      'connecting',
      'waiting',
      'connecting',
      'waiting',
      'connecting',
      'waiting',
    ]);
  });

  it('keeps every sale in the outbox while it cannot reach the hub, and after it stops', async () => {
    till.replica.saveEnrolment(PARIS_TILL);
    till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 1 }] });
    agent = makeAgent();
    agent.start();
    await statesSeen(2);
    till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 2 }] });
    const before = till.replica.pendingBatch(10).map((e) => e.opId);

    await agent.stop();
    expect(agent.status()).toMatchObject({ state: 'stopped', online: false, nextRetryAt: null });
    expect(till.cashier.status().outboxDepth).toBe(2);
    expect(till.replica.pendingBatch(10).map((e) => e.opId)).toEqual(before);
    expect(till.replica.listenerCount('op')).toBe(0);
  });

  it('stops for good: stop() twice is fine, and no retry fires afterwards', async () => {
    till.replica.saveEnrolment(PARIS_TILL);
    agent = makeAgent();
    agent.start();
    await statesSeen(2);

    await agent.stop();
    await agent.stop();
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(60_000);
    await flushIo();
    expect(states).toEqual(['connecting', 'waiting', 'stopped', 'stopped']);
  });

  it('stops while still connecting, and the late connection error changes nothing', async () => {
    till.replica.saveEnrolment(PARIS_TILL);
    agent = makeAgent();
    agent.start();
    await agent.stop();
    await flushIo();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(states).toEqual(['connecting', 'stopped']);
  });

  it('connects again at once when started after a stop', async () => {
    till.replica.saveEnrolment(PARIS_TILL);
    agent = makeAgent();
    agent.start();
    await statesSeen(2);
    await vi.advanceTimersByTimeAsync(500);
    await statesSeen(4);
    await agent.stop();

    agent.start();
    agent.start();
    await statesSeen(7);
    expect(states.slice(4)).toEqual(['stopped', 'connecting', 'waiting']);
  });

  it('is refused, without retrying, when the till has no device token', async () => {
    till.replica.saveEnrolment({ ...PARIS_TILL, token: '' });
    agent = makeAgent();
    agent.start();
    expect(agent.status()).toEqual({
      state: 'refused',
      online: false,
      lastError: 'not enrolled',
      driftRepairs: 0,
      nextRetryAt: null,
    });
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(60_000);
    await flushIo();
    expect(states).toEqual(['refused']);
  });

  it('is refused when the till was never enrolled', () => {
    agent = makeAgent();
    agent.start();
    expect(agent.status()).toMatchObject({ state: 'refused', lastError: 'not enrolled' });
  });
});
