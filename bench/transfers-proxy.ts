// The WAN profile's delay proxy for bench/transfers.ts, in a process of its own: in the
// benchmark's process it would share an event loop (and a core) with the in-process
// contenders, sshpool and node-ssh, and not with the OpenSSH tools. Prints its port, runs
// until its stdin closes.
import { DelayProxy } from './compare/delay-proxy.js';

const [host, port, delayMs] = process.argv.slice(2);
const proxy = await DelayProxy.start({ host: host!, port: Number(port) }, Number(delayMs));
process.stdout.write(`${proxy.port}\n`);
process.stdin.resume();
process.stdin.once('end', () => void proxy.stop().then(() => process.exit(0)));
