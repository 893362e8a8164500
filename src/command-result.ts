import type { CommandResult } from './types.js';

/**
 * The result object. A class only so that interpolating a previous result can be told apart
 * from interpolating an arbitrary object (which is refused).
 */
export class RemoteCommandResult implements CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly ok: boolean;
  readonly durationMs: number;
  readonly host: string;
  readonly command: string;

  constructor(fields: CommandResult) {
    this.stdout = fields.stdout;
    this.stderr = fields.stderr;
    this.exitCode = fields.exitCode;
    this.signal = fields.signal;
    this.ok = fields.ok;
    this.durationMs = fields.durationMs;
    this.host = fields.host;
    this.command = fields.command;
  }

  /** The trimmed stdout, as when the result is interpolated into another command. */
  toString(): string {
    return this.stdout.trim();
  }
}

export function isRemoteCommandResult(value: unknown): value is RemoteCommandResult {
  return value instanceof RemoteCommandResult;
}
