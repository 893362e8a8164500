import type { CommandChannel } from './command-channel.js';
import type { CancelSignal } from '../core/cancel-source.js';
import { windowKeeper } from './channel-window.js';
import { OutputBuffer } from './output-buffer.js';
import type { ChannelEnding, ChannelOutcome, OutputSink, StdinSource } from '../command/channel-contract.js';
import { pumpStdin } from './stdin-pump.js';
import { PROCESS_GROUP_LINE_MAX, processGroupOf } from '../command/process-group-marker.js';
import type { IoListener, RunningChannel } from './connection.js';
import type { OutputBudget, OutputBudgetMember } from './output-budget.js';
import type { ChannelInteraction } from '../command/interaction.js';
import { SudoHandshake } from '../command/sudo-handshake.js';
import { PromptResponder } from '../command/prompt-responder.js';

/** How long a signalled command gets to end before its process group is killed as well. */
const SIGNAL_GRACE_MS = 50;

const ignore = (): void => {};

export interface ChannelRequest {
  readonly stdin: string | Buffer | StdinSource | undefined;
  /** Bytes allowed per kept stream before the channel is closed. */
  readonly maxBuffer: number;
  /** Streams consumed as they arrive instead of kept (see `OutputSink`). */
  readonly stdoutSink?: OutputSink | undefined;
  readonly stderrSink?: OutputSink | undefined;
  readonly onIo?: IoListener | undefined;
  /** Fires (with a `CancelReason`) when the command must stop early. */
  readonly cancel: CancelSignal;
  /** Whether stdout starts with the process-group report (command/process-group-marker.ts). */
  readonly reportsProcessGroup: boolean;
  /** The pool-wide bound on output held by running commands; none: unbounded. */
  readonly outputBudget?: OutputBudget | undefined;
  /** A terminal, sudo, answers to prompts. */
  readonly interaction?: ChannelInteraction | undefined;
}

/** What run-channel needs from the connection that carries the channel. */
export interface ChannelHost {
  /** True while the connection can still carry channels. */
  readonly usable: boolean;
  onClose(listener: () => void): () => void;
  /**
   * Whether the server honours the SSH `signal` request for this login (OpenSSH 9.2 refuses it
   * for root): then the process-group kill waits a moment for the signal to do the job.
   */
  readonly signalsHonoured: boolean;
  /**
   * Kills a remote process group from a channel of its own; best effort. `done(true)`: the kill
   * ran. `relayed`: TERM first, so that sudo relays it to its root child, which no signal from
   * the login user can reach.
   */
  killProcessGroup(pgid: number, done?: (killed: boolean) => void, relayed?: boolean): void;
}

/**
 * Feeds stdin, gathers or streams output, reports one command's exit, and kills it when
 * cancelled. Streamed output goes to its sink as it arrives; while a sink is full the channel
 * is paused, so its window is not topped up and the server's writer waits.
 */
