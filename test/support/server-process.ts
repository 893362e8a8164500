// A server binary a test starts (Prometheus, Alertmanager): its recent output for failure
// messages, the wait until it answers, and a stop that is sure to end it and remove its files.
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export class ServerProcess {
  #child: ChildProcess | undefined;
  #log = '';

  /** `name` words the errors; `workDir` is removed at `stop()`. */
  constructor(readonly name: string, child: ChildProcess, readonly workDir: string) {
    this.#child = child;
    const keep = (chunk: Buffer): void => {
      this.#log = (this.#log + chunk.toString('utf8')).slice(-20_000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
  }

  /** The last 20 kB of the server's own output. */
  get log(): string {
    return this.#log;
  }

  /** Polls `readyUrl` until it answers 2xx; stops the server and throws when it exits or 30 s pass. */
  async waitReady(readyUrl: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const exitCode = this.#child?.exitCode;
      if (exitCode !== null && exitCode !== undefined) throw new Error(`${this.name} exited with code ${exitCode}:\n${this.#log}`);
      try {
        if ((await fetch(readyUrl)).ok) return;
      } catch {
        // Not listening yet.
      }
      await sleep(100);
    }
    await this.stop();
    throw new Error(`${this.name} did not become ready within 30 s:\n${this.#log}`);
  }

  /** SIGTERM, then SIGKILL after 10 s; removes the work directory. Idempotent. */
  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const stopped = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
      if (!stopped) {
        child.kill('SIGKILL');
        await exited;
      }
    }
    rmSync(this.workDir, { recursive: true, force: true });
  }
}
