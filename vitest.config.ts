import { defineConfig } from 'vitest/config';

// Workspace packages resolve to their TypeScript sources in tests (no build step needed).
const conditions = ['@tillsync/source', 'module', 'node', 'development|production'];

// The hub suites run on embedded PGlite always, and again on real Postgres when
// TEST_DATABASE_URL is set (CI sets it), each test on a fresh schema.
const databases = process.env.TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    reporters: ['default', './test/reporters/per-project.ts'],
    // UI and sync state is reached "eventually": on a loaded 2-core CI machine 1 s (the default)
    // is too tight for a browser to repaint; a poll still fails if the state never comes.
    expect: { poll: { timeout: 10_000 } },
    projects: [
      {
        extends: true,
        test: { name: 'protocol', include: ['packages/sync-protocol/src/**/*.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'pos-client',
          include: ['pos-client/src/**/*.test.ts', 'pos-client/test/**/*.test.ts'],
        },
      },
      {
        extends: true,
        test: { name: 'demo', include: ['test/demo/**/*.test.ts'], testTimeout: 120_000 },
      },
      ...databases.map((db) => ({
        extends: true as const,
        test: {
          name: `hub-${db}`,
          include: [
            'hub/test/**/*.test.ts',
            'test/e2e/**/*.test.ts',
            'test/chaos/**/*.test.ts',
            'test/fuzz/**/*.test.ts',
            'test/property/**/*.test.ts',
            'test/contract/**/*.test.ts',
          ],
          env: { TILLSYNC_TEST_DB: db },
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      })),
    ],
  },
});
