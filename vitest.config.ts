import { defineConfig } from 'vitest/config';

// Two projects so that `vitest run test/unit` needs no Docker engine: vitest
// only runs a project's globalSetup when some of its files are selected, and
// only the integration project builds the sshd image and starts containers.
export default defineConfig({
  test: {
    // 2 cores: one worker per core keeps container start-up and the tests'
    // own timing assumptions (pause, timeouts) from starving each other.
    maxWorkers: 2,
    pool: 'forks',
    hookTimeout: 120_000,
    teardownTimeout: 60_000,
    // Runs once per run, whichever projects run: fails the run when tests leave temp files.
    globalSetup: ['test/temp-folders.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 15_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: ['test/unit/**', '**/node_modules/**'],
          globalSetup: ['test/global-setup.ts'],
          setupFiles: ['test/support/setup-integration.ts'],
          testTimeout: 60_000,
        },
      },
    ],
  },
});
