/**
 * Internal: a table of open conversions by key — the Tracker's by handle id, the replay
 * engine's by trace id. The newest entry sits in a slot and the older ones in a Map: a flip is
 * nearly always settled before the next request, and a Map going 0 → 1 → 0 entries per flip
 * makes V8 rehash it again and again (≈ 2.5 MB of garbage per 20 000 flips). Values come out in
 * the order their keys were first put (so in id order for growing ids).
 */
export class OpenTable<K, V> {
  private readonly older = new Map<K, V>();
  private newestKey: K | undefined;
  private newest: V | undefined;
  private hasNewest = false;

  /** Entries in the table. */
  get size(): number {
    return this.older.size + (this.hasNewest ? 1 : 0);
  }

  /** Keeps `value` under `key`, replacing what the key held. */
  set(key: K, value: V): void {
    if (this.hasNewest && this.newestKey !== key) this.older.set(this.newestKey as K, this.newest as V);
    if (this.older.size > 0) this.older.delete(key);
    this.newestKey = key;
    this.newest = value;
    this.hasNewest = true;
  }

  /** What `key` holds, or undefined. */
  get(key: K): V | undefined {
    if (this.hasNewest && this.newestKey === key) return this.newest;
    return this.older.size === 0 ? undefined : this.older.get(key);
  }

  /** Removes and returns what `key` holds, or undefined. */
  take(key: K): V | undefined {
    if (this.hasNewest && this.newestKey === key) {
      const v = this.newest;
      this.hasNewest = false;
      this.newestKey = undefined;
      this.newest = undefined;
      return v;
    }
    if (this.older.size === 0) return undefined;
    const v = this.older.get(key);
    if (v !== undefined) this.older.delete(key);
    return v;
  }

  /** Every value, oldest key first. */
  values(): V[] {
    const out = [...this.older.values()];
    if (this.hasNewest) out.push(this.newest as V);
    return out;
  }
}
