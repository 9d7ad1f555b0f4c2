import { randomUUID } from "node:crypto";
import type { TableClient } from "@azure/data-tables";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ArmStandIn } from "../../dev/arm/armStandIn";
import {
  ArmRegistryWebhooks,
  LOCAL_ARM_TOKEN,
  staticTokenCredential,
} from "../../src/adapters/armRegistryWebhooks";
import { createTableClient } from "../../src/adapters/clients";
import {
  TableRegistryHealth,
  TableWebhookHealth,
} from "../../src/adapters/tableRegistryWebhookState";
import type { TopicMessage } from "../../src/core/topicMessage";
import { checkWebhookHealth } from "../../src/webhookHealth/checkWebhookHealth";

const registryId = (name: string) =>
  `/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/${name}`;
const HUNG = registryId("budgethung");
const LATER = registryId("budgetlater");

describe("checkWebhookHealth keeps a run within its time when ARM hangs (ARM stand-in, Azurite)", () => {
  const arm = new ArmStandIn({ token: LOCAL_ARM_TOKEN });
  let table: TableClient;

  beforeAll(async () => {
    await arm.start();
    table = createTableClient(
      { kind: "connection-string", connectionString: inject("tablesConnection") },
      `T${randomUUID().replaceAll("-", "")}`,
    );
  });

  afterAll(async () => {
    await table.deleteTable();
    await arm.stop();
  });

  it("begins no registry once its time is up: those left are reported not checked, ARM never asked", async () => {
    arm.addRegistry(HUNG);
    arm.addRegistry(LATER);
    arm.fail({ operation: "list", registryId: HUNG, status: "hang", times: 1 });
    const registries = new TableRegistryHealth(table, 5000);
    const published: TopicMessage[] = [];
    const started = Date.now();
    const report = await checkWebhookHealth(
      {
        registryIds: [HUNG, LATER],
        webhooks: new ArmRegistryWebhooks({
          endpoint: arm.url,
          credential: staticTokenCredential(LOCAL_ARM_TOKEN),
          maxRetries: 0,
          callTimeoutMs: 300,
        }),
        store: new TableWebhookHealth(table, 5000),
        registries,
        isPingRecorded: async () => false,
        publish: async (message) => {
          published.push(message);
        },
        expectations: { actions: ["push"], scope: "", authHeader: "Authorization" },
        pingTimeoutMs: 60_000,
        checksBegunWithinMs: 200,
      },
      Date.now(),
    );

    expect(Date.now() - started).toBeLessThan(2000);
    expect(report.unreachable).toEqual([HUNG]);
    expect(report.errors).toEqual([
      `${HUNG}: webhooks.list: timed-out: ARM did not answer within 0.3 s`,
      `${LATER}: not checked, the run's time is up`,
    ]);
    expect(arm.calls().map((call) => call.registryId)).toEqual([HUNG]);
    // The hung registry is kept as unreachable; the one left has no verdict yet, and nothing is published.
    expect(await registries.list()).toEqual([
      {
        registryId: HUNG,
        unreachable: {
          reason: "webhooks.list: timed-out",
          since: expect.any(Number),
          checkedAt: expect.any(Number),
        },
      },
    ]);
    expect(published).toEqual([]);
  });
});
