import type { ClickHouse } from '../storage/clickhouse/client.ts';
import { readWatermark, type Tenancy } from './engine.ts';

export type WatermarkCache = {
  /** The tenancy's watermark: the in-memory copy while it is fresh, else read from ClickHouse. */
  get(tenancy: Tenancy): Promise<number>;
  /** Records a watermark this process has just written to `_stack_sync_metadata`. */
  set(tenancy: Tenancy, watermark: number): void;
  /** Forgets every copy: the next `get` of each tenancy reads ClickHouse again. */
  clear(): void;
};

/**
 * An in-memory copy of the sync watermarks, so that a run does not read
 * `_stack_sync_metadata` for every tenancy it mirrors. ClickHouse stays the
 * durable home of the watermark (a restart reads it there). A copy only ever
 * holds a value that was durable: read from ClickHouse, or written there
 * before `set` is called. So every row at or below it is mirrored, whatever
 * other servers do meanwhile (a lower copy only repeats rows, which
 * `ReplacingMergeTree` merges on the same version). A copy is read again
 * `maxAgeMs` after its last read, and the scheduler clears them all after any
 * failure, so it never outlives a failed insert or watermark write.
 *
 * @example
 * const watermarks = createWatermarkCache(clickhouse);
 * const from = await watermarks.get(tenancy);
 */
export function createWatermarkCache(
  ch: ClickHouse,
  options: { maxAgeMs?: number; now?: () => number } = {},
): WatermarkCache {
  const maxAgeMs = options.maxAgeMs ?? 60_000;
  const now = options.now ?? Date.now;
  const copies = new Map<string, { watermark: number; at: number }>();
  const key = (tenancy: Tenancy) => `${tenancy.projectId}\u0000${tenancy.branchId}`;
  return {
    async get(tenancy) {
      const copy = copies.get(key(tenancy));
      if (copy && now() - copy.at < maxAgeMs) return copy.watermark;
      const watermark = await readWatermark(ch, tenancy);
      copies.set(key(tenancy), { watermark, at: now() });
      return watermark;
    },
    set(tenancy, watermark) {
      // The age counts from the last read, not the last write: a watermark changed
      // in ClickHouse by someone else (another server, an operator) is seen within maxAgeMs.
      copies.set(key(tenancy), { watermark, at: copies.get(key(tenancy))?.at ?? now() });
    },
    clear() {
      copies.clear();
    },
  };
}
