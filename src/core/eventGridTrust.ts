/**
 * Which Event Grid events may speak for a registry. Anyone can publish an event typed
 * `Microsoft.ContainerRegistry.*` to a custom topic, so an event counts only when its `topic`
 * (Event Grid schema) or `source` (CloudEvents) is the resource id of a registry we trust.
 */

/** The full type names ACR publishes; the short `ImagePushed` of some doc examples is not one. */
export const ACR_EVENT_TYPES = [
  "Microsoft.ContainerRegistry.ImagePushed",
  "Microsoft.ContainerRegistry.ImageDeleted",
  "Microsoft.ContainerRegistry.ChartPushed",
  "Microsoft.ContainerRegistry.ChartDeleted",
] as const;

export type AcrEventType = (typeof ACR_EVENT_TYPES)[number];

export function isAcrEventType(type: string): type is AcrEventType {
  return (ACR_EVENT_TYPES as readonly string[]).includes(type);
}

/**
 * `/subscriptions/<guid>/resourceGroups/<group>/providers/Microsoft.ContainerRegistry/registries/<name>`;
 * ARM treats resource ids case-insensitively. Registry names are 5-50 letters and digits.
 */
const REGISTRY_RESOURCE_ID =
  /^\/subscriptions\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\/resourceGroups\/[-\w.()\p{L}\p{N}]{1,90}\/providers\/Microsoft\.ContainerRegistry\/registries\/([a-z0-9]{5,50})\/?$/iu;

export function isRegistryResourceId(value: string): boolean {
  return REGISTRY_RESOURCE_ID.test(value.trim());
}

/** A connected registry's events come from `<registry resource id>/connectedRegistries/<name>`. */
const CONNECTED_REGISTRY_SUFFIX = /\/connectedRegistries\/([a-z0-9][a-z0-9-]{0,49})\/?$/i;

/** `<name>.azurecr.io` for a registry (or connected registry) resource id; else undefined. */
export function loginServerFromResourceId(resourceId: string): string | undefined {
  const registry = resourceId.trim().replace(CONNECTED_REGISTRY_SUFFIX, "");
  const name = REGISTRY_RESOURCE_ID.exec(registry)?.[1];
  return name === undefined ? undefined : `${name.toLowerCase()}.azurecr.io`;
}

/** The connected registry a topic or source names, if it names one. */
export function connectedRegistryOf(topicOrSource: string): string | undefined {
  return CONNECTED_REGISTRY_SUFFIX.exec(topicOrSource.trim())?.[1];
}

function normalizeResourceId(resourceId: string): string {
  return resourceId.trim().replace(/\/+$/, "").toLowerCase();
}

/** A trusted registry, or a connected registry of one; never a child of an untrusted one. */
export function isTrustedSource(
  topicOrSource: string,
  trustedResourceIds: readonly string[],
): boolean {
  const candidate = normalizeResourceId(
    topicOrSource.trim().replace(CONNECTED_REGISTRY_SUFFIX, ""),
  );
  return candidate !== "" && trustedResourceIds.some((id) => normalizeResourceId(id) === candidate);
}

/** Why an ACR event is refused as not genuine. */
export type UntrustedReason = "missing-source" | "foreign-source" | "foreign-host";

/** Whether an Event Grid event speaks for a registry we trust, and if not, why not. */
export type EventTrust =
  | { kind: "trusted"; type: AcrEventType }
  | { kind: "ignored"; reason: "unsupported-type" }
  | { kind: "untrusted"; reason: Exclude<UntrustedReason, "foreign-host"> };

/** An event counts when ACR's type names it and its topic or source is a trusted registry. */
export function trustOf(
  type: string,
  topicOrSource: string,
  trustedResourceIds: readonly string[],
): EventTrust {
  if (!isAcrEventType(type)) return { kind: "ignored", reason: "unsupported-type" };
  if (topicOrSource.trim() === "") return { kind: "untrusted", reason: "missing-source" };
  if (!isTrustedSource(topicOrSource, trustedResourceIds)) {
    return { kind: "untrusted", reason: "foreign-source" };
  }
  return { kind: "trusted", type };
}

/**
 * An ACR login server: `<name>.azurecr.io`, a replica's `<name>.<region>.data.azurecr.io`, or a
 * sovereign cloud's.
 */
const ACR_LOGIN_SERVER = /^[a-z0-9]+\.(?:[a-z0-9-]+\.data\.)?azurecr\.[a-z.]+$/i;

/** The registry a login server names: its first label, lower case. */
function registryNameOf(loginServer: string): string {
  return loginServer.trim().toLowerCase().split(/[.:]/)[0];
}

/**
 * Whether the `request.host` of an event from a trusted topic or source names that registry: the
 * bridge records the event under its host, so one naming another registry is no more genuine
 * than one from a foreign topic. A connected registry's events may carry its own address
 * instead (on premises, not an ACR login server), which names no other registry.
 */
export function hostTrustOf(
  topicOrSource: string,
  host: string | undefined,
): { kind: "trusted" } | { kind: "untrusted"; reason: "foreign-host" } {
  const sourceServer = loginServerFromResourceId(topicOrSource);
  if (host === undefined || sourceServer === undefined) return { kind: "trusted" };
  const ownAddress =
    connectedRegistryOf(topicOrSource) !== undefined && !ACR_LOGIN_SERVER.test(host.trim());
  return ownAddress || registryNameOf(host) === registryNameOf(sourceServer)
    ? { kind: "trusted" }
    : { kind: "untrusted", reason: "foreign-host" };
}
