const formats = new Map<string, Intl.NumberFormat>();

/** Money is kept in minor units; shown with 2 decimals and the currency. */
export function money(minor: number, currency: string): string {
  let f = formats.get(currency);
  if (!f) {
    f = new Intl.NumberFormat('en-GB', {
      style: 'currency',
      currency,
      minimumFractionDigits: 2,
      maximumFractionDigits: 2,
    });
    formats.set(currency, f);
  }
  return f.format(minor / 100);
}

export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function clock(epochMs: number): string {
  return new Date(epochMs).toLocaleTimeString('en-GB', { hour12: false });
}

export function dateTime(epochMs: number): string {
  return new Date(epochMs).toLocaleString('en-GB', { hour12: false });
}
