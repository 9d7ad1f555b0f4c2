import type { RegistryEvent } from "./registryEvent";
import type { Route } from "./routing";

/**
 * `pending`: routed to a topic, not yet published (the re-drive finishes it).
 * `published`: on its topic. `not-routed`: recorded only (ping, unknown action, out of scope).
 */
export type PublishState = "pending" | "published" | "not-routed";

/** The request as `az acr webhook list-events` shows it: secrets masked, never stored. */
export interface RecordedRequest {
  method: string;
  uri: string;
  headers: Record<string, string>;
}

/** One arrival of the event: a repeat delivery or another regional webhook adds one. */
export interface Arrival {
  receivedAt: string;
  region?: string;
  status: number;
}

export interface NewDelivery {
  event: RegistryEvent;
  route: Route;
  receivedAt: number;
  request: RecordedRequest;
}

export interface DeliveryRecord extends NewDelivery {
  publishState: PublishState;
  deliveryCount: number;
  arrivals: Arrival[];
  publishedTopics: string[];
  publishAttempts: number;
  lastError?: string;
}

export function initialPublishState(route: Route): PublishState {
  return route.kind === "topic" ? "pending" : "not-routed";
}

export const MASK = "******";

/**
 * Masks every header that can carry a credential: the configured secret header, and those that
 * carry one by convention.
 */
export function maskHeaders(
  headers: Iterable<[string, string]>,
  secretHeader: string,
): Record<string, string> {
  const sensitive = new Set(
    ["authorization", "x-functions-key", "cookie", "proxy-authorization", secretHeader].map(
      (name) => name.toLowerCase(),
    ),
  );
  const masked: Record<string, string> = {};
  for (const [name, value] of headers) {
    masked[name] = sensitive.has(name.toLowerCase()) ? MASK : value;
  }
  return masked;
}

/** A function key may ride in the URL as `code`: mask it like a header. */
export function maskUri(uri: string): string {
  const url = new URL(uri);
  if (url.searchParams.has("code")) url.searchParams.set("code", MASK);
  return url.toString();
}
