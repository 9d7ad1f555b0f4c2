import { parseScope, type Scope } from "../../src/core/scope";

/** The scope `text` writes, for tests that need a valid one; a refused scope fails the test. */
export function scopeOf(text: string): Scope {
  const scope = parseScope(text);
  if (!scope.ok) throw new Error(scope.failure);
  return scope.value;
}
