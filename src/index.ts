export { $ } from './executor.js';
export type { FileOperations, HostGroupExecutor, HostGroupFanOut, Shell, SSHExecutor } from './executor.js';
export { GroupCommand } from './groups/group-command.js';
export { FanOutCommand } from './groups/fan-out.js';
export { SSHConnectionPool } from './client/connection-pool.js';
export { SSHCommand, DEFAULT_MAX_BUFFER, OutputAbandoned } from './command/ssh-command.js';
export type { StdinInput } from './command/ssh-command.js';
export { MAX_COMMAND_BYTES } from './command/command-limits.js';
export { DEFAULT_MAX_OUTPUT_MEMORY } from './ssh/output-budget.js';
export { SSHLease } from './client/ssh-lease.js';
export { quote } from './command/shell-quote.js';
export type { RawShellText } from './command/shell-quote.js';
export { DEFAULT_POOL_CONFIG } from './config/pool-config.js';
export type { ResolvedPoolConfig } from './config/pool-config.js';
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
  TunnelRefusedError,
  TransferError,
  RemoteFileNotFoundError,
  PermissionDeniedError,
  SftpUnavailableError,
  LocalFileNotFoundError,
  WriteFailedError,
  VerificationError,
  TransferAbortedError,
  TransferTimeoutError,
  TransferConnectionLostError,
  SudoPasswordError,
  SudoNotAllowedError,
  SudoNotInstalledError,
  PromptUnansweredError,
  ERROR_JSON_OUTPUT_CHARS,
} from './core/errors.js';
export type { TransferOperation } from './core/errors.js';
export { DEFAULT_TRANSFER_CONCURRENCY } from './client/transfer-options.js';
export type {
  BaseTransferOptions,
  DownloadTarget,
  ReadFileOptions,
  TransferOptions,
  TransferProgress,
  TransferResult,
  UploadSource,
  WriteFileOptions,
} from './client/transfer-options.js';
export type { CommandErrorJSON, CommandResultSummary, HostFailure, HostKeyRejection, PrivateKeyProblem, SudoPasswordProblem } from './core/errors.js';
export { resolveSSHConfig } from './config/openssh/resolve-ssh-config.js';
export type { ResolveSSHConfigOptions } from './config/openssh/resolve-ssh-config.js';
export type { ResolvedSSHConfig, SSHConfigNotice } from './config/openssh/evaluate-config.js';
export type { CommandResult, StreamedOutput } from './core/command-result.js';
export type { HostKeyPolicy, HostKeyVerification } from './ssh/host-keys/host-key-policy.js';
export type { HealthCheckConfig, PoolConfig, ReconnectConfig, SSHJumpHost, SSHTargetOptions, TelemetryConfig } from './config/types.js';
export type { CloseReason } from './ssh/connection.js';
export type { ConnectionCounts, ConnectionEventDetails } from './pool/types.js';
export type {
  CloseAllOptions,
  GetConnectionOptions,
  PoolEventListener,
  PoolEventName,
  PoolEvents,
  PoolMetrics,
  PoolStats,
  SSHConnectionPoolOptions,
} from './client/types.js';
export type { SSHTarget } from './client/connection-pool.js';
export type { ForwardOptions, ForwardRemoteOptions, SocksOptions, SSHTunnel, TunnelEvents, TunnelListenAddress, TunnelSocketAddress, TunnelTarget } from './client/tunnel-types.js';
export type { KeyboardInteractiveHandler, KeyboardInteractivePrompt, KeyboardInteractiveRound } from './ssh/auth/auth-methods.js';
export type { PtyRequest, RespondRule, SudoOptions } from './command/ssh-command.js';
export type {
  CircuitBreakerConfig,
  FanOutProgress,
  FanOutResult,
  HostGroupEventDetails,
  HostGroupEvents,
  HostGroupMember,
  HostGroupMemberStatus,
  HostGroupStrategy,
  HostState,
  SSHHostGroupTarget,
} from './groups/types.js';
export type { FanOutLine } from './groups/fan-out-lines.js';
export type { FanOutHostFailure, FanOutSummary } from './groups/fan-out-summary.js';
