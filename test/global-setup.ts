// Global setup of the integration test project: runs once in the main vitest
// process before any integration test file, and its teardown after the last.
//
// It does not throw when Docker is missing: it records why in the environment
// and startSshd() throws that text, so each integration test fails with the
// instructions while test files that need no server still run.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getContainerRuntimeClient } from 'testcontainers';
import {
  applyTestcontainersDefaults,
  CONTAINER_LOG,
  ENV_OWNER_PID,
  ENV_RUN_ID,
  ENV_STATE_DIR,
  ENV_UNAVAILABLE,
  HOW_TO_START_DOCKER,
  LABEL_OWNER_HOST,
  LABEL_OWNER_PID,
  LABEL_RUN,
  LABEL_TEST,
  SSHD_IMAGE,
} from './support/env.js';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

type RuntimeClient = Awaited<ReturnType<typeof getContainerRuntimeClient>>;

export default async function setup(): Promise<() => Promise<void>> {
  const runId = `${Date.now().toString(36)}-${process.pid}`;
  const stateDir = mkdtempSync(join(tmpdir(), 'sshpool-test-'));
  process.env[ENV_RUN_ID] = runId;
  process.env[ENV_OWNER_PID] = String(process.pid);
  process.env[ENV_STATE_DIR] = stateDir;
  delete process.env[ENV_UNAVAILABLE];

  applyTestcontainersDefaults();
  if (!process.env.DOCKER_HOST && existsSync('/var/run/docker.sock')) {
    process.env.DOCKER_HOST = 'unix:///var/run/docker.sock';
  }

  const client = await connectToDocker();
  if (client) {
    await removeStaleContainers(client);
    buildImage();
  }

  return async () => {
    if (client) await removeRunContainers(client, runId);
    report(stateDir);
    rmSync(stateDir, { recursive: true, force: true });
  };
}

async function connectToDocker(): Promise<RuntimeClient | undefined> {
  const where = process.env.DOCKER_HOST ?? 'the default Docker socket locations';
  try {
    const client = await withTimeout(getContainerRuntimeClient(), 20_000, `no answer from ${where} within 20 s`);
    return client;
  } catch (error) {
    markUnavailable(`No Docker engine reachable at ${where}: ${message(error)}\n${HOW_TO_START_DOCKER}`);
    return undefined;
  }
}

function buildImage(): void {
  // The script is idempotent and returns at once when the image is current.
  const script = join(REPO_ROOT, 'scripts', 'build-sshd-image.sh');
  const result = spawnSync('bash', [script], { stdio: 'inherit', env: process.env });
  if (result.status !== 0) {
    const why = result.error ? message(result.error) : `exit code ${result.status ?? result.signal}`;
    markUnavailable(
      `Building the ${SSHD_IMAGE} image failed (${why}); see the output above.\n` +
        'Build it by hand with scripts/build-sshd-image.sh (needs openssh-server on this machine, ' +
        'or an image registry for test/sshd/Dockerfile).',
    );
  }
}

/** Containers left by an earlier run on this machine whose vitest process is gone (crash, kill -9). */
async function removeStaleContainers(client: RuntimeClient): Promise<void> {
  const containers = await listTestContainers(client, `${LABEL_TEST}=1`);
  const stale = containers.filter((info) => {
    const labels = info.Labels ?? {};
    if (labels[LABEL_OWNER_HOST] !== undefined && labels[LABEL_OWNER_HOST] !== hostname()) return false;
    const pid = Number.parseInt(labels[LABEL_OWNER_PID] ?? '', 10);
    return !Number.isFinite(pid) || !isAlive(pid);
  });
  await removeContainers(client, stale.map((info) => info.Id));
  if (stale.length > 0) process.stdout.write(`removed ${stale.length} stale sshd container(s) from earlier runs\n`);
}

async function removeRunContainers(client: RuntimeClient, runId: string): Promise<void> {
  const leftovers = await listTestContainers(client, `${LABEL_RUN}=${runId}`);
  await removeContainers(client, leftovers.map((info) => info.Id));
  if (leftovers.length > 0) process.stdout.write(`removed ${leftovers.length} sshd container(s) left running by test files\n`);
}

async function listTestContainers(client: RuntimeClient, label: string) {
  try {
    return await client.container.dockerode.listContainers({ all: true, filters: { label: [label] } });
  } catch {
    return [];
  }
}

async function removeContainers(client: RuntimeClient, ids: string[]): Promise<void> {
  await Promise.allSettled(ids.map((id) => client.container.dockerode.getContainer(id).remove({ force: true, v: true })));
}

function report(stateDir: string): void {
  let lines: string[] = [];
  try {
    lines = readFileSync(join(stateDir, CONTAINER_LOG), 'utf8').split('\n').filter(Boolean);
  } catch {
    // No server was started in this run.
  }
  const ready = lines.filter((line) => line.startsWith('create '));
  const failed = lines.filter((line) => line.startsWith('failed ')).length;
  const restarts = lines.filter((line) => line.startsWith('start ')).length;
  const pauseRetries = lines.filter((line) => line.startsWith('pause-retry ')).length;
  const startupMs = ready.map((line) => Number(line.split(' ')[3])).filter(Number.isFinite);
  const mean = startupMs.length ? Math.round(startupMs.reduce((a, b) => a + b, 0) / startupMs.length) : 0;
  const details = [
    `restarts: ${restarts}`,
    ...(failed ? [`failed to come up: ${failed}`] : []),
    ...(pauseRetries ? [`pauses retried after "unable to freeze": ${pauseRetries}`] : []),
    ...(startupMs.length ? [`mean time to SSH banner: ${mean} ms`] : []),
  ].join(', ');
  process.stdout.write(`sshd containers started: ${ready.length + failed} (${details})\n`);
}

function markUnavailable(text: string): void {
  process.env[ENV_UNAVAILABLE] = text;
  const rule = '='.repeat(78);
  process.stderr.write(`\n${rule}\nINTEGRATION TESTS WILL FAIL: ${text}\n${rule}\n\n`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, text: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(text)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
