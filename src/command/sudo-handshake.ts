import { SUDO_MISSING_STATUS } from './sudo-script.js';
import type { SudoHandshakeSpec } from './sudo-script.js';
import type { SudoVerdict } from './interaction.js';

// sudo's own words (sudo 1.8 and 1.9, English messages): enough to tell a refusal's kind.
const PASSWORD_REQUIRED = /a password is required|no password was provided|no tty present/;
const WRONG_PASSWORD = /incorrect password|Sorry, try again/;

/** Longest text kept while waiting for sudo: its messages are short; more is the command's. */
const HELD_MAX = 64 * 1024;

/**
 * Watches the stream sudo talks on (stderr, or the terminal's merged output) until the
 * command inside sudo reports that it runs. Until then nothing reaches the caller: sudo's
 * prompts are answered (the password once; a second prompt means it was wrong, and input is
 * closed so sudo gives up at once) and its messages kept to classify a refusal.
 */
export class SudoHandshake {
  readonly #spec: SudoHandshakeSpec;
  readonly #answer: (text: string) => void;
  readonly #giveUp: () => void;
  readonly #onReady: () => void;
  #held = '';
  #prompts = 0;
  #ready = false;

  /**
   * @param answer writes to the command's stdin
   * @param giveUp ends the command's input (EOF), so sudo stops asking
   * @param onReady the command runs: its own stdin may follow
   */
  constructor(spec: SudoHandshakeSpec, answer: (text: string) => void, giveUp: () => void, onReady: () => void) {
    this.#spec = spec;
    this.#answer = answer;
    this.#giveUp = giveUp;
    this.#onReady = onReady;
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** Takes bytes of the watched stream; returns those that belong to the command. */
  feed(chunk: Buffer): Buffer {
    if (this.#ready) return chunk;
    // latin1 keeps one character per byte, so offsets map back onto the chunk's bytes.
    this.#held += chunk.toString('latin1');
    const { prompt, ready } = this.#spec;
    for (let at = this.#held.indexOf(prompt); at !== -1; at = this.#held.indexOf(prompt)) {
      this.#held = this.#held.slice(0, at) + this.#held.slice(at + prompt.length);
      this.#prompts++;
      if (this.#prompts === 1 && this.#spec.password) this.#answer(`${this.#spec.password.reveal()}\n`);
      else this.#giveUp();
    }
    const marker = this.#held.indexOf(ready);
    if (marker === -1) {
      if (this.#held.length > HELD_MAX) this.#held = this.#held.slice(-HELD_MAX);
      return EMPTY;
    }
    const rest = this.#held.slice(marker + ready.length).replace(/^\r?\n/, '');
    this.#held = this.#held.slice(0, marker);
    this.#ready = true;
    this.#onReady();
    return Buffer.from(rest, 'latin1');
  }

  /** What sudo said before refusing (prompts removed), for the caller's stderr. */
  get said(): Buffer {
    return Buffer.from(this.#held.replace(/^(\r?\n)+/, ''), 'latin1');
  }

  /** Why sudo refused, for a command that ended before running; undefined once it ran. */
  verdict(exitCode: number | null): SudoVerdict | undefined {
    if (this.#ready) return undefined;
    if (exitCode === SUDO_MISSING_STATUS && this.#prompts === 0) return 'not-installed';
    if (this.#prompts >= 2 || WRONG_PASSWORD.test(this.#held)) return 'wrong-password';
    if (PASSWORD_REQUIRED.test(this.#held)) return 'password-required';
    if (exitCode === null) return undefined;
    return 'not-allowed';
  }
}

const EMPTY = Buffer.alloc(0);
