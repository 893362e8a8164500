// A real OpenSSH ssh-agent for tests, on a socket of its own, stopped by pid.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestAgent {
  readonly socket: string;
  /** ssh-add a private key file (unencrypted, mode 0600). */
  add(keyFile: string): void;
  stop(): Promise<void>;
}

export async function startSshAgent(): Promise<TestAgent> {
  const dir = mkdtempSync(join(tmpdir(), 'sshpool-agent-'));
  const socket = join(dir, 'agent.sock');
  // -D: foreground, so the test owns the process and can end it by pid.
  const child: ChildProcess = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
  const deadline = Date.now() + 5_000;
  while (!existsSync(socket)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`ssh-agent did not create ${socket}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return {
    socket,
    add(keyFile: string): void {
      execFileSync('ssh-add', ['-q', keyFile], { env: { ...process.env, SSH_AUTH_SOCK: socket }, stdio: 'pipe' });
    },
    async stop(): Promise<void> {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