export function runChannel(host: ChannelHost, channel: CommandChannel, request: ChannelRequest): RunningChannel {
  const { stdoutSink, stderrSink, onIo } = request;
  const stdout = new OutputBuffer(stdoutSink ? 0 : request.maxBuffer);
  const stderr = new OutputBuffer(stderrSink ? 0 : request.maxBuffer);
  let bytesReceived = 0;
  let bytesSent = 0;
  let stdinError: unknown;
  let exitCode: number | null = null;
  let signal: string | null = null;
  let settle!: (outcome: ChannelOutcome) => void;
  let markFreed!: () => void;
  let settled = false;
  let closed = false;
  // Until the marker line has been seen (or ruled out), stdout bytes wait here.
  let markerPending: Buffer | undefined = request.reportsProcessGroup ? Buffer.alloc(0) : undefined;
  let pgid: number | undefined;
  let killWanted = false;
  let killConfirmed = false;
  // Only a command that reports its process group can have its kill wait for that report.
  let markKillSent: (() => void) | undefined;
  const killSent = request.reportsProcessGroup ? new Promise<void>((resolve) => (markKillSent = resolve)) : undefined;

  // A paused channel delivers nothing, so its window is not topped up (windowKeeper runs per
  // chunk) and ssh2 stops replenishing it once its own buffer is full: the server must wait.
  // Three reasons to pause share one switch: the budget's, and each full sink.
  const budget = request.outputBudget;
  let paused = false;
  let budgetPaused = false;
  let stdoutFull = false;
  let stderrFull = false;
  const applyFlow = (): void => {
    const wanted = !settled && (budgetPaused || stdoutFull || stderrFull);
    if (wanted === paused) return;
    paused = wanted;
    if (wanted) {
      channel.pause();
      channel.stderr.pause();
    } else {
      channel.resume();
      channel.stderr.resume();
    }
  };
  const member: OutputBudgetMember | undefined = budget && {
    pause: () => {
      budgetPaused = true;
      applyFlow();
    },
    resume: () => {
      budgetPaused = false;
      applyFlow();
    },
    starve: () => stopEarly('output-budget'),
  };
  stdoutSink?.onReady(() => {
    stdoutFull = false;
    applyFlow();
  });
  stderrSink?.onReady(() => {
    stderrFull = false;
    applyFlow();
  });
  if (member) budget!.join(member);

  const interaction = request.interaction;
  const write = (text: string): void => {
    if (!settled) channel.write(text);
  };
  const sent = (bytes: number): void => {
    bytesSent += bytes;
    onIo?.('transmit', bytes);
  };
  // EOF right after stdin, so that a command that reads its input (cat, sh -s) does not wait
  // forever; not with prompts to answer, whose answers follow later.
  const sendInput = (): void => {
    const { stdin } = request;
    const keepOpen = interaction?.respond !== undefined;
    if (stdin === undefined) {
      if (!keepOpen) channel.end();
    } else if (typeof stdin === 'string' || Buffer.isBuffer(stdin)) {
      sent(Buffer.byteLength(stdin));
      if (keepOpen) channel.write(stdin);
      else channel.end(stdin);
    } else {
      pumpStdin(channel, stdin, {
        over: () => settled || closed,
        sent,
        failed: (error) => {
          stdinError = error;
          stopEarly('stdin-failed');
        },
      });
    }
  };
  const sudo = interaction?.sudo
    ? new SudoHandshake(
        interaction.sudo,
        write,
        // A terminal has no EOF of its own: ^D at the start of a line is how it says so.
        () => (interaction.pty ? write('\u0004') : channel.end()),
        () => {
          if (!settled) sendInput();
        },
      )
    : undefined;
  const responder = interaction?.respond ? new PromptResponder(interaction.respond, write) : undefined;
  const outcome = new Promise<ChannelOutcome>((resolve) => (settle = resolve));
  const freed = new Promise<void>((resolve) => (markFreed = resolve));

  const finish = (ending: ChannelEnding): void => {
    if (settled) return;
    // A short first output that never became a full line: the command's own, not a report.
    if (markerPending && markerPending.length > 0 && ending === 'closed') {
      if (stdoutSink) stdoutSink.write(markerPending);
      else stdout.append(markerPending);
    }
    settled = true;
    request.cancel.removeEventListener('abort', onCancel);
    if (member) budget!.leave(member);
    // ssh2 emits a channel's close only once its streams have ended: a paused one must drain
    // (what it still holds is dropped, and with no more top-ups the server soon stops).
    applyFlow();
    const verdict = ending === 'closed' ? sudo?.verdict(exitCode) : undefined;
    // A refusal's words are sudo's, kept back while it was watched: they become the stderr.
    if (verdict) (interaction?.pty ? stdout : stderr).append(sudo!.said);
    let ended: ChannelOutcome = { stdout: stdout.bytes(), stderr: stderr.bytes(), exitCode, signal, ending, bytesReceived, bytesSent };
    if (ending === 'output-budget') ended = { ...ended, outputBudgetBytes: budget!.limit };
    else if (ending === 'stdin-failed') ended = { ...ended, stdinError };
    if (verdict) ended = { ...ended, sudo: verdict };
    if (responder) ended = { ...ended, lastLine: responder.lastLine };
    settle(ended);
  };

  // Kills the process group once its id is known, then closes our side. Closing earlier could
  // lose the marker line that carries the id. The signal waits for the marker too: sshd answers
  // the exec as soon as it has forked, and its `killpg(pid)` finds no group until the child has
  // called setsid(), so a signal sent at once (a stdin stream failing on its first read) was
  // lost, and the channel closed under a command that went on (`cat; exec sleep` outlived it).
  const kill = (): void => {
    // A KILL would end sudo before it could relay anything to its root child: TERM, which it relays.
    sendSignal(channel, sudo ? 'TERM' : 'KILL');
    markKillSent?.();
    if (closed) return;
    channel.close();
    if (pgid === undefined || !host.usable) return;
    const killGroup = (): void => {
      if (!closed && host.usable) host.killProcessGroup(pgid!, (killed) => (killConfirmed = killed), sudo !== undefined);
    };
    // Where the SSH signal request works it usually ends the command by itself; the kill
    // channel (one more session on the server) is then only needed if the channel stays open.
    if (!host.signalsHonoured || sudo) return killGroup();
    setTimeout(killGroup, SIGNAL_GRACE_MS).unref();
  };

  const stopEarly = (ending: ChannelEnding): void => {
    finish(ending);
    if (killWanted) return;
    killWanted = true;
    if (!markerPending) kill();
  };

  const onCancel = (): void => {
    const reason = request.cancel.reason as unknown;
    stopEarly(reason === 'aborted' ? 'aborted' : reason === 'shutdown' ? 'shutdown' : 'timeout');
  };

  const keepStdout = (chunk: Buffer): void => {
    if (settled || chunk.length === 0) return;
    if (sudo && interaction?.pty) chunk = sudo.feed(chunk);
    if (chunk.length === 0) return;
    responder?.feed(chunk);
    if (stdoutSink) {
      if (!stdoutSink.write(chunk)) {
        stdoutFull = true;
        applyFlow();
      }
    } else if (!stdout.append(chunk)) stopEarly('output-limit');
    else if (member) budget!.take(member, chunk.length);
  };

  const readMarker = (chunk: Buffer): void => {
    const pending = Buffer.concat([markerPending!, chunk]);
    const newline = pending.indexOf(0x0a);
    if (newline === -1 && pending.length < PROCESS_GROUP_LINE_MAX) {
      markerPending = pending;
      return;
    }
    markerPending = undefined;
    // A terminal ends the line with \r\n.
    const reported = newline === -1 ? undefined : processGroupOf(pending.subarray(0, newline).toString('latin1').replace(/\r$/, ''));
    if (reported === undefined) {
      // Not our line after all (a shell that printed first): everything is the command's output.
      keepStdout(pending);
      if (killWanted) kill();
      return;
    }
    pgid = reported;
    if (killWanted) kill();
    keepStdout(pending.subarray(newline + 1));
  };

  const topUpWindow = windowKeeper(channel, budget?.roomy);
  // A settled command takes no more output: its window is left to run dry while it is killed.
  const onStdout = (chunk: Buffer): void => {
    bytesReceived += chunk.length;
    onIo?.('receive', chunk.length);
    if (markerPending) readMarker(chunk);
    else keepStdout(chunk);
    if (!settled) topUpWindow();
  };
  const onStderr = (chunk: Buffer): void => {
    bytesReceived += chunk.length;
    onIo?.('receive', chunk.length);
    if (settled) return;
    topUpWindow();
    if (sudo && !interaction?.pty) chunk = sudo.feed(chunk);
    if (chunk.length === 0) return;
    responder?.feed(chunk);
    if (stderrSink) {
      if (!stderrSink.write(chunk)) {
        stderrFull = true;
        applyFlow();
      }
    } else if (!stderr.append(chunk)) stopEarly('output-limit');
    else if (member) budget!.take(member, chunk.length);
  };
  const onExit = (code: number | null, signalName?: string): void => {
    exitCode = typeof code === 'number' ? code : null;
    signal = typeof signalName === 'string' ? signalName : null;
  };
  channel.on('data', onStdout);
  channel.stderr.on('data', onStderr);
  channel.on('exit', onExit);
  // Writes racing a closing channel surface here; the close event tells the real story.
  channel.on('error', ignore);
  channel.stderr.on('error', ignore);
  // The server closed the channel before the connection went: the command ended, and what it
  // said (exit status included) is all in the client, some perhaps held for a slow reader.
  let closedByServer = false;
  const stopWatchingConnection = host.onClose(() => {
    closed = true;
    markKillSent?.();
    markFreed();
    // ssh2 marks the server's CLOSE on the channel as it parses it, while `close` waits for
    // stdout's reader; it tells its client's listeners of the loss (this one) before it closes
    // the channels still open, which marks them too.
    if (serverClosed(channel)) closedByServer = true;
    else finish('connection-lost');
  });
  channel.once('close', () => {
    closed = true;
    markKillSent?.();
    stopWatchingConnection();
    markFreed();
    // The server's close ended the command; whether the connection still stood is decided now,
    // not once a slow reader has taken the output.
    const ending = closedByServer || host.usable ? 'closed' : 'connection-lost';
    const over = (): void => {
      // Nothing more arrives. The channel may outlive its command in the young generation's
      // view (ssh2's channel table keeps old references to it), and its listeners would keep
      // this command's state alive with it, to be promoted and collected by a full GC.
      channel.off('data', onStdout);
      channel.stderr.off('data', onStderr);
      channel.off('exit', onExit);
      finish(ending);
    };
    // ssh2 emits close once stdout has ended, but stderr may still hold output for a paused
    // reader (a full stdout sink pauses both): it is the command's too, so the end waits for it.
    if (channel.stderr.readable === true) channel.stderr.once('end', over);
    else over();
  });

  if (request.cancel.aborted) onCancel();
  else request.cancel.addEventListener('abort', onCancel, { once: true });

  if (!settled && !sudo) sendInput();
  return { outcome, freed, killSent, killConfirmed: () => killConfirmed };
}

/**
 * Whether ssh2 has parsed the server's CLOSE of this channel: it marks its `incoming` end
 * closed then (ssh2's Channel and a DirectSession alike), while `close` waits for stdout's reader.
 */
function serverClosed(channel: CommandChannel): boolean {
  return (channel as unknown as ChannelInternals).incoming?.state === 'closed';
}

interface ChannelInternals {
  incoming?: { state?: string };
  outgoing?: { id?: number; state?: string };
  _client?: { _protocol?: { signal?: (id: number, name: string) => void } };
}

/**
 * Sends the SSH `signal` request. OpenSSH honours it for non-root logins (it is then a second
 * line of defence next to the process-group kill). ssh2's public `signal()` refuses once stdin
 * has been closed (which every command does at start), so the request goes through the
 * protocol object, guarded for shape.
 */
function sendSignal(channel: CommandChannel, name: string): void {
  const internals = channel as unknown as ChannelInternals;
  const id = internals.outgoing?.id;
  const signal = internals._client?._protocol?.signal;
  if (typeof id !== 'number' || typeof signal !== 'function' || internals.outgoing?.state === 'closed') return;
  try {
    signal.call(internals._client!._protocol, id, name);
  } catch {
    // The connection may be going away; the close that follows is what matters.
  }
}
