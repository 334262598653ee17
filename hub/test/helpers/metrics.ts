/** Prometheus text read back for tests: samples by name and labels. */
export interface Metrics {
  text: string;
  /** The sum of the samples named `name` whose labels include `labels`; undefined when none. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** Every label set of the samples named `name`. */
  labelSets(name: string): Array<Record<string, string>>;
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parseMetrics(text: string): Metrics {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  const named = (name: string) => samples.filter((s) => s.name === name);
  return {
    text,
    value(name, labels = {}) {
      const hits = named(name).filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
      return hits.length === 0 ? undefined : hits.reduce((sum, s) => sum + s.value, 0);
    },
    labelSets: (name) => named(name).map((s) => s.labels),
  };
}
