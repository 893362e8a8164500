import type { BenchHost } from './bench-host.js';

/** What a contender is told about the workload before it starts. */
export interface WorkloadHints {
  /** Commands in flight at once against each host (the ceiling sizes its connections by it). */
  readonly perHostConcurrency: number;
  /**
   * Bytes one command prints before its token, 0 for `echo`. A library that caps output by
   * default (sshpool keeps 16 MiB per stream) is told to keep more, as its docs tell users to.
   */
  readonly outputBytes?: number;
}

/** One way of running remote commands, as a user of that library would write it. */
export interface Contender {
  /** Runs `command` on hosts[host]; resolves with its stdout, rejects when the command did not succeed. */
  run(host: number, command: string): Promise<string>;
  /** CPU (µs) spent for this contender by processes other than this one, e.g. OpenSSH clients. */
  externalCpuMicros?(): Promise<number>;
  close(): Promise<void>;
}

export type ContenderFactory = (hosts: readonly BenchHost[], hints: WorkloadHints) => Promise<Contender>;

export const CONTENDER_IDS = ['sshpool', 'sshpool-no-spares', 'ssh2-per-command', 'ceiling', 'ceiling-cold', 'xec', 'node-ssh', 'openssh-mux'] as const;
export type ContenderId = (typeof CONTENDER_IDS)[number];

export const CONTENDER_LABELS: Record<ContenderId, string> = {
  sshpool: 'sshpool (defaults)',
  'sshpool-no-spares': 'sshpool, spareChannels: false',
  'ssh2-per-command': 'ssh2, new connection per command',
  ceiling: 'hand-tuned ssh2 (ceiling)',
  'ceiling-cold': 'hand-tuned ssh2, connecting inside the clock (cold ceiling)',
  xec: '@xec-sh/core $.ssh',
  'node-ssh': 'node-ssh',
  'openssh-mux': 'OpenSSH ControlMaster',
};

/** Loads a contender's module only in the process that runs it, so no library weighs on another's numbers. */
export async function loadContender(id: ContenderId): Promise<ContenderFactory> {
  switch (id) {
    case 'sshpool':
      return (await import('./contenders/sshpool.js')).openSshpool;
    case 'sshpool-no-spares':
      return (await import('./contenders/sshpool.js')).openSshpoolWithoutSpares;
    case 'ssh2-per-command':
      return (await import('./contenders/ssh2-per-command.js')).openSsh2PerCommand;
    case 'ceiling':
      return (await import('./contenders/ssh2-ceiling.js')).openSsh2Ceiling;
    case 'ceiling-cold':
      return (await import('./contenders/ssh2-cold-ceiling.js')).openSsh2ColdCeiling;
    case 'xec':
      return (await import('./contenders/xec.js')).openXec;
    case 'node-ssh':
      return (await import('./contenders/node-ssh.js')).openNodeSsh;
    case 'openssh-mux':
      return (await import('./contenders/openssh-mux.js')).openOpenSshMux;
  }
}
