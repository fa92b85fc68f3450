import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const source = (name: string) => fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      {
        find: /^@bulwark\/([a-z-]+)\/internal$/,
        replacement: `${fileURLToPath(new URL('./packages/', import.meta.url))}$1/src/internal.ts`,
      },
      {
        find: /^@bulwark\/([a-z-]+)$/,
        replacement: `${fileURLToPath(new URL('./packages/', import.meta.url))}$1/src/index.ts`,
      },
      {
        find: /^@bulwark\/([a-z-]+)\/([a-z-]+)$/,
        replacement: `${fileURLToPath(new URL('./packages/', import.meta.url))}$1/src/$2.ts`,
      },
      { find: /^bulwark$/, replacement: source('bulwark') },
    ],
  },
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'test/**/*.test.ts',
      'examples/**/*.test.ts',
      'bench/**/*.test.ts',
    ],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    teardownTimeout: 10_000,
    pool: 'forks',
    typecheck: { enabled: false },
  },
});
