import type { EventOrigin, RegistryEvent } from "./registryEvent";
import type { Route } from "./routing";

/**
 * `pending`: routed to a topic, not yet published (the re-drive finishes it).
 * `published`: on its topic (by this arrival or by its twin). `not-routed`: recorded only (ping,
 * unknown action, out of scope). `held`: an Event Grid arrival, published only if its webhook
 * never comes. `dead`: the re-drive gave up; `lastError` says why.
 */
export type PublishState = "pending" | "published" | "not-routed" | "held" | "dead";

/** The request as `az acr webhook list-events` shows it: secrets masked, never stored. */
export interface RecordedRequest {
  method: string;
  uri: string;
  headers: Record<string, string>;
  /** A delivery imported from ACR's log: the status ACR logged (none: it got no answer). */
  loggedResponse?: { status?: number };
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
  lastAttemptAt?: number;
  lastError?: string;
  /** The cross-check's verdict, once its window has closed. */
  crossCheck?: string;
  /** Which occurrence of its content this is (see `LogicalEvent.occurrence`), once known. */
  occurrence?: number;
}

export function initialPublishState(route: Route, origin: EventOrigin): PublishState {
  if (route.kind !== "topic") return "not-routed";
  return origin === "eventgrid" ? "held" : "pending";
}

export const MASK = "******";

/**
 * Masks every header that can carry a credential: the configured secret header, those that carry
 * one by convention, and any other whose value contains one of the accepted secrets.
 */
export function maskHeaders(
  headers: Iterable<[string, string]>,
  secretHeader: string,
  secrets: readonly string[] = [],
): Record<string, string> {
  const sensitive = new Set(
    ["authorization", "x-functions-key", "cookie", "proxy-authorization", secretHeader].map(
      (name) => name.toLowerCase(),
    ),
  );
  const masked: Record<string, string> = {};
  for (const [name, value] of headers) {
    const carriesSecret = secrets.some((secret) => value.includes(secret));
    masked[name] = sensitive.has(name.toLowerCase()) || carriesSecret ? MASK : value;
  }
  return masked;
}

/** A function key (`code`) or the Event Grid endpoint's secret (`key`) may ride in the URL. */
export function maskUri(uri: string): string {
  const url = new URL(uri);
  for (const name of ["code", "key"]) {
    if (url.searchParams.has(name)) url.searchParams.set(name, MASK);
  }
  return url.toString();
}
