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
