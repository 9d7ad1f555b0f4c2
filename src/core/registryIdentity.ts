import { z } from "zod";
import type { AcrWebhookPayload } from "./acrWebhookPayload";

/**
 * A login server as the bridge is told one (the webhook's `?registry=`, `ACR_LOGIN_SERVER`): a
 * host name, with a port if need be, as in `myregistry.azurecr.io`.
 */
export const loginServerName = z
  .string()
  .regex(/^[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$/, "must be a registry login server");

/** Recorded when nothing names the registry, so the delivery is still kept. */
export const UNKNOWN_REGISTRY = "unknown-registry";

/**
 * The registry's login server: `request.host` when the event carries one; chart events carry no
 * `request`, so then the webhook URL's `registry` query parameter, else the configured default.
 */
export function resolveRegistry(
  payload: AcrWebhookPayload,
  registryQuery: string | undefined,
  configuredLoginServer: string | undefined,
): string {
  return firstLoginServer([payload.request?.host, registryQuery, configuredLoginServer]);
}

/**
 * The first candidate that names the registry, trimmed and lower-cased, else `UNKNOWN_REGISTRY`:
 * how the webhook, ACR's log and Event Grid each settle on one login server.
 */
export function firstLoginServer(candidates: readonly (string | undefined)[]): string {
  const found = candidates.map((value) => value?.trim().toLowerCase()).find((value) => value);
  return found ?? UNKNOWN_REGISTRY;
}
