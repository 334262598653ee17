import type { z } from 'zod';

/*
 * Settings read from environment variables, described from their zod schema: which variable feeds
 * which field, the form it expects and its default. The CLI's --help lists them from this, and a
 * bad value is reported in one line per variable naming it (`PORT: expected an integer 0-65535,
 * got "abc"`) rather than as zod's issue list. The mapping comes from the config's own input
 * builder, so a new setting is described without being listed twice.
 */

/** Builds a schema's input from the environment (config.ts: `configInput`). */
export type EnvInput = (env: NodeJS.ProcessEnv) => unknown;

export interface EnvVar {
  name: string;
  /** The field it feeds, as a zod issue path. */
  path: readonly string[];
  /** The form it takes, e.g. "an integer 0-65535". */
  expected: string;
  /** Its default as written in the environment, if it has one. */
  defaultValue?: string;
}

/** A setting with a bad value: one line per variable, each naming it and the form expected. */
export class ConfigError extends Error {
  constructor(readonly lines: readonly string[]) {
    super(lines.join('\n'));
    this.name = 'ConfigError';
  }
}

/** Parse the environment, throwing ConfigError (not zod's issue list) for a bad value. */
export function parseEnv<S extends z.ZodType>(
  schema: S,
  inputOf: EnvInput,
  env: NodeJS.ProcessEnv,
): z.output<S> {
  const parsed = schema.safeParse(inputOf(env));
  if (parsed.success) return parsed.data;
  const vars = envVarsOf(schema, inputOf);
  const lines = new Map<string, string>();
  for (const issue of parsed.error.issues) {
    const v = vars.find((e) => e.path.join('.') === issue.path.join('.'));
    const name = v?.name ?? issue.path.join('.');
    // A refinement's or a pattern's message says what it wants; otherwise the schema does.
    const own = issue.code === 'custom' || (issue.code === 'invalid_format' && issue.format === 'regex');
    const expected = own || !v ? issue.message : v.expected;
    if (!lines.has(name))
      lines.set(name, `${name}: expected ${expected}, got ${JSON.stringify(env[name] ?? '')}`);
  }
  throw new ConfigError([...lines.values()]);
}

const MARK = '\u0000';

/** Every variable `inputOf` reads, in its order, with what its field expects. */
export function envVarsOf(schema: z.ZodType, inputOf: EnvInput): EnvVar[] {
  // Reading each variable through a proxy yields its name in the field it feeds.
  const names = new Proxy({} as NodeJS.ProcessEnv, {
    get: (_target, key) => (typeof key === 'string' ? MARK + key : undefined),
  });
  const vars: EnvVar[] = [];
  const walk = (value: unknown, path: string[]): void => {
    if (typeof value === 'string' && value.startsWith(MARK)) {
      vars.push({ name: value.slice(1), path, ...describe(fieldAt(schema, path)) });
    } else if (value !== null && typeof value === 'object') {
      for (const [key, inner] of Object.entries(value)) walk(inner, [...path, key]);
    }
  };
  walk(inputOf(names), []);
  return vars;
}

/** The help text's lines for `vars`: name, form, default. */
export function envHelpLines(vars: readonly EnvVar[]): string[] {
  const width = Math.max(...vars.map((v) => v.name.length));
  return vars.map(
    (v) =>
      `  ${v.name.padEnd(width)}  ${v.expected}${v.defaultValue === undefined ? '' : ` (default ${v.defaultValue})`}`,
  );
}

/** The parts of zod's (documented, zod/v4/core) schema definitions read here. */
interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  entries?: Record<string, string | number>;
  defaultValue?: unknown;
  checks?: Array<{ _zod: { def: Check } }>;
}
interface Check {
  check: string;
  format?: string;
  value?: number;
  inclusive?: boolean;
  minimum?: number;
  maximum?: number;
}
const defOf = (schema: z.ZodType): Def => schema._zod.def as unknown as Def;

/** The schema of the field at `path`, through defaults, optionals and transforms. */
function fieldAt(schema: z.ZodType, path: readonly string[]): z.ZodType | undefined {
  let s: z.ZodType | undefined = schema;
  for (const key of path) {
    while (s && !defOf(s).shape) s = defOf(s).innerType ?? defOf(s).in;
    s = s ? defOf(s).shape?.[key] : undefined;
  }
  return s;
}

function describe(schema: z.ZodType | undefined): { expected: string; defaultValue?: string } {
  let defaultValue: string | undefined;
  let s = schema;
  while (s) {
    const def = defOf(s);
    if (def.type === 'default' && def.defaultValue !== '') defaultValue = String(def.defaultValue);
    const next = def.innerType ?? def.in;
    if (!next) break;
    s = next;
  }
  const expected = s ? form(defOf(s)) : 'a value';
  return defaultValue === undefined ? { expected } : { expected, defaultValue };
}

function form(def: Def): string {
  const checks = (def.checks ?? []).map((c) => c._zod.def);
  if (def.type === 'enum') return `one of ${Object.values(def.entries ?? {}).join(', ')}`;
  if (def.type === 'number') {
    const kind = checks.some((c) => c.format?.includes('int')) ? 'an integer' : 'a number';
    const low = checks.find((c) => c.check === 'greater_than');
    const high = checks.find((c) => c.check === 'less_than');
    if (low?.inclusive && high?.inclusive) return `${kind} ${low.value}-${high.value}`;
    if (low) return `${kind} ${low.inclusive ? 'of at least' : 'greater than'} ${low.value}`;
    return kind;
  }
  if (def.type === 'string') {
    const min = checks.find((c) => c.check === 'min_length')?.minimum;
    const max = checks.find((c) => c.check === 'max_length')?.maximum;
    return max !== undefined ? `text of ${min ?? 0}-${max} characters` : 'text';
  }
  return 'a value';
}
