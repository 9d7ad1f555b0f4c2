import { describeError } from "../core/describeError";
import { DependencyUnavailableError } from "../core/ports";
import { isStatus } from "./tableErrors";

/**
 * A read of a table that only its writer creates: a missing table (or entity) reads as `empty`,
 * so timers and pages that only look do not create tables; other failures are typed.
 */
export async function readIfExists<T>(read: () => Promise<T>, empty: T): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (isStatus(error, 404)) return empty;
    throw new DependencyUnavailableError("table-storage", describeError(error));
  }
}
