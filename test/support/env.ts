// Names shared by the global setup (main vitest process) and the sshd fixture
// (worker processes). Workers inherit the environment the global setup leaves
// behind, so plain environment variables are the channel between the two.

export const SSHD_IMAGE = process.env.SSHPOOL_SSHD_IMAGE ?? 'sshpool-sshd:latest';

/** Every fixture container carries this label, so leftovers can always be found. */
export const LABEL_TEST = 'sshpool.test';
/** Identifies the vitest run that created a container. */
export const LABEL_RUN = 'sshpool.run';
/** Pid of the vitest main process; a container whose owner is gone is stale. */
export const LABEL_OWNER_PID = 'sshpool.owner-pid';
/** Machine of that process: pids from another machine sharing the engine mean nothing here. */
export const LABEL_OWNER_HOST = 'sshpool.owner-host';

/** Directory holding the per-run container log used for the final count. */
export const ENV_STATE_DIR = 'SSHPOOL_TEST_STATE_DIR';
export const ENV_RUN_ID = 'SSHPOOL_TEST_RUN_ID';
export const ENV_OWNER_PID = 'SSHPOOL_TEST_OWNER_PID';
/**
 * Set by the global setup when no Docker engine or image is available. The
 * fixture then throws this text from startSshd(), so integration tests fail
 * with instructions instead of being skipped.
 */
export const ENV_UNAVAILABLE = 'SSHPOOL_SSHD_UNAVAILABLE';

/** Name of the file in the state directory that records container starts. */
export const CONTAINER_LOG = 'containers.log';

export const HOW_TO_START_DOCKER = [
  'The integration tests need a Docker engine to run OpenSSH servers in containers.',
  'Start one with:   sudo scripts/docker-engine.sh start',
  '(or point DOCKER_HOST at a running engine), then run the tests again.',
].join('\n');

/**
 * testcontainers defaults for this project's containers: host networking (no
 * bridge network exists on CI), no Ryuk reaper (its image cannot be pulled
 * without a registry; the global teardown removes containers by label
 * instead). Explicit settings in the environment win.
 */
export function applyTestcontainersDefaults(env: NodeJS.ProcessEnv = process.env): void {
  env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
  // Without this testcontainers derives the host from the default bridge
  // network, which an engine started with --bridge=none does not have.
  env.TESTCONTAINERS_HOST_OVERRIDE ??= '127.0.0.1';
}
