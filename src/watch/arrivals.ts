import type { OperatorReads } from "../adapters/tableOperatorReads";
import type { Arrived } from "../core/sourceSilence";

/** Bounds one run's read; past it the run sees a sample, which still tells who is delivering. */
const MAX_ARRIVALS_PER_RUN = 100_000;

export function arrivalsOf(reads: Pick<OperatorReads, "deliveryRows">) {
  return async (from: number, to: number): Promise<Arrived[]> => {
    const { rows } = await reads.deliveryRows({ from, to }, undefined, MAX_ARRIVALS_PER_RUN);
    return rows.map(({ registry, region, origin, receivedAt, occurredAt }) => ({
      registry,
      region,
      origin,
      receivedAt,
      occurredAt,
    }));
  };
}
