import type { Result } from "./result";

/** A string parsed as JSON; any other value passes as it is. */
export function parseJsonText(value: unknown): Result<unknown, "not-json"> {
  if (typeof value !== "string") return { ok: true, value };
  try {
    return { ok: true, value: JSON.parse(value) };
  } catch {
    return { ok: false, failure: "not-json" };
  }
}

/** Bytes as UTF-8 text; invalid UTF-8 is refused rather than silently replaced. */
export function decodeUtf8(bytes: Uint8Array): Result<string, "invalid-utf8"> {
  try {
    return { ok: true, value: new TextDecoder("utf-8", { fatal: true }).decode(bytes) };
  } catch {
    return { ok: false, failure: "invalid-utf8" };
  }
}
