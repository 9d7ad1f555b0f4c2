import type { Bridge } from "../bridge";
import { ingestDelivery } from "../core/ingestDelivery";
import type { DeliveryLedger } from "./runBackfill";

/**
 * The one place the registry side touches the ingestion and its storage: an import goes through
 * `ingestDelivery` like a webhook (record, cross-check, publish once with the content-derived
 * message id); "recorded" means a record of the event from its webhook or an earlier import.
 */
export function bridgeLedger(bridge: Bridge): DeliveryLedger & {
  /** Whether a ping (by its event id) reached the bridge's records. */
  isPingRecorded(eventId: string): Promise<boolean>;
} {
  return {
    async isRecorded(event) {
      const [webhook, imported] = await Promise.all([
        bridge.store.recordOf({ ...event, origin: "webhook" }),
        bridge.store.recordOf({ ...event, origin: "acr-log" }),
      ]);
      return webhook !== undefined || imported !== undefined;
    },
    async importDelivery(delivery) {
      const ingested = await ingestDelivery(delivery, {
        ...bridge,
        windowMs: bridge.crossCheckSettings.windowMs,
      });
      if (!ingested.ok) return ingested;
      const { duplicate, conflictingFields } = ingested.value;
      return { ok: true, value: { duplicate, conflictingFields } };
    },
    async isPingRecorded(eventId) {
      return (await bridge.store.findById(eventId)).length > 0;
    },
  };
}
