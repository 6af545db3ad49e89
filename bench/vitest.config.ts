import { defineConfig } from 'vitest/config';

export default defineConfig({
  // The SDK the tests call the API with is taken from its sources, like the other packages' tests.
  resolve: { conditions: ['@phone-auth/source'] },
  ssr: { resolve: { conditions: ['@phone-auth/source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
