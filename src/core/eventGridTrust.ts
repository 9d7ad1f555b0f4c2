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

/** Whether an Event Grid event speaks for a registry we trust, and if not, why not. */
export type EventTrust =
  | { kind: "trusted"; type: AcrEventType }
  | { kind: "ignored"; reason: "unsupported-type" }
  | { kind: "untrusted"; reason: "missing-source" | "foreign-source" };

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
