import { h, mount } from '../../../web/dom.js';
import type { Product } from '../../src/engine/store.js';
import { asCashierError, type Ctx } from './context.js';
import { money } from './format.js';

const SEARCH_DELAY_MS = 150;

export interface ScanField {
  el: HTMLElement;
  input: HTMLInputElement;
  focus(): void;
  /** Resolves once every entry typed so far has been handled (a payment key may follow a scan at once). */
  settled(): Promise<void>;
}

/**
 * The scan/search field. A scanner types digits and Enter: an exact SKU or barcode is picked at
 * once. Anything else lists matches to pick with the arrow keys and Enter (or a tap). Entries are
 * handled strictly in the order they were typed, so fast scans never overtake each other.
 */
export function scanField(
  ctx: Ctx,
  opts: {
    testId: string;
    label: string;
    placeholder: string;
    onPick(product: Product): void | Promise<void>;
    /** Keys pressed while the field is empty (e.g. + and − on the last cart line). */
    onEmptyKey?(e: KeyboardEvent): boolean;
  },
): ScanField {
  const input = h('input', {
    type: 'text',
    class: 'scan-input',
    placeholder: opts.placeholder,
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-label': opts.label,
    'data-testid': opts.testId,
  });
  const list = h('ul', { class: 'results', role: 'listbox', hidden: true });
  let results: Product[] = [];
  let active = -1;
  let generation = 0;
  let timer: number | undefined;
  let queue: Promise<void> = Promise.resolve();
  const report = (err: unknown) => ctx.flash(asCashierError(err).message, 'error');

  const render = () => {
    list.hidden = results.length === 0;
    mount(
      list,
      results.map((p, i) =>
        h(
          'li',
          {
            role: 'option',
            class: i === active ? 'active' : '',
            'aria-selected': i === active ? 'true' : 'false',
            onmousedown: (e: Event) => {
              e.preventDefault();
              pick(p);
            },
          },
          h('span', { class: 'r-name' }, p.name),
          h('span', { class: 'r-sku' }, p.sku, p.barcode ? ` · ${p.barcode}` : ''),
          h('span', { class: 'r-price' }, money(p.priceMinor, p.currency)),
        ),
      ),
    );
  };
  const close = () => {
    results = [];
    active = -1;
    render();
  };
  const pick = (p: Product) => {
    close();
    input.value = '';
    queue = queue.then(() => opts.onPick(p)).catch(report);
  };
  const show = (found: Product[], highlight: number) => {
    ctx.learn(found);
    results = found;
    active = found.length > 0 ? highlight : -1;
    render();
  };

  const enter = async (value: string, gen: number) => {
    const exact = await ctx.api.product(value);
    if (exact) {
      ctx.learn([exact]);
      await opts.onPick(exact);
      return;
    }
    const found = await ctx.api.search(value);
    if (gen !== generation) return;
    if (found.length === 0) {
      ctx.flash(`Nothing matches “${value}”`, 'error');
      return;
    }
    input.value = value;
    show(found, 0);
  };

  input.addEventListener('input', () => {
    window.clearTimeout(timer);
    const value = input.value.trim();
    const gen = ++generation;
    // Digits alone are a scan in progress: wait for its Enter instead of searching every keystroke.
    if (value.length < 2 || /^\d+$/.test(value)) {
      close();
      return;
    }
    timer = window.setTimeout(() => {
      void ctx.api.search(value).then((found) => {
        if (gen === generation) show(found, -1);
      });
    }, SEARCH_DELAY_MS);
  });

  input.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      if (results.length === 0) return;
      e.preventDefault();
      const step = e.key === 'ArrowDown' ? 1 : -1;
      active = (active + step + results.length) % results.length;
      render();
      list.children[active]?.scrollIntoView({ block: 'nearest' });
    } else if (e.key === 'Enter') {
      e.preventDefault();
      const chosen = results[active];
      if (chosen) {
        pick(chosen);
        return;
      }
      const value = input.value.trim();
      if (!value) return;
      window.clearTimeout(timer);
      const gen = ++generation;
      input.value = '';
      close();
      queue = queue.then(() => enter(value, gen)).catch(report);
    } else if (e.key === 'Escape') {
      if (input.value || results.length) {
        e.preventDefault();
        e.stopPropagation();
        input.value = '';
        close();
      }
    } else if (input.value === '' && opts.onEmptyKey?.(e)) {
      e.preventDefault();
    }
  });
  input.addEventListener('blur', () => window.setTimeout(close, 150));

  return {
    el: h('div', { class: 'scan' }, input, list),
    input,
    focus: () => input.focus(),
    settled: () => queue,
  };
}
