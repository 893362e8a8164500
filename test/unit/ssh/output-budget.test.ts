// The pool-wide bound on output held by running commands (`maxOutputMemory`): commands past it
// pause (the server waits, through the SSH window) and resume when others finish; when every
// command holding output is paused, the one holding the most ends with OutputLimitError.
import { afterAll, describe, expect, it } from 'vitest';
import { $, DEFAULT_MAX_OUTPUT_MEMORY, InvalidArgumentError, OutputLimitError, SSHConnectionPool } from '../../../src/index.js';
import { OutputBudget } from '../../../src/ssh/output-budget.js';
import type { OutputBudgetMember } from '../../../src/ssh/output-budget.js';
import { EmbeddedSshServer } from '../../support/embedded-ssh-server.js';
import { until } from '../../support/until.js';

const MiB = 1024 * 1024;

function member(): OutputBudgetMember & { paused: boolean; starved: boolean; log: string[] } {
  const m = {
    paused: false,
    starved: false,
    log: [] as string[],
    pause: () => {
      m.paused = true;
      m.log.push('pause');
    },
    resume: () => {
      m.paused = false;
      m.log.push('resume');
    },
    starve: () => {
      m.starved = true;
      m.log.push('starve');
    },
  };
  return m;
}

describe('OutputBudget', () => {
  it('pauses a command whose output takes the total past the limit, and resumes it when another leaves', async () => {
    const budget = new OutputBudget(100);
    const a = member();
    const b = member();
    budget.join(a);
    budget.join(b);
    budget.take(a, 60);
    budget.take(b, 30);
    expect(a.paused || b.paused).toBe(false);
    budget.take(b, 30);
    expect(b.paused).toBe(true);
    expect(budget.used).toBe(120);
    // a still runs and may finish: nobody is ended.
    await new Promise((resolve) => setImmediate(resolve));
    expect(a.starved || b.starved).toBe(false);
    budget.leave(a);
    await until(() => !b.paused, 1_000, 'b resumed');
    expect(budget.used).toBe(60);
    budget.leave(b);
    expect(budget.used).toBe(0);
  });

  it('when every command holding output is paused, ends the one holding the most; one holding nothing does not count', async () => {
    const budget = new OutputBudget(100);
    const [a, b, idle] = [member(), member(), member()];
    for (const m of [a, b, idle]) budget.join(m);
    budget.take(a, 70);
    budget.take(b, 40);
    budget.take(a, 1);
    expect(a.paused && b.paused).toBe(true);
    await until(() => a.starved, 1_000, 'the largest holder ended');
    expect(b.starved).toBe(false);
    budget.leave(a);
    await until(() => !b.paused, 1_000, 'b resumed');
    expect(idle.log).toEqual([]);
  });
});

describe('maxOutputMemory on a pool', () => {
  let server: EmbeddedSshServer;
  const pools: SSHConnectionPool[] = [];
  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.closeAll()));
    await server?.stop();
  });
  const sshWith = async (maxOutputMemory: number) => {
    server ??= await new EmbeddedSshServer().start();
    const pool = new SSHConnectionPool({ maxOutputMemory, maxChannelsPerConnection: 10 });
    pools.push(pool);
    return $.ssh({ host: server.host, port: server.port, username: server.username, privateKey: server.privateKey, hostKey: 'off', pool });
  };

  it('is validated and documented with its default', () => {
    expect(DEFAULT_MAX_OUTPUT_MEMORY).toBe(512 * MiB);
    expect(() => new SSHConnectionPool({ maxOutputMemory: -1 })).toThrow(InvalidArgumentError);
    expect(() => new SSHConnectionPool({ maxOutputMemory: 1.5 })).toThrow(/options\.maxOutputMemory must be an integer/);
  });

  it('a command paused by the budget resumes when another finishes, and both get every byte', async () => {
    const ssh = await sshWith(8 * MiB);
    // The first holds 5 MB until it exits; the second starts 1.5 s after the first has written
    // everything, and its 4 MB take the total past 8 MiB (each alone fits).
    const finished: string[] = [];
    const flag = `written-${process.pid}-${Date.now()}`;
    const first = ssh`head -c 5000000 /dev/zero; touch ${flag}; sleep 3`.then((r) => (finished.push('first'), r));
    const second = ssh`until [ -e ${flag} ]; do sleep 0.05; done; sleep 1.5; head -c 4000000 /dev/zero`.then((r) => (finished.push('second'), r));
    const [a, b] = await Promise.all([first, second]);
    expect(a.stdoutBuffer.length).toBe(5_000_000);
    expect(b.stdoutBuffer.length).toBe(4_000_000);
    // The second could only finish once the first had given its bytes back.
    expect(finished).toEqual(['first', 'second']);
  });

  it('regression: concurrent endless outputs grew memory without bound — each ends with OutputLimitError naming maxOutputMemory', async () => {
    const ssh = await sshWith(8 * MiB);
    const endless = Array.from({ length: 6 }, () => ssh`yes`.maxBuffer(64 * MiB).nothrow());
    const results = await Promise.all(endless);
    for (const result of results) expect(result.ok).toBe(false);
    const error = await ssh`yes`.maxBuffer(64 * MiB).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutputLimitError);
    expect((error as OutputLimitError).message).toContain('maxOutputMemory (8388608 bytes)');
    expect((error as OutputLimitError).limitBytes).toBe(8 * MiB);
    // Everything was given back: a command within the budget runs as usual.
    await expect(ssh`head -c 7000000 /dev/zero | wc -c`).resolves.toMatchObject({ stdout: '7000000\n' });
  });
});
