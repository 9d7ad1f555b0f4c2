import { createHash } from "node:crypto";

/**
 * A short, stable identifier of some text parts (SHA-256, hex, truncated): message ids, names of
 * values too long or too free-form to use as they are. Parts are joined by a newline, which none
 * of the hashed values can contain.
 */
export function shortHash(parts: readonly string[], hexChars = 32): string {
  return createHash("sha256").update(parts.join("\n")).digest("hex").slice(0, hexChars);
}
