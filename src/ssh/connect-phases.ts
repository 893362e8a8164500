/** A step of opening a connection, as `ssh.connect` span events record it. */
export type ConnectPhase = 'tcp-connected' | 'host-key-verified' | 'key-exchanged' | 'authenticated';

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
  phases.set(target, marks);
}

export function connectPhasesOf(target: object): readonly ConnectPhaseMark[] {
  return phases.get(target) ?? [];
}
