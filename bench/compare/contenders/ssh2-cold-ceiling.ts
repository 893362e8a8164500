// The ceiling for a cold start: the hand-tuned ssh2 of ssh2-ceiling.ts, but its connections are
// opened inside the clock, on the first command, the way no real client can avoid. Every
// handshake starts at once (up to MaxStartups' 10 unauthenticated), each connection takes
// commands the moment it is ready, and a handshake sshd drops is started again. What a cold
// burst can reach at best; the warm ceiling, connected before the clock, never paid a handshake.
import type { BenchHost } from '../bench-host.js';
import type { Contender, WorkloadHints } from '../contender.js';
import { CEILING_CHANNELS } from './ssh2-ceiling.js';
import { ChannelOpenError, connectSsh2, execSsh2 } from './ssh2-exec.js';
import type { Ssh2Client } from './ssh2-exec.js';

/** sshd's default MaxStartups starts dropping beyond 10 unauthenticated connections. */
const HANDSHAKES_AT_ONCE = 10;

interface Slot {
  readonly client: Ssh2Client;
  inFlight: number;
}

export async function openSsh2ColdCeiling(hosts: readonly BenchHost[], hints: WorkloadHints): Promise<Contender> {
  const perHost = Math.max(1, Math.ceil(hints.perHostConcurrency / CEILING_CHANNELS));
  const slots: Slot[][] = hosts.map(() => []);
  const waiting: Array<Array<() => void>> = hosts.map(() => []);
  const started = hosts.map(() => false);
  const failures: unknown[][] = hosts.map(() => []);

  const wake = (host: number): void => {
    // Every waiter looks again: a new connection has CEILING_CHANNELS free slots at once.
    const woken = waiting[host]!.splice(0);
    for (const resolve of woken) resolve();
  };
  const connectAll = (host: number): void => {
    started[host] = true;
    let opened = 0;
    for (let worker = 0; worker < Math.min(perHost, HANDSHAKES_AT_ONCE); worker++) {
      void (async () => {
        while (opened < perHost) {
          opened++;
          for (let attempt = 1; ; attempt++) {
            try {
              const client = await connectSsh2(hosts[host]!, { noDelay: true });
              client.on('error', () => {});
              slots[host]!.push({ client, inFlight: 0 });
              wake(host);
              break;
            } catch (error) {
              if (attempt >= 5) {
                failures[host]!.push(error);
                wake(host);
                break;
              }
            }
          }
        }
      })();
    }
  };
  const take = async (host: number): Promise<Slot> => {
    if (!started[host]) connectAll(host);
    for (;;) {
      let best: Slot | undefined;
      for (const slot of slots[host]!) if (slot.inFlight < CEILING_CHANNELS && (!best || slot.inFlight < best.inFlight)) best = slot;
      if (best) {
        best.inFlight++;
        return best;
      }
      if (failures[host]!.length >= perHost) throw failures[host]![0];
      await new Promise<void>((resolve) => waiting[host]!.push(resolve));
    }
  };
  const give = (host: number, slot: Slot): void => {
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
