import type { HookCallback } from "./functionsCoreTypes";

/** Runs hooks one after the other, in registration order, as the worker does. */
export async function runHooks(callbacks: readonly HookCallback[], context: object): Promise<void> {
  for (const callback of [...callbacks]) {
    await callback(context);
  }
}
