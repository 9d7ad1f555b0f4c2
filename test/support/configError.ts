import { ConfigError } from "../../src/config";

/** Runs `load` and returns the ConfigError it must throw. */
export function configError(load: () => unknown): ConfigError {
  try {
    load();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError, nothing was thrown");
}
