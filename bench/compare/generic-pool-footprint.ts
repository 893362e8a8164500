// Not part of the benchmark run: what one generic-pool `Pool` holding one borrowed resource
// keeps in memory, as sshpool keeps one per pool key (its ConnectionStore). Prints bytes per pool
// (heap after full GCs, 2,000 pools, after 100 to warm up).
//   node --expose-gc --import tsx bench/compare/generic-pool-footprint.ts
import genericPool from 'generic-pool';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const kept: unknown[] = [];

async function make(count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    // The options sshpool's ConnectionStore passes.
    const pool = genericPool.createPool({ create: async () => ({ i }), destroy: async () => {} }, { max: 10, min: 0, testOnBorrow: false, evictionRunIntervalMillis: 0, autostart: true });
    kept.push(pool, await pool.acquire());
  }
}

await make(100);
gc();
gc();
const before = process.memoryUsage().heapUsed;
const count = 2_000;
await make(count);
gc();
gc();
const perPool = (process.memoryUsage().heapUsed - before) / count;
console.log(`generic-pool Pool with one borrowed resource: ${perPool.toFixed(0)} bytes (${(perPool / 1024).toFixed(2)} KiB) per pool`);
