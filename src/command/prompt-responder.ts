import type { ResponseRule } from './interaction.js';

/** Output kept for matching: a prompt is short, and memory must stay bounded. */
const WINDOW_CHARS = 8 * 1024;

/**
 * Watches a command's output as it arrives and answers prompts: each rule is tried against
 * the output since the last answer, and a match writes its answer once. Fed by the channel's
 * data events, so it can be attached to any output source, streaming or buffered.
 */
export class PromptResponder {
  readonly #rules: ReadonlyArray<{ readonly match: RegExp; readonly answer: ResponseRule['answer'] }>;
  readonly #write: (text: string) => void;
  #window = '';
  #tail = '';

  constructor(rules: readonly ResponseRule[], write: (text: string) => void) {
    // A global or sticky flag would make `test` remember positions between calls.
    this.#rules = rules.map((rule) => ({
      match: typeof rule.match === 'string' ? new RegExp(escapeRegExp(rule.match)) : new RegExp(rule.match.source, rule.match.flags.replace(/[gy]/g, '')),
      answer: rule.answer,
    }));
    this.#write = write;
  }

  feed(chunk: Buffer): void {
    const text = chunk.toString('utf8');
    this.#window = (this.#window + text).slice(-WINDOW_CHARS);
    this.#tail = (this.#tail + text).slice(-1024);
    for (;;) {
      let earliest: { end: number; answer: ResponseRule['answer'] } | undefined;
      for (const rule of this.#rules) {
        const found = rule.match.exec(this.#window);
        if (found && (earliest === undefined || found.index + found[0].length < earliest.end)) {
          earliest = { end: found.index + found[0].length, answer: rule.answer };
        }
      }
      if (!earliest) return;
      // What matched is consumed: the same prompt text is answered once.
      this.#window = this.#window.slice(earliest.end);
      this.#write(typeof earliest.answer === 'string' ? earliest.answer : earliest.answer.reveal());
    }
  }

  /** The last non-empty line of output (a prompt has no newline yet). */
  get lastLine(): string {
    return this.#tail.split(/\r?\n|\r/).filter((line) => line.trim() !== '').at(-1) ?? '';
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
