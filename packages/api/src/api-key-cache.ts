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
  constructor(
    private readonly ttlMs = 10_000,
    private readonly maxEntries = 10_000,
  ) {}

  async resolve(
    key: string,
    lookup: (key: string) => Promise<KeyOwner | null>,
  ): Promise<KeyOwner | null> {
    const now = Date.now()
    const hit = this.entries.get(key)
    if (hit && hit.until > now) return hit.owner
    const owner = await lookup(key)
    if (this.entries.size >= this.maxEntries) this.entries.clear()
    // Unknown keys are cached briefly too, so a flood of bad keys cannot hammer the database.
    this.entries.set(key, { owner, until: now + (owner ? this.ttlMs : 1000) })
    return owner
  }

  forgetProjectKey(keyId: string) {
    for (const [key, entry] of this.entries)
      if (entry.owner?.keyId === keyId) this.entries.delete(key)
  }
}
