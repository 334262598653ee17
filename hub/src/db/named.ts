/*
 * Named parameters: a statement says `$deviceIds`, its caller passes `{ deviceIds }`, and the
 * positional text and array the drivers take are built here, in one place. Statements composed of
 * fragments from several modules (the push's bookkeeping) then share names, never offsets.
 */

const compiled = new Map<string, { text: string; names: string[] }>();

function compile(sql: string): { text: string; names: string[] } {
  const known = compiled.get(sql);
  if (known) return known;
  const names: string[] = [];
  const text = sql.replace(/\$([A-Za-z_]\w*)/g, (_, name: string) => {
    let i = names.indexOf(name);
    if (i < 0) i = names.push(name) - 1;
    return `$${i + 1}`;
  });
  const out = { text, names };
  compiled.set(sql, out);
  return out;
}

/** `sql` with `$name` placeholders, and `params` by name → the driver's text and values. */
export function named(sql: string, params: Readonly<Record<string, unknown>>): [string, unknown[]] {
  const { text, names } = compile(sql);
  return [
    text,
    names.map((n) => {
      if (!(n in params)) throw new Error(`statement parameter $${n} was not given`);
      return params[n];
    }),
  ];
}
