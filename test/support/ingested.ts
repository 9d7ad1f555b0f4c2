import type { IngestResult } from "../../src/core/ingestDelivery";
import { type DependencyResult, describeDependencyFailure } from "../../src/core/ports";

/** The result of an ingest that must have recorded (or journaled) its delivery. */
export async function ingested(
  outcome: Promise<DependencyResult<IngestResult>>,
): Promise<IngestResult> {
  const answered = await outcome;
  if (!answered.ok) throw new Error(`not recorded: ${describeDependencyFailure(answered.failure)}`);
  return answered.value;
}
