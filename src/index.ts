export { $ } from './executor.js';
export type { HostGroupExecutor, Shell, SSHExecutor } from './executor.js';
export { GroupCommand } from './host-group/group-command.js';
export { FanOutCommand } from './host-group/fan-out.js';
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
  JumpHostError,
  AcquireTimeoutError,
  PoolClosedError,
  ChannelRefusedError,
  CommandError,
  CommandFailedError,
  CommandTimeoutError,
  AbortedError,
  ConnectionLostError,
  OutputLimitError,
  HostDownError,
  NoHostAvailableError,
  FanOutError,
  SSHConfigError,
  PrivateKeyError,
} from './errors.js';
export type { HostFailure, HostKeyRejection, PrivateKeyProblem } from './errors.js';
export { resolveSSHConfig } from './ssh-config/ssh-config-resolver.js';
export type { ResolveSSHConfigOptions } from './ssh-config/ssh-config-resolver.js';
export type { ResolvedSSHConfig, SSHConfigNotice } from './ssh-config/resolve-ssh-config.js';
export type * from './types.js';
