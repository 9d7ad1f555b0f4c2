import type { TableClient, TableEntity } from "@azure/data-tables";
import type { Result } from "../core/result";
import type { TableAccess } from "./tableAccess";
import { isStatus } from "./tableErrors";

/**
 * Writes an entity over the one read at `version` (its etag), and only over that: create-only
 * when there was none, else a replace at the etag. Its new etag, or `changed` when another writer
 * created, changed or deleted it meanwhile: of writers that read the same version, one wins.
 */
export function writeAtVersion<T extends object>(
  table: TableClient,
  access: TableAccess,
  entity: TableEntity<T>,
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
      const conflicts = version === undefined ? [409] : [412, 404];
      if (conflicts.some((status) => isStatus(error, status))) {
        return { ok: false, failure: "changed" };
      }
      throw error;
    }
  });
}
