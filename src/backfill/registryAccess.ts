import {
  ArmRegistryWebhooks,
  isLoopbackHttp,
  LOCAL_ARM_TOKEN,
  staticTokenCredential,
} from "../adapters/armRegistryWebhooks";
import { credential } from "../adapters/clients";
import { MAX_REQUEST_CHARS } from "../adapters/deliveryEntity";
import { BACKFILL_CURSORS_TABLE, WEBHOOK_HEALTH_TABLE } from "../adapters/tableLayout";
import {
  TableBackfillCursors,
  TableRegistryHealth,
  TableWebhookHealth,
} from "../adapters/tableRegistryWebhookState";
import { type Bridge, getBridge } from "../bridge";
import {
  loadRegistryAccessSettings,
  loadTablesTimeoutMs,
  loadWebhookSettings,
  type RegistryAccessSettings,
} from "../config";
import type { LoggedDelivery } from "../core/registryWebhooks";
import type { WebhookExpectations } from "../core/webhookHealth";
import {
  CHECKS_BEGUN_WITHIN_MS,
  checkWebhookHealth,
  type WebhookHealthReport,
} from "../webhookHealth/checkWebhookHealth";
import { bridgeLedger } from "./bridgeLedger";
import { importFromLog } from "./loggedDeliveryImport";
import { type BackfillReport, type BackfillWindow, runBackfill } from "./runBackfill";

/** The registry side (ARM) of the bridge: backfill from ACR's log and webhook health. */
export interface RegistryAccess {
  settings: RegistryAccessSettings;
  health: TableWebhookHealth;
  registryHealth: TableRegistryHealth;
  backfill(window?: BackfillWindow): Promise<BackfillReport>;
  checkWebhooks(now: number): Promise<WebhookHealthReport>;
}

let access: RegistryAccess | undefined;

export function getRegistryAccess(env: Record<string, string | undefined> = process.env) {
  access ??= createRegistryAccess(env, getBridge(env));
  return access;
}

function createRegistryAccess(
  env: Record<string, string | undefined>,
  bridge: Bridge,
): RegistryAccess {
  const settings = loadRegistryAccessSettings(env);
  const webhookSettings = loadWebhookSettings(env);
  const timeoutMs = loadTablesTimeoutMs(env);
  const webhooks = new ArmRegistryWebhooks({
    endpoint: settings.armEndpoint,
    callTimeoutMs: settings.armCallTimeoutMs,
    credential: isLoopbackHttp(settings.armEndpoint)
      ? staticTokenCredential(LOCAL_ARM_TOKEN)
      : // Created on the first ARM call: a bridge without registries never loads @azure/identity.
        { getToken: (scopes, options) => credential().getToken(scopes, options) },
  });
  const ledger = bridgeLedger(bridge);
  const cursors = new TableBackfillCursors(bridge.tables(BACKFILL_CURSORS_TABLE), timeoutMs);
  const health = new TableWebhookHealth(bridge.tables(WEBHOOK_HEALTH_TABLE), timeoutMs);
  const registryHealth = new TableRegistryHealth(bridge.tables(WEBHOOK_HEALTH_TABLE), timeoutMs);
  const expectations: WebhookExpectations = {
    bridgeWebhookUrl: settings.bridgeBaseUrl
      ? new URL("api/acr/webhook", withTrailingSlash(settings.bridgeBaseUrl)).toString()
      : undefined,
    actions: settings.expectedActions,
    scope: settings.expectedScope,
    authHeader: settings.authHeader,
  };
  return {
    settings,
    health,
    registryHealth,
    backfill: (window) =>
      runBackfill(
        {
          registryIds: settings.resourceIds,
          webhooks,
          ledger,
          cursors,
          importFromLog: (entry: LoggedDelivery, registryId: string, now: number) =>
            importFromLog(entry, {
              registryId,
              routing: bridge.routing,
              loginServer: webhookSettings.loginServer,
              authHeader: webhookSettings.auth.header,
              secrets: webhookSettings.maskedSecrets,
              maxBodyBytes: webhookSettings.maxBodyBytes,
              maxRequestChars: MAX_REQUEST_CHARS,
              now,
            }),
          limits: settings.backfill,
        },
        { window },
      ),
    checkWebhooks: (now) =>
      checkWebhookHealth(
        {
          registryIds: settings.resourceIds,
          webhooks,
          store: health,
          registries: registryHealth,
          isPingRecorded: ledger.isPingRecorded,
          publish: (message) =>
            bridge.publisher.publish(bridge.crossCheckSettings.discrepancyTopic, message),
          expectations,
          pingTimeoutMs: settings.pingTimeoutMs,
          checksBegunWithinMs: CHECKS_BEGUN_WITHIN_MS,
        },
        now,
      ),
  };
}

function withTrailingSlash(url: string): string {
  return url.endsWith("/") ? url : `${url}/`;
}
