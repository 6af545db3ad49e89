import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['@phone-auth/source'] },
  ssr: { resolve: { conditions: ['@phone-auth/source'] } },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
