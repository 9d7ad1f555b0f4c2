import { odata, type TableClient } from "@azure/data-tables";
import type { EventOrigin } from "../core/registryEvent";
import type {
  KeptSilenceFinding,
  ScanMark,
  SourceSeen,
  SourceWatchStore,
} from "../core/sourceSilence";
import type { FindingWrite, Versioned } from "../core/writePlan";
import { TableAccess } from "./tableAccess";
import { writeAtVersion } from "./tableAtVersion";
import { readIfExists } from "./tableIfExists";
import { encodeKeyPart, joinKey } from "./tableKeys";

/**
 * Table `AcrSourceWatch`, written only by the source-watch timer:
 *   PartitionKey `seen`, RowKey `<registry>|<region>|<origin>`: when that side was last heard from;
 *   PartitionKey `finding`, RowKey `<registry>|<region>|<kind>`: the latest silence finding;
 *   PartitionKey `scan`, RowKey `last`: up to when arrivals have been read, and since when the
 *     watch has run without a gap longer than the silence threshold.
 */

interface SeenEntity {
  registry: string;
  region?: string;
  origin: EventOrigin;
  lastSeenAt: Date;
  lastOccurredAt?: Date;
}

interface ScanEntity {
  at: Date;
  listeningSince?: Date;
}

interface FindingEntity {
  finding: string;
}

export class TableSourceWatch implements SourceWatchStore {
  private readonly access: TableAccess;

  constructor(
    private readonly table: TableClient,
    timeoutMs: number,
  ) {
    this.access = new TableAccess([table], timeoutMs);
  }

  seen(): Promise<SourceSeen[]> {
    return readIfExists(async () => {
      const seen: SourceSeen[] = [];
      for await (const row of this.partition<SeenEntity>("seen")) {
        seen.push({
          registry: row.registry,
          region: row.region || undefined,
          origin: row.origin,
          lastSeenAt: new Date(row.lastSeenAt).getTime(),
          lastOccurredAt: row.lastOccurredAt ? new Date(row.lastOccurredAt).getTime() : undefined,
        });
      }
      return seen;
    }, []);
  }

  saveSeen(seen: readonly SourceSeen[]): Promise<void> {
    return this.access.call(async () => {
      for (const entry of seen) {
        await this.table.upsertEntity(
          {
            partitionKey: "seen",
            rowKey: joinKey(
              encodeKeyPart(entry.registry),
              encodeKeyPart(entry.region ?? ""),
              entry.origin,
            ),
            registry: entry.registry,
            region: entry.region ?? "",
            origin: entry.origin,
            lastSeenAt: new Date(entry.lastSeenAt),
            lastOccurredAt:
              entry.lastOccurredAt === undefined ? undefined : new Date(entry.lastOccurredAt),
          },
          "Replace",
          this.access.signal(),
        );
      }
    });
  }

  lastScan(): Promise<ScanMark | undefined> {
    return readIfExists(async () => {
      const row = await this.table.getEntity<ScanEntity>("scan", "last", this.access.signal());
      return {
        until: new Date(row.at).getTime(),
        listeningSince: row.listeningSince ? new Date(row.listeningSince).getTime() : undefined,
      };
    }, undefined);
  }

  setLastScan(scan: ScanMark): Promise<void> {
    return this.access.call(async () => {
      const entity: ScanEntity = {
        at: new Date(scan.until),
        listeningSince:
          scan.listeningSince === undefined ? undefined : new Date(scan.listeningSince),
      };
      await this.table.upsertEntity(
        { partitionKey: "scan", rowKey: "last", ...entity },
        "Replace",
        this.access.signal(),
      );
    });
  }

  findings(): Promise<Versioned<KeptSilenceFinding>[]> {
    return readIfExists(async () => {
      const findings: Versioned<KeptSilenceFinding>[] = [];
      for await (const row of this.partition<FindingEntity>("finding")) {
        findings.push({ value: JSON.parse(row.finding) as KeptSilenceFinding, version: row.etag });
      }
      return findings;
    }, []);
  }

  /** Create-only when there was no row, else a replace at the row's etag; a conflict is `changed`. */
  writeFinding(finding: KeptSilenceFinding, version: string | undefined): Promise<FindingWrite> {
    return writeAtVersion(this.table, this.access, this.findingEntity(finding), version);
  }

  private findingEntity(finding: KeptSilenceFinding) {
    return {
      partitionKey: "finding",
      rowKey: joinKey(
        encodeKeyPart(finding.registry),
        encodeKeyPart(finding.region ?? ""),
        finding.kind,
      ),
      finding: JSON.stringify(finding),
    };
  }

  private partition<T extends object>(partitionKey: string) {
    return this.table.listEntities<T>({
      queryOptions: { filter: odata`PartitionKey eq ${partitionKey}` },
      ...this.access.signal(),
    });
  }
}
