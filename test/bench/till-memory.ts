/**
 * Child process of the till benchmark: open a till data directory as the till app does, serve a
 * cashier's first reads (scans, a search, stock lookups), and print this process's memory as one
 * JSON line. A separate process so the numbers are the till's alone, not the benchmark's.
 *
 *   node --expose-gc --import tsx --conditions=@tillsync/source test/bench/till-memory.ts <dataDir> <sku>...
 */
import { Till } from '@tillsync/pos-client';

const [dataDir, ...skus] = process.argv.slice(2);
if (!dataDir) throw new Error('usage: till-memory.ts <dataDir> <sku>...');

const till = Till.open({ dataDir });
for (const sku of skus) {
  till.cashier.product(sku);
  till.cashier.stock(sku);
}
till.cashier.searchProducts('blush', 20);
// Settle what the reads allocated, so the heap figure is what stays.
globalThis.gc?.();
const m = process.memoryUsage();
console.log(JSON.stringify({ rss: m.rss, heapUsed: m.heapUsed, external: m.external }));
till.close();
