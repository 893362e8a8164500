// The workloads of the comparison and their sizes (full, and --smoke for CI).

/**
 * Delay the WAN proxy adds each way (25 ms: a 50 ms round trip). SSHPOOL_BENCH_WAN_DELAY_MS
 * sets another: on a busy machine a longer one lets round trips dominate the CPU's noise.
 */
export const WAN_DELAY_MS = Number(process.env['SSHPOOL_BENCH_WAN_DELAY_MS'] ?? 25);

export interface WorkloadDef {
  readonly name: string;
  readonly title: string;
  /** Number of servers (the first `hosts` of the fleet). */
  readonly hosts: number;
  readonly commandsPerHost: number;
  readonly perHostConcurrency: number;
  readonly warmUpPerHost: number;
  readonly outputBytes: number;
  /** Through the delay proxy (`WAN_DELAY_MS` each way). */
  readonly wan: boolean;
  /** sshd_config settings of a server of its own (instead of the fleet's first `hosts`). */
  readonly sshdConfig?: Readonly<Record<string, string | number>>;
}

export interface Sizes {
  readonly fleet: number;
  readonly sequential: number;
  readonly c10: number;
  readonly c100: number;
  readonly c100Concurrency: number;
  readonly fleetCommands: number;
  readonly largeBytes: number;
  readonly largeCommands: number;
  readonly burst: number;
  /** WAN runs divide the command counts by this (each command waits at least one 50 ms round trip). */
  readonly wanDivisor: number;
  /** Workloads run without --only: all of them, or a few for the smoke run. */
  readonly lanWorkloads: readonly string[];
  readonly wanWorkloads: readonly string[];
  /**
   * Workloads every contender runs; the others run sshpool and the ceiling only (the smoke
   * run: every contender's code and every workload's code once, in little time).
   */
  readonly allContendersOn: readonly string[] | 'all';
}

export const FULL_SIZES: Sizes = {
  fleet: 50,
  sequential: 200,
  c10: 1_000,
  c100: 2_000,
  c100Concurrency: 100,
  fleetCommands: 10,
  largeBytes: 50 * 1024 * 1024,
  largeCommands: 3,
  burst: 100,
  wanDivisor: 4,
  lanWorkloads: ['sequential', 'c10', 'c100', 'fleet', 'large-output', 'cold-burst', 'cold-burst-maxstartups-3'],
  wanWorkloads: ['sequential', 'c10', 'c100', 'fleet', 'large-output', 'cold-burst', 'cold-burst-maxstartups-3'],
  allContendersOn: 'all',
};

export const SMOKE_SIZES: Sizes = {
  fleet: 2,
  sequential: 4,
  c10: 20,
  c100: 20,
  c100Concurrency: 20,
  fleetCommands: 2,
  largeBytes: 256 * 1024,
  largeCommands: 1,
  burst: 5,
  wanDivisor: 1,
  lanWorkloads: ['sequential', 'c10', 'fleet', 'large-output', 'cold-burst'],
  wanWorkloads: ['sequential'],
  allContendersOn: ['sequential'],
};

export function workloadsFor(sizes: Sizes): WorkloadDef[] {
  const coldBurst: WorkloadDef = {
    name: 'cold-burst',
    title: `Cold burst: ${sizes.burst} first calls at once, default MaxStartups`,
    hosts: 1,
    commandsPerHost: sizes.burst,
    perHostConcurrency: sizes.burst,
    warmUpPerHost: 0,
    outputBytes: 0,
    wan: false,
  };
  const all: WorkloadDef[] = [
    { name: 'sequential', title: 'Sequential latency: one command at a time, warm', hosts: 1, commandsPerHost: sizes.sequential, perHostConcurrency: 1, warmUpPerHost: 5, outputBytes: 0, wan: false },
    { name: 'c10', title: 'Throughput, 10 in flight, one host, warm', hosts: 1, commandsPerHost: sizes.c10, perHostConcurrency: 10, warmUpPerHost: 20, outputBytes: 0, wan: false },
    {
      name: 'c100',
      title: `Throughput, ${sizes.c100Concurrency} in flight, one host, warm`,
      hosts: 1,
      commandsPerHost: sizes.c100,
      perHostConcurrency: sizes.c100Concurrency,
      warmUpPerHost: 2 * sizes.c100Concurrency,
      outputBytes: 0,
      wan: false,
    },
    {
      name: 'fleet',
      title: `Fleet: ${sizes.fleet} servers × ${sizes.fleetCommands} commands (in order per host, all hosts at once), cold`,
      hosts: sizes.fleet,
      commandsPerHost: sizes.fleetCommands,
      perHostConcurrency: 1,
      warmUpPerHost: 0,
      outputBytes: 0,
      wan: false,
    },
    {
      name: 'large-output',
      title: `Large output: ${sizes.largeBytes >= 2 ** 20 ? `${(sizes.largeBytes / 2 ** 20).toFixed(0)} MiB` : `${(sizes.largeBytes / 1024).toFixed(0)} KiB`} per command, ${sizes.largeCommands} in a row, warm`,
      hosts: 1,
      commandsPerHost: sizes.largeCommands,
      perHostConcurrency: 1,
      warmUpPerHost: 1,
      outputBytes: sizes.largeBytes,
      wan: false,
    },
    coldBurst,
    // The same burst against a server of its own that drops every handshake beyond three at once.
    { ...coldBurst, name: 'cold-burst-maxstartups-3', title: `Cold burst: ${sizes.burst} first calls at once, MaxStartups 3`, sshdConfig: { MaxStartups: 3 } },
  ];
  const lan = all.filter((w) => sizes.lanWorkloads.includes(w.name));
  const wan = all
    .filter((w) => sizes.wanWorkloads.includes(w.name))
    .map((w): WorkloadDef => {
      // A burst or a fleet is defined by its count; the steady workloads are shortened.
      const keep = w.name.startsWith('cold-burst') || w.name === 'fleet' || w.name === 'large-output';
      const commandsPerHost = keep ? w.commandsPerHost : Math.max(w.perHostConcurrency, Math.round(w.commandsPerHost / sizes.wanDivisor));
      return { ...w, name: `wan-${w.name}`, title: `WAN (+${WAN_DELAY_MS} ms each way) ${w.title.charAt(0).toLowerCase()}${w.title.slice(1)}`, commandsPerHost, wan: true };
    });
  return [...lan, ...wan];
}
