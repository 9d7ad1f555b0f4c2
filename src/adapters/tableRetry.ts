import { RestError } from "@azure/data-tables";

export function isStatus(error: unknown, status: number): boolean {
  return error instanceof RestError && error.statusCode === status;
}

/** Concurrent writers of one entity contend on its etag; each retry re-reads it. */
const MAX_CONDITIONAL_RETRIES = 40;

/**
 * Runs a read-modify-write until its conditional write (etag or create) wins: 412 and 409 mean
 * another writer got there first, so the attempt is repeated on fresh state.
 */
export async function retryOnConflict<T>(attempt: () => Promise<T>): Promise<T> {
  for (let round = 1; ; round++) {
    try {
      return await attempt();
    } catch (error) {
      const conflict = isStatus(error, 412) || isStatus(error, 409);
      if (!conflict || round >= MAX_CONDITIONAL_RETRIES) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * Math.min(round, 5)));
    }
  }
}
