/** Counts permits; waiters are served in arrival order. */
export class Semaphore {
  #available: number;
  #waiting: Array<() => void> = [];

  constructor(permits: number) {
    this.#available = permits;
  }

  acquire(): Promise<void> {
    if (this.#available > 0) {
      this.#available--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#available++;
  }
}
