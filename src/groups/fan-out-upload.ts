import { internalsOf } from '../client/pool-internals.js';
import type { TransferOptions, TransferResult } from '../client/transfer-options.js';
import { FanOutError, InvalidArgumentError } from '../core/errors.js';
import type { HostFailure } from '../core/errors.js';
import type { FanOutResult } from '../core/fan-out-result.js';
import type { HostGroup } from './host-group.js';

/**
 * `group.all.upload(local, remotePath, options)`: the same file or directory to every member,
 * the group's `concurrency` hosts at a time, each over that host's pooled SFTP channel. Resolves
 * with one settled result per host, in the group's host order, when every host succeeded;
 * otherwise rejects with `FanOutError`, whose `results` still hold every host's outcome. The
 * source must be a path or a Buffer: a stream can be read only once.
 */
export async function fanOutUpload(group: HostGroup, source: string | Buffer, remotePath: string, options?: TransferOptions): Promise<Array<FanOutResult<TransferResult>>> {
  if (typeof source !== 'string' && !Buffer.isBuffer(source)) {
    throw new InvalidArgumentError('group.all.upload() source must be a local path or a Buffer (a stream can be read only once)');
  }
  const { members, concurrency, name } = group.spec;
  const pool = group.pool;
  const results: Array<FanOutResult<TransferResult>> = new Array(members.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < members.length) {
      const index = next++;
      const member = members[index]!;
      try {
        const value = await internalsOf(pool).files(member.normalized).upload(source, remotePath, options);
        results[index] = { host: member.label, status: 'fulfilled', value };
      } catch (error) {
        results[index] = { host: member.label, status: 'rejected', reason: error as Error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, members.length) }, lane));
  const failures: HostFailure[] = results.flatMap((result, index) => result.status === 'rejected'
    ? [{ host: result.host, poolName: internalsOf(pool).poolNameOf(members[index]!.normalized).name, error: result.reason }]
    : []);
  if (failures.length > 0) throw new FanOutError<TransferResult>(`The upload of ${remotePath} to ${name}`, results, failures);
  return results;
}
