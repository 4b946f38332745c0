import { defineConfig } from 'vitest/config';

// GPU tests share one software device per file; lavapipe is slow, so files run one at a time
// (two cores: parallel files would only fight over them) and get generous timeouts.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
