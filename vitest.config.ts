import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // e2e tests start real processes; two cores, so keep the fan-out modest
    maxWorkers: 2,
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
