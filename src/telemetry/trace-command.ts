import { ERROR_CODES } from '../core/errors.js';
import type { Context } from '@opentelemetry/api';
import { AcquireCancelled, errorCodeForOutcome, errorTypeOf } from '../command/error-mapping.js';
import type { HostPool } from '../pool/host-pool.js';
import type { Slot } from '../pool/slot.js';
import type { ChannelOutcome } from '../command/channel-contract.js';
import type { CommandRequest } from '../command/ssh-command.js';
import { promiseOf } from '../core/promise-of.js';
import { ATTR_ACQUIRE_OUTCOME, ATTR_CHANNEL_BYTES_RECEIVED, ATTR_CHANNEL_BYTES_SENT, ATTR_CONNECTION_ID, ATTR_EXEC_PTY, ATTR_EXEC_SUDO, ATTR_PROCESS_EXIT_CODE } from './constants.js';
import { connectionLink, PoolTelemetry } from './pool-telemetry.js';
import { connectSpanOf } from './telemetry-observer.js';

/** What a traced command run reports back: the outcome and the slot it ran on. */
export interface TracedRun {
  readonly channel: ChannelOutcome;
  readonly slot: Slot | undefined;
}

/**
 * Records `ssh.client.command.duration` of one command and, when a tracer provider is there to
 * receive it, wraps the command in its `ssh.exec` span (child of the caller's active context).
 * The span links to the `ssh.connect` span of the connection the command ran on, and carries
 * the same error code the caller's error will.
 */
export function traceCommand(
  telemetry: PoolTelemetry,
  hostPool: HostPool,
  request: CommandRequest,
  run: (traceContext: Context | undefined) => Promise<TracedRun>,
): Promise<ChannelOutcome> {
  return telemetry.tracing ? traced(telemetry, hostPool, request, run) : untraced(telemetry, hostPool.name, run);
}

async function traced(
  telemetry: PoolTelemetry,
  hostPool: HostPool,
  request: CommandRequest,
  run: (traceContext: Context) => Promise<TracedRun>,
): Promise<ChannelOutcome> {
  const { details, config } = hostPool;
  const scope = telemetry.startExec({
    poolName: hostPool.name,
    host: details.host,
    port: details.port,
    template: request.built.template,
    text: config.telemetry.captureCommand ? request.built.text : undefined,
  });
  const { span } = scope;
  if (request.interaction?.sudo) span.setAttribute(ATTR_EXEC_SUDO, true);
  if (request.interaction?.pty) span.setAttribute(ATTR_EXEC_PTY, true);
  const startedAt = performance.now();
  try {
    const { channel, slot } = await run(scope.context);
    if (slot) {
      span.setAttributes({ [ATTR_ACQUIRE_OUTCOME]: slot.outcome, [ATTR_CONNECTION_ID]: slot.connection.id });
      const link = connectSpanOf(slot.connection);
      if (link) span.addLink(connectionLink(link));
    }
    if (channel.exitCode !== null) span.setAttribute(ATTR_PROCESS_EXIT_CODE, channel.exitCode);
    if (channel.bytesReceived !== undefined) span.setAttribute(ATTR_CHANNEL_BYTES_RECEIVED, channel.bytesReceived);
    if (channel.bytesSent !== undefined) span.setAttribute(ATTR_CHANNEL_BYTES_SENT, channel.bytesSent);
    const errorType = errorCodeForOutcome(channel);
    telemetry.recordCommandDuration(hostPool.name, performance.now() - startedAt, errorType);
    if (errorType) PoolTelemetry.fail(span, errorType);
    else span.end();
    return channel;
  } catch (error) {
    const errorType = errorTypeOf(error);
    span.setAttribute(ATTR_ACQUIRE_OUTCOME, errorType === ERROR_CODES.acquireTimeout || errorType === ERROR_CODES.commandTimeout ? 'timeout' : 'error');
    telemetry.recordCommandDuration(hostPool.name, performance.now() - startedAt, errorType);
    PoolTelemetry.fail(span, errorType, error instanceof AcquireCancelled ? undefined : (error as Error).message);
    throw error;
  }
}

/** With no tracer to record spans: the command's duration metric only, and no async frame of its own. */
function untraced(telemetry: PoolTelemetry, poolName: string, run: (traceContext: undefined) => Promise<TracedRun>): Promise<ChannelOutcome> {
  const startedAt = performance.now();
  return promiseOf(() => run(undefined)).then(
    ({ channel }) => {
      telemetry.recordCommandDuration(poolName, performance.now() - startedAt, errorCodeForOutcome(channel));
      return channel;
    },
    (error: unknown) => {
      telemetry.recordCommandDuration(poolName, performance.now() - startedAt, errorTypeOf(error));
      throw error;
    },
  );
}
