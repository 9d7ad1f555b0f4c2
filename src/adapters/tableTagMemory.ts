import { odata, type TableClient } from "@azure/data-tables";
import type { TagMemory } from "../core/ports";
import type { RegistryEvent } from "../core/registryEvent";
import {
  decodeKeyPart,
  encodeKeyPart,
  KEY_PART_SEPARATOR,
  KeyTooLongError,
} from "../core/tableKeys";
import { TableAccess } from "./tableAccess";
import { digestTagKeys, type EntityKeys } from "./tableLayout";

/** One entity per (digest, tag) pushed: remembering is an idempotent upsert, recalling one range query. */
export class TableTagMemory implements TagMemory {
  private readonly access: TableAccess;

  constructor(
    private readonly digestTags: TableClient,
    timeoutMs: number,
  ) {
    this.access = new TableAccess([digestTags], timeoutMs);
  }

  remember(event: RegistryEvent): Promise<void> {
    return this.access.call(async () => {
      if (!event.digest || !event.tag) return;
      const keys = keysWithin(() =>
        digestTagKeys(event.registry, event.repository ?? "", event.digest ?? "", event.tag ?? ""),
      );
      // Names too long for a key are not remembered: their deletes go out without `tags`.
      if (!keys) return;
      await this.digestTags.upsertEntity(
        { ...keys, seenAt: new Date(event.occurredAt) },
        "Replace",
        this.access.signal(),
      );
    });
  }

  tagsOf(event: RegistryEvent): Promise<string[]> {
    return this.access.call(async () => {
      if (!event.digest) return [];
      const prefix = `${encodeKeyPart(event.digest)}${KEY_PART_SEPARATOR}`;
      const keys = keysWithin(() =>
        digestTagKeys(event.registry, event.repository ?? "", event.digest ?? "", ""),
      );
      if (!keys) return [];
      const { partitionKey } = keys;
      // `}` sorts right after `|`, so [prefix, prefix with `}`) is exactly this digest's rows.
      const end = `${encodeKeyPart(event.digest)}}`;
      const tags: string[] = [];
      const rows = this.digestTags.listEntities({
        queryOptions: {
          filter: odata`PartitionKey eq ${partitionKey} and RowKey ge ${prefix} and RowKey lt ${end}`,
          select: ["RowKey"],
        },
      });
      for await (const row of rows)
        tags.push(decodeKeyPart(String(row.rowKey).slice(prefix.length)));
      return tags.sort();
    });
  }
}

function keysWithin(build: () => EntityKeys): EntityKeys | undefined {
  try {
    return build();
  } catch (error) {
    if (error instanceof KeyTooLongError) return undefined;
    throw error;
  }
}
