/**
 * The batches written in the last `windowMs`, by key, with how many rows each
 * added: the writer answers a re-sent batch from here instead of writing it
 * again. Entries leave in insertion order, so pruning is O(expired).
 */
export class RecentBatches {
  readonly #entries = new Map<string, { at: number; inserted: number }>();

  constructor(
    private readonly windowMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Rows the batch added, if it was written within the window. */
  get(key: string): number | undefined {
    this.#prune();
    return this.#entries.get(key)?.inserted;
  }

  remember(key: string, inserted: number, at: number = this.now()): void {
    this.#entries.delete(key);
    this.#entries.set(key, { at, inserted });
    this.#prune();
  }

  get size(): number {
    return this.#entries.size;
  }

  #prune(): void {
    const oldest = this.now() - this.windowMs;
    for (const [key, entry] of this.#entries) {
      if (entry.at >= oldest && this.#entries.size <= this.maxEntries) break;
      this.#entries.delete(key);
    }
  }
}
