/** Remembers message ids for a time window, as an entity with RequiresDuplicateDetection does. */
export class DuplicateDetector {
  // Insertion order is arrival order, so the oldest ids are always first.
  private readonly firstSeen = new Map<string, number>();

  constructor(private readonly windowMs: number) {}

  /** True when the id was already seen within the window; otherwise remembers it. */
  isDuplicate(messageId: string, now: number): boolean {
    for (const [id, seenAt] of this.firstSeen) {
      if (seenAt > now - this.windowMs) break;
      this.firstSeen.delete(id);
    }
    if (this.firstSeen.has(messageId)) return true;
    this.firstSeen.set(messageId, now);
    return false;
  }
}
