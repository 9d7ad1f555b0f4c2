import type { TableClient } from "@azure/data-tables";
import type { Discrepancy } from "../core/discrepancy";
import type { FindingStore } from "../core/ports";
import { TableAccess } from "./tableAccess";
import { discrepancyKeys } from "./tableLayout";

/** Discrepancy records: one per logical event and kind, rewritten identically if a close is re-run. */
export class TableFindingStore implements FindingStore {
  private readonly access: TableAccess;

  constructor(
    private readonly discrepancies: TableClient,
    timeoutMs: number,
  ) {
    this.access = new TableAccess([discrepancies], timeoutMs);
  }

  record(finding: Discrepancy): Promise<void> {
    return this.access.call(async () => {
      await this.discrepancies.upsertEntity(
        {
          ...discrepancyKeys(finding.detectedAt, finding.logicalKey, finding.kind),
          kind: finding.kind,
          logicalKey: finding.logicalKey,
          occurrence: finding.occurrence,
          registry: finding.registry,
          action: finding.action,
          repository: finding.repository,
          tag: finding.tag,
          digest: finding.digest,
          detectedAt: new Date(finding.detectedAt),
          webhookEventIds: JSON.stringify(finding.webhookEventIds),
          eventGridEventIds: JSON.stringify(finding.eventGridEventIds),
          regions: JSON.stringify(finding.regions),
          recovered: finding.recovered,
          state: finding.state,
          resolution: finding.resolution,
          resolvedAt: finding.resolvedAt === undefined ? undefined : new Date(finding.resolvedAt),
          lateByMs: finding.lateByMs,
        },
        "Replace",
        this.access.signal(),
      );
    });
  }
}
