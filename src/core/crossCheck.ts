import type { EventOrigin, RegistryEvent } from "./registryEvent";
import { messageIdFor } from "./topicMessage";

/**
 * The cross-check between the two ways ACR reports one event: its webhook (tried once) and Event
 * Grid (at least once, retried for 24 h). Both normalise to `RegistryEvent`; a *logical event*
 * gathers every arrival of the same registry, action, repository, digest and tag.
 *
 * Match rule: the same event id when both sides carry it (same logical key), else the same
 * (login server, action, repository, digest, tag) within the window. An id seen on both sides
 * with different fields is `mismatched`.
 */
export type CrossCheckState = "open" | "matched" | "webhook-only" | "eventgrid-only" | "mismatched";
export type DiscrepancyKind = Exclude<CrossCheckState, "open" | "matched">;
export const DISCREPANCY_KINDS: readonly DiscrepancyKind[] = [
  "webhook-only",
  "eventgrid-only",
  "mismatched",
];

/** Event Grid has no event for quarantine, ping or untag: those never have a twin to wait for. */
const ACTIONS_WITH_TWIN = new Set(["push", "delete", "chart_push", "chart_delete"]);

export function expectsTwin(action: string): boolean {
  return ACTIONS_WITH_TWIN.has(action);
}

/** The logical event's identity: the same key as the topic message id, so recovery never doubles. */
export function logicalKeyFor(event: RegistryEvent): string {
  return messageIdFor(event);
}

export interface SideArrivals {
  eventIds: string[];
  regions: string[];
  firstAt: number;
  count: number;
}

export interface LogicalEvent {
  key: string;
  /**
   * Which time this content happens: the same digest pushed under the same tag again (after a
   * delete, or a tag moved away and back) is a new occurrence, published with its own message id.
   */
  occurrence?: number;
  registry: string;
  action: string;
  repository?: string;
  tag?: string;
  digest?: string;
  firstSeenAt: number;
  windowClosesAt: number;
  webhook?: SideArrivals;
  eventGrid?: SideArrivals;
  /** Which side put it on its topic; set once, so no later arrival publishes it again. */
  publishedBy?: EventOrigin;
  state: CrossCheckState;
  /** Event ids seen on both sides whose fields disagree. */
  mismatchedIds: string[];
  /** A reconcile run is closing it until then; another run leaves it alone. */
  closingUntil?: number;
  /** Runs that have taken it for closing; bounded like the re-drive, then it closes regardless. */
  closeAttempts?: number;
}

const MAX_IDS = 20;

/**
 * Adds an arrival to its logical event. After the window has closed, a late arrival of the side
 * not yet seen is the twin (late); another arrival of a side already seen is a new occurrence of
 * the same content (the same image pushed again later) and starts a new logical event, so it is
 * published again instead of being taken for a copy.
 */
export function withArrival(
  current: LogicalEvent | undefined,
  event: RegistryEvent,
  arrivedAt: number,
  windowMs: number,
): LogicalEvent {
  // An import from ACR's delivery log is the webhook's own delivery, late.
  const side = event.origin === "eventgrid" ? "eventGrid" : "webhook";
  const seen = current?.[side];
  // A repeat of an id already seen (an Event Grid retry, a resent webhook) is the same occurrence.
  const newId = seen !== undefined && !seen.eventIds.includes(event.eventId);
  // Another region's arrival of one push is the same occurrence; the same region (or, with no
  // regions told apart, any) sending a new id is the content happening again.
  const sameRegion =
    event.region === undefined ? seen?.regions.length === 0 : seen?.regions.includes(event.region);
  const recurrence =
    current !== undefined && newId && (current.state !== "open" || sameRegion === true);
  const logical: LogicalEvent = (recurrence ? undefined : current) ?? {
    key: logicalKeyFor(event),
    occurrence: recurrence ? occurrenceOf(current) + 1 : 1,
    registry: event.registry,
    action: event.action,
    repository: event.repository,
    tag: event.tag,
    digest: event.digest,
    firstSeenAt: arrivedAt,
    windowClosesAt: arrivedAt + windowMs,
    state: "open",
    mismatchedIds: [],
  };
  const before = logical[side];
  const arrivals: SideArrivals = {
    eventIds: addOnce(before?.eventIds ?? [], event.eventId),
    regions: event.region ? addOnce(before?.regions ?? [], event.region) : (before?.regions ?? []),
    firstAt: before?.firstAt ?? arrivedAt,
    count: (before?.count ?? 0) + 1,
  };
  return { ...logical, [side]: arrivals };
}

/** Rows written before occurrences were counted are the first. */
export function occurrenceOf(logical: LogicalEvent | undefined): number {
  return logical?.occurrence ?? 1;
}

function addOnce(values: string[], value: string): string[] {
  return values.includes(value) ? values : [...values, value].slice(-MAX_IDS);
}

/** Fields of two arrivals with the same event id that should agree and do not. */
export function differingFields(a: RegistryEvent, b: RegistryEvent): string[] {
  const fields = ["registry", "action", "repository", "digest", "tag"] as const;
  return fields.filter((field) => (a[field] ?? "") !== (b[field] ?? ""));
}

export interface WindowOutcome {
  state: Exclude<CrossCheckState, "open">;
  /** Publish the Event Grid arrival to the action's topic: the webhook was lost. */
  recover: boolean;
}

/** What a logical event ends as once its window has closed. */
export function closeWindow(logical: LogicalEvent, recoveryEnabled: boolean): WindowOutcome {
  if (logical.mismatchedIds.length > 0) return { state: "mismatched", recover: false };
  if (logical.webhook && logical.eventGrid) return { state: "matched", recover: false };
  if (logical.webhook) return { state: "webhook-only", recover: false };
  return {
    state: "eventgrid-only",
    recover: recoveryEnabled && logical.publishedBy === undefined,
  };
}

/** Delay from the webhook's first arrival to Event Grid's, for matched events. */
export function twinDelayMs(logical: LogicalEvent): number | undefined {
  if (!logical.webhook || !logical.eventGrid) return undefined;
  return logical.eventGrid.firstAt - logical.webhook.firstAt;
}
