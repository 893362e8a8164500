export { $ } from './executor.js';
export type { Shell, SSHExecutor } from './executor.js';
export { SSHConnectionPool } from './connection-pool.js';
export { SSHCommand, DEFAULT_MAX_BUFFER } from './ssh-command.js';
export { MAX_COMMAND_BYTES } from './command-limits.js';
export { SSHLease } from './ssh-lease.js';
export { quote } from './shell-quote.js';
export type { RawShellText } from './shell-quote.js';
export { DEFAULT_POOL_CONFIG } from './pool-config.js';
export type { ResolvedPoolConfig } from './pool-config.js';
export {
  SSHPoolError,
  InvalidArgumentError,
  ConnectError,
  AuthenticationError,
  HostKeyError,
  ConnectTimeoutError,
  AcquireTimeoutError,
  PoolClosedError,
  ChannelRefusedError,
  CommandError,
  CommandFailedError,
  CommandTimeoutError,
  AbortedError,
  ConnectionLostError,
  OutputLimitError,
} from './errors.js';
export type { HostKeyRejection } from './errors.js';
export type * from './types.js';
