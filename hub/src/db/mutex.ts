/** A FIFO async lock: `run(fn)` starts `fn` only after every earlier `run` has settled. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  /** Runs not settled yet: the one holding the lock plus those queued behind it. */
  get size(): number {
    return this.pending;
  }

  run<T>(fn: () => Promise<T>): Promise<T> {
    this.pending += 1;
    const result = this.tail.then(fn, fn).finally(() => {
      this.pending -= 1;
    });
    this.tail = result.catch(() => undefined);
    return result;
  }
}
