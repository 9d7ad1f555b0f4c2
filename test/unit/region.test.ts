import { describe, expect, it } from "vitest";
import type { EventGridData } from "../../src/core/eventGridData";
import { type AcrEventGridEvent, registryEventFromEventGrid } from "../../src/core/eventGridEvent";
import { parseWebhookQuery } from "../../src/webhook/webhookQuery";

/**
 * A webhook's `?region=` and its Event Grid twin's `location` must name a replica the same way, or
 * the replica's sources never pair (source watch, cross-check regions, webhook health).
 */
describe("region spelling", () => {
  it.each(["westeurope", "WestEurope", "WESTEUROPE"])(
    "a webhook's ?region=%s is westeurope",
    (region) => {
      const parsed = parseWebhookQuery(new URLSearchParams({ region }));
      expect(parsed).toEqual({ ok: true, value: { region: "westeurope" } });
    },
  );

  it("a malformed region is still refused, naming the parameter", () => {
    const parsed = parseWebhookQuery(new URLSearchParams({ region: "West Europe" }));
    expect(parsed.ok).toBe(false);
    expect(JSON.stringify(parsed)).toContain("region");
  });

  it.each(["westeurope", "West Europe", "WestEurope"])(
    "Event Grid's location %s is westeurope",
    (location) => {
      const data = {
        id: "e1",
        timestamp: "2026-12-01T00:00:00Z",
        action: "push",
        location,
        target: { repository: "hello", mediaType: "application/vnd.oci.image.manifest.v1+json" },
        request: { host: "myregistry.azurecr.io" },
      } as EventGridData;
      const event: AcrEventGridEvent = {
        envelopeId: "envelope",
        type: "Microsoft.ContainerRegistry.ImagePushed",
        source:
          "/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/myregistry",
        schema: "eventgrid",
        data,
      };
      expect(registryEventFromEventGrid(event, {}).region).toBe("westeurope");
    },
  );
});
