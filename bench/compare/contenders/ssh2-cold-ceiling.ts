// The ceiling for a cold start: the hand-tuned ssh2 of ssh2-ceiling.ts, but its connections are
// opened inside the clock, on the first command, the way no real client can avoid. Every
// handshake starts at once (up to MaxStartups' 10 unauthenticated), each connection takes
// commands the moment it is ready, and a handshake sshd drops is started again. What a cold
// burst can reach at best; the warm ceiling, connected before the clock, never paid a handshake.
import type { BenchHost } from '../bench-host.js';
import type { Contender, WorkloadHints } from '../contender.js';
import { CEILING_CHANNELS, ceilingContender, takeLeastLoaded } from './ssh2-ceiling.js';
import type { CeilingSlot } from './ssh2-ceiling.js';
import { connectSsh2 } from './ssh2-exec.js';

/** sshd's default MaxStartups starts dropping beyond 10 unauthenticated connections. */
const HANDSHAKES_AT_ONCE = 10;

export async function openSsh2ColdCeiling(hosts: readonly BenchHost[], hints: WorkloadHints): Promise<Contender> {
  const perHost = Math.max(1, Math.ceil(hints.perHostConcurrency / CEILING_CHANNELS));
  const slots: CeilingSlot[][] = hosts.map(() => []);
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
  const take = async (host: number): Promise<CeilingSlot> => {
    if (!started[host]) connectAll(host);
    for (;;) {
      const slot = takeLeastLoaded(slots[host]!);
      if (slot) return slot;
      if (failures[host]!.length >= perHost) throw failures[host]![0];
      await new Promise<void>((resolve) => waiting[host]!.push(resolve));
    }
  };
  return ceilingContender(slots, waiting, take);
}
