/** A place among the handshakes running at once, as `ConnectGate.enter` hands it out. */
export interface ConnectPlace {
  /** The gate's limit changed since this place was given: its drop was already answered. */
  readonly generation: number;
}

/** How a handshake that held a place ended. */
export type HandshakeEnd = 'connected' | 'dropped' | 'failed';

/**
 * How many handshakes of one pool key run at once, learned from the server as a TCP sender
 * learns its window (additive increase, multiplicative decrease): it starts at
 * `maxConcurrentConnects`, near what OpenSSH's default `MaxStartups 10:30:100` takes, halves
 * when the server drops a handshake (more than its `MaxStartups` at once), and grows by one again
 * after as many completed handshakes as the limit, never above `maxConcurrentConnects`. Drops
 * of handshakes that started before a halving were part of the same burst and halve nothing.
 * Waiters are served in arrival order.
 */
export class ConnectGate {
  readonly #max: number;
  #limit: number;
  #inFlight = 0;
  #generation = 0;
  #connectedSinceChange = 0;
  #waiting: Array<(place: ConnectPlace) => void> = [];

  constructor(maxConcurrentConnects: number) {
    this.#max = maxConcurrentConnects;
    this.#limit = maxConcurrentConnects;
  }

  /** Handshakes allowed at once now. */
  get limit(): number {
    return this.#limit;
  }

  enter(): Promise<ConnectPlace> {
    if (this.#inFlight < this.#limit) {
      this.#inFlight++;
      return Promise.resolve({ generation: this.#generation });
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** Gives the place back, and learns from how its handshake ended. */
  leave(place: ConnectPlace, end: HandshakeEnd): void {
    this.#inFlight--;
    if (end === 'dropped' && place.generation === this.#generation) {
      this.#limit = Math.max(1, Math.floor(this.#limit / 2));
      this.#changed();
    } else if (end === 'connected' && this.#limit < this.#max && ++this.#connectedSinceChange >= this.#limit) {
      this.#limit++;
      this.#changed();
    }
    while (this.#inFlight < this.#limit && this.#waiting.length > 0) {
      this.#inFlight++;
      this.#waiting.shift()!({ generation: this.#generation });
    }
  }

  #changed(): void {
    this.#generation++;
    this.#connectedSinceChange = 0;
  }
}
