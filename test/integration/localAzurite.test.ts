import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TableClient } from "@azure/data-tables";
import { afterAll, describe, expect, it } from "vitest";
import { type LocalAzurite, startAzurite } from "../../dev/azurite";

describe("the local Azurite with a data folder", () => {
  const location = mkdtempSync(join(tmpdir(), "azurite-data-"));
  let azurite: LocalAzurite | undefined;
  afterAll(async () => {
    await azurite?.stop();
    rmSync(location, { recursive: true, force: true });
  });

  it("keeps every entity written before a stop when it starts again", async () => {
    azurite = await startAzurite({ location });
    const table = () =>
      TableClient.fromConnectionString(azurite?.connectionString ?? "", "Kept", {
        allowInsecureConnection: true,
      });
    await table().createTable();
    const written = 200;
    await Promise.all(
      Array.from({ length: written }, (_, i) =>
        table().createEntity({ partitionKey: "p", rowKey: String(i).padStart(4, "0") }),
      ),
    );
    const { port } = azurite;
    await azurite.stop();
    azurite = await startAzurite({ location, port });
    let kept = 0;
    for await (const _entity of table().listEntities()) kept++;
    expect(kept).toBe(written);
  });
});
