import type { TableClient } from "@azure/data-tables";
import type { Rejection, RejectionLog } from "../core/ports";
import { shortHash } from "../core/shortHash";
import { TableAccess } from "./tableAccess";
import { invertedHour, invertedMillis, joinKey } from "./tableKeys";

export class TableRejectionLog implements RejectionLog {
  private readonly access: TableAccess;

  constructor(
    private readonly rejections: TableClient,
    timeoutMs: number,
  ) {
    this.access = new TableAccess([rejections], timeoutMs);
  }

  record(rejection: Rejection): Promise<void> {
    return this.access.call(async () => {
      await this.rejections.upsertEntity(
        {
          partitionKey: invertedHour(rejection.at),
          // Hashed: an envelope id from an untrusted sender may be too long for a key.
          rowKey: joinKey(invertedMillis(rejection.at), shortHash([rejection.envelopeId])),
          envelopeId: rejection.envelopeId,
          type: rejection.type,
          source: rejection.source,
          host: rejection.host,
          reason: rejection.reason,
          at: new Date(rejection.at),
        },
        "Replace",
        this.access.signal(),
      );
    });
  }
}
