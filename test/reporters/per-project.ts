import type { Reporter, TestModule } from 'vitest/node';

/**
 * Prints test counts per project (protocol, pos-client, hub-pglite, hub-postgres, …) after the
 * default reporter, and a plain closing line "N passed, N failed" that CI reads.
 */
export default class PerProjectReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const byProject = new Map<string, { passed: number; failed: number; skipped: number }>();
    for (const mod of modules) {
      const counts = byProject.get(mod.project.name) ?? { passed: 0, failed: 0, skipped: 0 };
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') counts.passed += 1;
        else if (state === 'failed') counts.failed += 1;
        else counts.skipped += 1;
      }
      byProject.set(mod.project.name, counts);
    }
    const total = { passed: 0, failed: 0, skipped: 0 };
    const lines = ['', 'Tests per project:'];
    for (const [name, c] of [...byProject].sort(([a], [b]) => a.localeCompare(b))) {
      lines.push(`  ${name.padEnd(14)} ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`);
      total.passed += c.passed;
      total.failed += c.failed;
      total.skipped += c.skipped;
    }
    lines.push('', `${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
}
