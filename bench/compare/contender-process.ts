// One contender running one workload, in a process of its own: a library that crashes,
// hangs or leaks ends only this process, and its CPU time is measured apart from everyone
// else's. Started by bench/compare.ts; talks over the IPC channel (protocol.ts).
import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Contender } from './contender.js';
import { loadContender } from './contender.js';
import { machineBusyMicros } from './proc-cpu.js';
import type { ContenderResult, FromContender, ToContender, WorkloadRun } from './protocol.js';
import { summarize } from './stats.js';

const send = (message: FromContender): Promise<void> =>
  new Promise((resolve) => process.send!(message, () => resolve()));

// A library that throws from a timer or socket callback would end a real application too:
// report it as a crash with its message.
const crash = (how: string) => (error: unknown): void => {
  let message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  // Where it came from: the first frame inside a library, if any.
  const frame = error instanceof Error ? error.stack?.split('\n').find((line) => line.includes('node_modules/')) : undefined;
  if (frame) message += ` (${frame.trim().replace(/^at /, 'at ').replace(/.*node_modules\//, 'node_modules/')})`;
  void send({ type: 'crash', message: `${how}: ${message}` }).finally(() => process.exit(70));
};
process.on('uncaughtException', crash('uncaught exception'));
process.on('unhandledRejection', crash('unhandled rejection'));
process.on('disconnect', () => process.exit(0));

class Tally {
  readonly latencies: number[] = [];
  /** Failures grouped by cause; each keeps its first message as the example shown. */
  readonly errors = new Map<string, { example: string; count: number }>();
  failed = 0;
  done = 0;
  /** Commands not started because the workload's time cap was reached (slow, not failed). */
  skipped = 0;

  fail(message: string): void {
    this.failed++;
    // Digits vary per command (ports, tokens, counts); without them equal causes group together.
    const key = message.replace(/\d+/g, 'N').slice(0, 160);
    const entry = this.errors.get(key);
    if (entry) entry.count++;
    else this.errors.set(key, { example: message.slice(0, 200), count: 1 });
  }
}

function commandFor(token: string, outputBytes: number): string {
  return outputBytes > 0 ? `head -c ${outputBytes} /dev/zero | tr '\\0' a; echo ${token}` : `echo ${token}`;
}

/** The output must be exactly what the command prints: a lost, mixed-up or cut output is a failure. */
function checkOutput(output: string, token: string, outputBytes: number): string | undefined {
  const text = output.endsWith('\n') ? output.slice(0, -1) : output;
  if (outputBytes === 0) return text === token ? undefined : `wrong output: ${JSON.stringify(text.slice(0, 60))}`;
  if (text.length !== outputBytes + token.length || !text.endsWith(token)) {
    return `wrong output: ${text.length} characters, expected ${outputBytes + token.length}`;
  }
  for (const at of [0, outputBytes >> 1, outputBytes - 1]) if (text[at] !== 'a') return `wrong output at offset ${at}`;
  return undefined;
}

async function runPhase(contender: Contender, workload: WorkloadRun, perHost: number, tally: Tally, prefix: string): Promise<void> {
  const started = performance.now();
  let serial = 0;
  const runOne = async (host: number): Promise<void> => {
    const token = `${prefix}${(serial++).toString(36)}`;
    const begin = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${workload.commandTimeoutMs} ms`)), workload.commandTimeoutMs);
    });
    try {
      const output = await Promise.race([contender.run(host, commandFor(token, workload.outputBytes)), timeout]);
      const wrong = checkOutput(output, token, workload.outputBytes);
      if (wrong) tally.fail(wrong);
      else tally.latencies.push(performance.now() - begin);
    } catch (error) {
      tally.fail(error instanceof Error ? error.message : String(error));
    } finally {
      clearTimeout(timer);
      tally.done++;
    }
  };
  await Promise.all(
    workload.hosts.map(async (_, host) => {
      let issued = 0;
      await Promise.all(
        Array.from({ length: Math.min(workload.perHostConcurrency, perHost) }, async () => {
          while (issued < perHost) {
            issued++;
            if (performance.now() - started > workload.deadlineMs) {
              tally.skipped++;
              continue;
            }
            await runOne(host);
          }
        }),
      );
    }),
  );
}

async function run(contenderId: Parameters<typeof loadContender>[0], workload: WorkloadRun): Promise<ContenderResult> {
  const factory = await loadContender(contenderId);
  const contender = await factory(workload.hosts, { perHostConcurrency: workload.perHostConcurrency, outputBytes: workload.outputBytes });
  const prefix = `t${randomBytes(3).toString('hex')}x`;

  const warm = new Tally();
  if (workload.warmUpPerHost > 0) await runPhase(contender, workload, workload.warmUpPerHost, warm, `${prefix}w`);

  // The orchestrator counts the server's connections now, then lets the clock start.
  const go = new Promise<void>((resolve) => {
    const onMessage = (message: ToContender): void => {
      if (message.type !== 'go') return;
      process.off('message', onMessage);
      resolve();
    };
    process.on('message', onMessage);
  });
  await send({ type: 'warmed' });
  await go;

  const tally = new Tally();
  const loop = monitorEventLoopDelay({ resolution: 5 });
  const externalBefore = (await contender.externalCpuMicros?.()) ?? 0;
  const cpuBefore = process.cpuUsage();
  const machineBefore = machineBusyMicros();
  loop.enable();
  const started = performance.now();
  await runPhase(contender, workload, workload.commandsPerHost, tally, `${prefix}m`);
  const elapsedMs = performance.now() - started;
  loop.disable();
  const cpu = process.cpuUsage(cpuBefore);
  const machineBusy = machineBusyMicros() - machineBefore;
  const externalAfter = (await contender.externalCpuMicros?.()) ?? 0;
  const rssBytes = process.memoryUsage().rss;

  // A close that hangs must not hold the result back.
  await Promise.race([contender.close().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);

  return {
    type: 'result',
    commands: workload.commandsPerHost * workload.hosts.length - tally.skipped,
    skipped: tally.skipped,
    failed: tally.failed,
    errors: [...tally.errors.values()].sort((a, b) => b.count - a.count).slice(0, 4).map(({ example, count }) => ({ message: example, count })),
    elapsedMs,
    latencyMs: summarize(tally.latencies),
    cpuMicros: cpu.user + cpu.system + (externalAfter - externalBefore),
    machineBusyMicros: machineBusy,
    loopDelayMs: { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
    rssBytes,
    warmUpFailed: warm.failed,
  };
}

process.once('message', (message: ToContender) => {
  if (message.type !== 'run') return;
  run(message.contender, message.workload).then(
    async (result) => {
      await send(result);
      process.exit(0);
    },
    crash('failed'),
  );
});
