export interface KeyOwner {
  projectId: string
  keyId: string
}

/**
 * Remembers resolved API keys for a short time so the hot path skips a lookup. A revoked key
 * stops working on this replica at once and on the others within `ttlMs`.
 */
export class ApiKeyCache {
  private readonly entries = new Map<string, { owner: KeyOwner | null; until: number }>()
  /** Lookups under way: the calls of one batch that meet a cold cache share one query. */
  private readonly inFlight = new Map<string, Promise<KeyOwner | null>>()
  constructor(
    private readonly ttlMs = 10_000,
    private readonly maxEntries = 10_000,
  ) {}

  resolve(
    key: string,
    lookup: (key: string) => Promise<KeyOwner | null>,
  ): Promise<KeyOwner | null> {
    const now = Date.now()
    const hit = this.entries.get(key)
    if (hit && hit.until > now) return Promise.resolve(hit.owner)
    const pending = this.inFlight.get(key)
    if (pending) return pending
    const looked: Promise<KeyOwner | null> = lookup(key)
      .then((owner) => {
        // Not when a revocation came in meanwhile (it cleared `inFlight`): that answer may be stale.
        if (this.inFlight.get(key) === looked) {
          if (this.entries.size >= this.maxEntries) this.entries.clear()
          // Unknown keys are cached briefly too, so a flood of bad keys cannot hammer the database.
          this.entries.set(key, { owner, until: now + (owner ? this.ttlMs : 1000) })
        }
        return owner
      })
      .finally(() => {
        if (this.inFlight.get(key) === looked) this.inFlight.delete(key)
      })
    this.inFlight.set(key, looked)
    return looked
  }

  forgetProjectKey(keyId: string) {
    for (const [key, entry] of this.entries)
      if (entry.owner?.keyId === keyId) this.entries.delete(key)
    this.inFlight.clear()
  }
}
