// `pnpm build && tsx bench/fleet.ts [--quick]`: the fleet routing suite of `pnpm bench` alone.
import { runFleetSuite } from './suites/fleet.js';

const quick = process.argv.includes('--quick');
await runFleetSuite(
  quick ? { rounds: 2, calls: 100, concurrency: 16 } : { rounds: 5, calls: 1_000, concurrency: 16 },
  (what, value, limit, above) => {
    const met = above ? value >= limit : value <= limit;
    console.log(
      `${what}: ${value.toFixed(2)} (target ${above ? '≥' : '≤'} ${limit}) ${met ? 'met' : 'BELOW TARGET'}`,
    );
  },
);
