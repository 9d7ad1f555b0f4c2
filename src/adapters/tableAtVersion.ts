import type { TableClient, TableEntity } from "@azure/data-tables";
import type { Result } from "../core/result";
import type { TableAccess } from "./tableAccess";
import { isStatus } from "./tableErrors";

/**
 * Writes an entity over the one read at `version` (its etag), and only over that: create-only
 * when there was none, else a replace at the etag. Its new etag, or `changed` when another writer
 * created or changed it meanwhile.
 */
export function writeAtVersion(
  table: TableClient,
  access: TableAccess,
  entity: TableEntity,
  version: string | undefined,
): Promise<Result<string, "changed">> {
  return access.call(async (): Promise<Result<string, "changed">> => {
    try {
      const written =
        version === undefined
          ? await table.createEntity(entity, access.signal())
          : await table.updateEntity(entity, "Replace", { etag: version, ...access.signal() });
      if (written.etag === undefined) throw new Error("Table Storage returned no etag");
      return { ok: true, value: written.etag };
    } catch (error) {
      if (isStatus(error, version === undefined ? 409 : 412)) {
        return { ok: false, failure: "changed" };
      }
      throw error;
    }
  });
}
