/**
 * The marks of opening a connection, as `ssh.connect` span events record them, in the order the
 * protocol reaches them (RFC 4253, 4252): the TCP handshake done; the server's host key checked,
 * when its key exchange reply arrives (so the time before this mark is the identification and
 * key exchange messages, not the check, which is a lookup); the new keys in use, which ends the
 * key exchange; only for an attempt that waited for another's login before offering
 * credentials, the end of that wait; user authentication done.
 */
export const CONNECT_PHASES = ['tcp-connected', 'host-key-verified', 'key-exchanged', 'login-turn', 'authenticated'] as const;
export type ConnectPhase = (typeof CONNECT_PHASES)[number];

export interface ConnectPhaseMark {
  readonly phase: ConnectPhase;
  /** Epoch ms. */
  readonly at: number;
}

// Kept beside the objects rather than on them: a connection or an error carries them for
// telemetry only, and must not show them in its public shape.
const phases = new WeakMap<object, readonly ConnectPhaseMark[]>();

/** Records the phases an open went through, on the connection it made or the error it ended with. */
export function recordConnectPhases(target: object, marks: readonly ConnectPhaseMark[]): void {
  // An exact-size copy: the marks are collected with push, which reserves room for more, and
  // every open connection keeps its record.
  phases.set(target, marks.slice());
}

/** The phases an open went through, in protocol order. */
export function connectPhasesOf(target: object): readonly ConnectPhaseMark[] {
  const marks = phases.get(target) ?? [];
  return [...marks].sort((a, b) => CONNECT_PHASES.indexOf(a.phase) - CONNECT_PHASES.indexOf(b.phase));
}
