import { inspect } from 'node:util';

const HIDDEN = '[secret]';

/**
 * A password or answer held so that it cannot be logged by accident: `util.inspect`,
 * `JSON.stringify`, `String()` and template literals all show `[secret]`. Only `reveal()`
 * gives the value, at the one place that writes it to the server.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return HIDDEN;
  }

  toJSON(): string {
    return HIDDEN;
  }

  [inspect.custom](): string {
    return HIDDEN;
  }
}
