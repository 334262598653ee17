/**
 * Wrap a loader so runs never overlap: a call while one runs asks for exactly one more run after
 * it (so a change seen mid-load is not lost), and its promise settles when that run is done.
 */
export function serial(run: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  let again = false;
  return () => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await run();
        } while (again);
      } finally {
        running = null;
      }
    })();
    return running;
  };
}
