import { isPublishableAction, type PublishableAction } from "./actions";
import type { RegistryEvent } from "./registryEvent";
import { anyScopeMatches, type Scope } from "./scope";

/** Where each action goes, and which repositories and tags may reach it (empty: all). */
export type RoutingTable = Record<PublishableAction, { topic: string; scopes: readonly Scope[] }>;

const NOT_ROUTED_REASONS = ["ping", "unknown-action", "out-of-scope"] as const;
export type NotRoutedReason = (typeof NOT_ROUTED_REASONS)[number];

export type Route =
  | { kind: "topic"; topic: string }
  | { kind: "not-routed"; reason: NotRoutedReason };

export function isNotRoutedReason(value: unknown): value is NotRoutedReason {
  return (NOT_ROUTED_REASONS as readonly unknown[]).includes(value);
}

export function routeForEvent(event: RegistryEvent, routing: RoutingTable): Route {
  if (event.action === "ping") return { kind: "not-routed", reason: "ping" };
  if (!isPublishableAction(event.action)) return { kind: "not-routed", reason: "unknown-action" };
  const { topic, scopes } = routing[event.action];
  return anyScopeMatches(scopes, event)
    ? { kind: "topic", topic }
    : { kind: "not-routed", reason: "out-of-scope" };
}
