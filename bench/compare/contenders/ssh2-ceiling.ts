// The practical ceiling: plain ssh2 with every connection opened before the clock starts,
// TCP_NODELAY on, and just enough connections for the workload's concurrency at the best
// channel count per connection. No pool logic: no health checks, no telemetry, no limits
// beyond a FIFO queue when every channel is busy.
import type { BenchHost } from '../bench-host.js';
import type { Contender, WorkloadHints } from '../contender.js';
import { ChannelOpenError, connectSsh2, execSsh2 } from './ssh2-exec.js';
import type { Ssh2Client } from './ssh2-exec.js';

/**
 * Channels per connection. OpenSSH allows MaxSessions=10, but under fast churn it already
 * refuses the 6th concurrent channel (it frees a session slot late), so 5 is the most that
 * never costs a refused open. Override with SSHPOOL_BENCH_CEILING_CHANNELS.
 */
export const CEILING_CHANNELS = Number(process.env['SSHPOOL_BENCH_CEILING_CHANNELS'] ?? 5);
/**
 * At most this many connections per host (SSHPOOL_BENCH_CEILING_CONNECTIONS); by default as
 * many as the concurrency needs. Worth lowering when the server is the bottleneck: channels
 * beyond what sshd can fork for only wait on the server instead of the client.
 */
const MAX_CONNECTIONS = Number(process.env['SSHPOOL_BENCH_CEILING_CONNECTIONS'] ?? Number.POSITIVE_INFINITY);

/** One connection of a ceiling and the channels it has in flight. */
export interface CeilingSlot {
  readonly client: Ssh2Client;
  inFlight: number;
}

/** Takes a channel on the least-loaded connection with one free; undefined when all are full. */
export function takeLeastLoaded(slots: readonly CeilingSlot[]): CeilingSlot | undefined {
  let best: CeilingSlot | undefined;
  for (const slot of slots) if (slot.inFlight < CEILING_CHANNELS && (!best || slot.inFlight < best.inFlight)) best = slot;
  if (best) best.inFlight++;
  return best;
}

/**
 * A ceiling's commands: each on a channel from `take`, given back to the first waiter of its
 * host (`waiting`) when it ends; a refused channel (the server slow to free a session) is
 * tried again on another take.
 */
export function ceilingContender(slots: readonly CeilingSlot[][], waiting: ReadonlyArray<Array<() => void>>, take: (host: number) => Promise<CeilingSlot>): Contender {
  const give = (host: number, slot: CeilingSlot): void => {
    slot.inFlight--;
    waiting[host]!.shift()?.();
  };
  return {
    async run(host, command) {
      for (let attempt = 1; ; attempt++) {
        const slot = await take(host);
        try {
          return await execSsh2(slot.client, command);
        } catch (error) {
          if (!(error instanceof ChannelOpenError) || attempt >= 50) throw error;
        } finally {
          give(host, slot);
        }
      }
    },
    async close() {
      for (const slot of slots.flat()) slot.client.end();
    },
  };
}

export async function openSsh2Ceiling(hosts: readonly BenchHost[], hints: WorkloadHints): Promise<Contender> {
  const perHost = Math.max(1, Math.min(MAX_CONNECTIONS, Math.ceil(hints.perHostConcurrency / CEILING_CHANNELS)));
  const slots: CeilingSlot[][] = hosts.map(() => []);
  // Before the clock starts, a few at a time per host (sshd's MaxStartups resets handshakes
  // beyond 10 at once), again after a short pause if the server reset one anyway (a server
  // with a lower MaxStartups resets some of every five).
  await Promise.all(
    hosts.map(async (host, index) => {
      let opened = 0;
      await Promise.all(
        Array.from({ length: Math.min(perHost, 5) }, async () => {
          while (opened < perHost) {
            opened++;
            for (let attempt = 1; ; attempt++) {
              try {
                const client = await connectSsh2(host, { noDelay: true });
                client.on('error', () => {});
                slots[index]!.push({ client, inFlight: 0 });
                break;
              } catch (error) {
                if (attempt >= 20) throw error;
                await new Promise((resolve) => setTimeout(resolve, 10 * attempt));
              }
            }
          }
        }),
      );
    }),
  );
  const waiting: Array<Array<() => void>> = hosts.map(() => []);

  const take = (host: number): Promise<CeilingSlot> => {
    const slot = takeLeastLoaded(slots[host]!);
    if (slot) return Promise.resolve(slot);
    return new Promise((resolve) => waiting[host]!.push(() => resolve(take(host))));
  };
  return ceilingContender(slots, waiting, take);
}
