// @xec-sh/core as its README shows it: $.ssh(options) once per host, then ssh`command`.
// Its SSH adapter keeps one pooled connection per user@host:port and multiplexes every
// concurrent command on it.
import { $ } from '@xec-sh/core';
import type { BenchHost } from '../bench-host.js';
import type { Contender } from '../contender.js';

/** A template without interpolations: the command text goes to the shell as is. */
const literal = (text: string): TemplateStringsArray => Object.assign([text], { raw: [text] });

export async function openXec(hosts: readonly BenchHost[]): Promise<Contender> {
  const executors = hosts.map((host) =>
    $.ssh({ host: host.host, port: host.port, username: host.username, privateKey: host.privateKey }),
  );
  return {
    async run(host, command) {
      const result = await executors[host]!(literal(command));
      return result.stdout;
    },
    close: () => $.dispose(),
  };
}
