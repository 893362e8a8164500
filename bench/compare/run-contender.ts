// Runs one contender on one workload in a child process and collects what happened to it,
// including a crash, a hang or a library that cannot be loaded.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ContenderId } from './contender.js';
import type { ConnectionCount } from './openssh-fleet.js';
import type { ContenderResult, FromContender, ToContender, WorkloadRun } from './protocol.js';

export interface Connections {
  /** Opened while the clock ran. */
  readonly measured: number;
  /** Opened by the whole run: set-up, warm-up and measured phase. */
  readonly total: number;
  /** Refused by sshd before authentication (MaxStartups). */
  readonly dropped: number;
}

export type Outcome =
  | { readonly kind: 'ok'; readonly result: ContenderResult; readonly connections: Connections }
  | { readonly kind: 'failed'; readonly reason: string };

/** Server-side connection counting for the hosts of a workload. */
export interface ConnectionCounter {
  settledCount(): Promise<ConnectionCount>;
}

const SCRIPT = fileURLToPath(new URL('./contender-process.ts', import.meta.url));

export async function runContender(
  contender: ContenderId,
  workload: WorkloadRun,
  counter: ConnectionCounter,
  hardTimeoutMs: number,
): Promise<Outcome> {
  const before = await counter.settledCount();
  // fork() keeps this process's execArgv, so the tsx loader comes along.
  const child = fork(SCRIPT, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4_000);
  });
  let atGo: ConnectionCount | undefined;
  let outcome: Outcome | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const timer = setTimeout(() => {
    outcome ??= { kind: 'failed', reason: `no result within ${Math.round(hardTimeoutMs / 1000)} s (process killed)` };
    child.kill('SIGKILL');
  }, hardTimeoutMs);
  child.on('message', (message: FromContender) => {
    switch (message.type) {
      case 'warmed':
        void counter.settledCount().then((count) => {
          atGo = count;
          if (child.connected) child.send({ type: 'go' } satisfies ToContender);
        });
        break;
      case 'crash':
        outcome ??= { kind: 'failed', reason: `process ended by ${message.message}` };
        break;
      case 'result':
        outcome ??= { kind: 'ok', result: message, connections: { measured: 0, total: 0, dropped: 0 } };
        break;
    }
  });
  child.send({ type: 'run', contender, workload } satisfies ToContender);
  const { code, signal } = await exited;
  clearTimeout(timer);
  if (!outcome) {
    const tail = stderr.trim().split('\n').slice(-3).join(' | ');
    outcome = { kind: 'failed', reason: `process exited (${signal ?? `code ${code}`}) without a result${tail ? `: ${tail}` : ''}` };
  }
  if (outcome.kind !== 'ok') return outcome;
  const after = await counter.settledCount();
  return {
    ...outcome,
    connections: {
      measured: after.accepted - (atGo ?? before).accepted,
      total: after.accepted - before.accepted,
      dropped: after.dropped - before.dropped,
    },
  };
}
