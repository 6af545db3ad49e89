import { defineConfig } from 'vitest/config';

export default defineConfig({
  // The tests start the API in-process from its sources (apps/api/test/support); the CLI itself
  // runs from dist/ as a subprocess.
  resolve: { conditions: ['@phone-auth/source'] },
  ssr: { resolve: { conditions: ['@phone-auth/source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
