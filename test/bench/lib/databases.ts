/** Which databases a benchmark runs on: PGlite always, Postgres when TEST_DATABASE_URL is set. */
export type BenchDb = 'pglite' | 'postgres';

export function benchDatabases(): BenchDb[] {
  const only = process.env.BENCH_DB as BenchDb | undefined;
  if (only) return [only];
  return process.env.TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];
}

/** Point the test helpers (TestHubServer, createTestDatabase) at `db`. */
export function useDatabase(db: BenchDb): void {
  process.env.TILLSYNC_TEST_DB = db;
}
