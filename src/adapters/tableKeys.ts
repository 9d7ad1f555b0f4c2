/**
 * Azure Table keys may not contain `/ \ # ?` or control characters and are at most 1 KiB of
 * UTF-16: 512 characters, past which Azurite refuses one too. Repository names contain `/`. Every
 * free-text key part is percent-encoded, which is reversible and never yields `|`, so `|` can
 * join parts.
 */
export const KEY_PART_SEPARATOR = "|";

const MAX_KEY_LENGTH = 512;

export class KeyTooLongError extends Error {
  override readonly name = "KeyTooLongError";
  constructor(readonly length: number) {
    super(`table key of ${length} characters exceeds ${MAX_KEY_LENGTH}`);
  }
}

/** The value must be well-formed UTF-16 (no lone surrogates): validation guarantees it. */
export function encodeKeyPart(value: string): string {
  return encodeURIComponent(value);
}

export function decodeKeyPart(encoded: string): string {
  return decodeURIComponent(encoded);
}

export function joinKey(...parts: string[]): string {
  const key = parts.join(KEY_PART_SEPARATOR);
  if (key.length > MAX_KEY_LENGTH) throw new KeyTooLongError(key.length);
  return key;
}

/** Digits enough for any millisecond timestamp up to the year 2286. */
const MS_DIGITS = 13;
const MAX_MS = 10 ** MS_DIGITS - 1;
const HOUR_MS = 3_600_000;

/** Newest first: Table Storage sorts keys ascending, so time is stored inverted. */
export function invertedMillis(epochMs: number): string {
  const clamped = Math.min(Math.max(Math.trunc(epochMs), 0), MAX_MS);
  return String(MAX_MS - clamped).padStart(MS_DIGITS, "0");
}

export function invertedHour(epochMs: number): string {
  return invertedMillis(Math.floor(epochMs / HOUR_MS) * HOUR_MS);
}
