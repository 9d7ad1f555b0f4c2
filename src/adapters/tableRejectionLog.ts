import type { TableClient } from "@azure/data-tables";
import type { Rejection, RejectionLog } from "../core/ports";
import { encodeKeyPart, invertedHour, invertedMillis, joinKey } from "../core/tableKeys";
import { TableAccess } from "./tableAccess";

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
          rowKey: joinKey(invertedMillis(rejection.at), encodeKeyPart(rejection.envelopeId)),
          type: rejection.type,
          source: rejection.source,
          reason: rejection.reason,
          at: new Date(rejection.at),
        },
        "Replace",
        this.access.signal(),
      );
    });
  }
}
