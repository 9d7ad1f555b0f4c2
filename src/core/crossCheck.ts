import type { DeliveryRecord } from "./deliveryRecord";
import type { EventOrigin, RegistryEvent } from "./registryEvent";
import { messageIdFor } from "./topicMessage";
import type { LogicalRef, Publication } from "./writePlan";

/**
 * The cross-check between the two ways ACR reports one event: its webhook (tried once) and Event
 * Grid (at least once, retried for 24 h). Both normalise to `RegistryEvent`; a *logical event*
 * gathers every arrival of the same registry, action, repository, digest and tag.
 *
 * Match rule: the same event id when both sides carry it (same logical key), else the same
 * (login server, action, repository, digest, tag) within the window. An id seen on both sides
 * with different fields is `mismatched`.
 */
export const DISCREPANCY_KINDS = [
  "webhook-only",
  "eventgrid-only",
  "mismatched",
  "quarantine-held",
] as const;
export type DiscrepancyKind = (typeof DISCREPANCY_KINDS)[number];
export function isDiscrepancyKind(state: string): state is DiscrepancyKind {
  return (DISCREPANCY_KINDS as readonly string[]).includes(state);
}

/** What a logical event ends as once its window (or its quarantine hold) is over. */
export const VERDICTS = ["matched", ...DISCREPANCY_KINDS] as const;
export type Verdict = (typeof VERDICTS)[number];
/**
 * `open`: waiting for its twin. `awaiting-release`: an Event Grid push whose digest ACR has in quarantine,
 * waiting for the push webhook ACR sends once the scanner passes it. `no-twin`: a quarantine,
 * which has no Event Grid event; kept so a held push can find it.
 */
export type CrossCheckState = "open" | "awaiting-release" | "no-twin" | Verdict;

/** Event Grid has no event for quarantine, ping or untag: those never have a twin to wait for. */
const ACTIONS_WITH_TWIN = new Set(["push", "delete", "chart_push", "chart_delete"]);

export function expectsTwin(action: string): boolean {
  return ACTIONS_WITH_TWIN.has(action);
}

/** Connected registries send no webhook: their Event Grid events wait for no twin. */
export function waitsForTwin(event: RegistryEvent): boolean {
  return expectsTwin(event.action) && event.connectedRegistry === undefined;
}

/**
 * Where an event's cross-check stands, from its logical event, else its records' verdict; an
 * event without one waits for its twin, unless it has none (quarantine, ping, connected registry).
 * A quarantine's `no-twin` logical event is bookkeeping for a held push, not a cross-check.
 */
export function crossCheckOf(
  logical: LogicalEvent | undefined,
  records: readonly DeliveryRecord[],
): string {
  return (
    (logical?.state === "no-twin" ? undefined : logical?.state) ??
    records[0]?.crossCheck ??
    (records.some((record) => waitsForTwin(record.event)) ? "open" : "not cross-checked")
  );
}

/** The logical event's identity: the same key as the topic message id, so recovery never doubles. */
export function logicalKeyFor(event: RegistryEvent): string {
  return messageIdFor(event);
}

export function logicalRefFor(event: RegistryEvent): LogicalRef {
  const { registry, repository, digest } = event;
  return { key: logicalKeyFor(event), registry, repository, digest };
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
  /** Which side put which occurrence on its topic: see `publishedBy`. */
  publication?: Publication;
  state: CrossCheckState;
  /** Event ids seen on both sides whose fields disagree. */
  mismatchedIds: string[];
  /** A reconcile run is closing it until then; another run leaves it alone. */
  closingUntil?: number;
  /** Runs that have taken it for closing; bounded like the re-drive, then it closes regardless. */
  closeAttempts?: number;
  /**
   * The finding the close that took it decided on. That close may have recorded or published
   * the finding before it failed, so a twin joining from then on is late, as after the close.
   */
  closingVerdict?: DiscrepancyKind;
  /** The twin came after the window had closed with a finding: matched after all, late. */
  late?: LateMatch;
}

export interface LateMatch {
  /** The finding the late twin resolves. */
  finding: DiscrepancyKind;
  at: number;
  /** Webhook to Event Grid, as for any match; beyond the window by definition. */
  delayMs: number;
  /** Whether the finding was marked resolved and the resolution published. */
  findingResolved: boolean;
}

const MAX_IDS = 20;

/**
 * How long after an occurrence's first arrival on a side another region's copy of it may come
 * (geo-replication of a large image can outlast the cross-check window).
 */
export const GEO_COPY_HORIZON_MS = 3_600_000;

/**
 * Adds an arrival to its logical event. After the window has closed, a late arrival of the side
 * not yet seen is the twin (late); another arrival of a side already seen is a new occurrence of
 * the same content (the same image pushed again later) and starts a new logical event, so it is
 * published again instead of being taken for a copy, unless it is another region's copy. A new
 * window waits for the twin from `windowOpensAt`: the arrival, unless the store could not take it
 * then (see `decideArrival`).
 */
export function withArrival(
  current: LogicalEvent | undefined,
  event: RegistryEvent,
  arrivedAt: number,
  windowMs: number,
  windowOpensAt = arrivedAt,
): LogicalEvent {
  // An import from ACR's delivery log is the webhook's own delivery, late.
  const side = event.origin === "eventgrid" ? "eventGrid" : "webhook";
  const seen = current?.[side];
  // A repeat of an id already seen (an Event Grid retry, a resent webhook) is the same occurrence.
  const newId = seen !== undefined && !seen.eventIds.includes(event.eventId);
  // The same region (or, with no regions told apart, any) sending a new id is the content
  // happening again; another region's arrival of one push is the same occurrence, also after the
  // window has closed, as long as it is within the horizon of replication.
  const sameRegion =
    event.region === undefined ? seen?.regions.length === 0 : seen?.regions.includes(event.region);
  const geoCopy =
    event.region !== undefined &&
    seen !== undefined &&
    seen.regions.length > 0 &&
    !seen.regions.includes(event.region) &&
    arrivedAt - seen.firstAt <= GEO_COPY_HORIZON_MS;
  const recurrence =
    current !== undefined && newId && !geoCopy && (!isWaiting(current) || sameRegion === true);
  const logical: LogicalEvent = (recurrence ? undefined : current) ?? {
    key: logicalKeyFor(event),
    occurrence: recurrence ? occurrenceOf(current) + 1 : 1,
    registry: event.registry,
    action: event.action,
    repository: event.repository,
    tag: event.tag,
    digest: event.digest,
    firstSeenAt: arrivedAt,
    windowClosesAt: windowOpensAt + windowMs,
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
  return withLateTwin(withRelease({ ...logical, [side]: arrivals }, side, arrivedAt), arrivedAt);
}

/**
 * The webhook of a push ACR held in quarantine, come once the scanner passed it: the hold is over,
 * and the window closes at once (both sides are there) instead of at the end of the hold.
 */
function withRelease(
  logical: LogicalEvent,
  side: "webhook" | "eventGrid",
  arrivedAt: number,
): LogicalEvent {
  if (logical.state !== "awaiting-release" || side !== "webhook") return logical;
  // The hold's close has decided on its finding: the webhook is a late twin instead.
  if (logical.closingVerdict !== undefined) return logical;
  return { ...logical, state: "open", windowClosesAt: arrivedAt };
}

/**
 * The side a one-sided finding says never came: `quarantine-held`, like `eventgrid-only`, is an
 * Event Grid push whose webhook did not come.
 */
function missingSideOf(state: CrossCheckState): "webhook" | "eventGrid" | undefined {
  switch (state) {
    case "webhook-only":
      return "eventGrid";
    case "eventgrid-only":
    case "quarantine-held":
      return "webhook";
    default:
      return undefined;
  }
}

/**
 * A twin arriving after its window closed one-sided, or once a close has decided on a one-sided
 * finding: matched after all, the finding to resolve.
 */
function withLateTwin(logical: LogicalEvent, arrivedAt: number): LogicalEvent {
  const finding = isWaiting(logical) ? logical.closingVerdict : logical.state;
  const delayMs = twinDelayMs(logical);
  if (finding === undefined || missingSideOf(finding) === undefined || delayMs === undefined) {
    return logical;
  }
  return {
    ...logical,
    state: "matched",
    late: {
      finding: finding as DiscrepancyKind,
      at: arrivedAt,
      delayMs,
      findingResolved: false,
    },
  };
}

/**
 * A close's verdict on the logical event as it is now. A twin that joined while the close was
 * under way (after its claim, before its verdict was written: another instance took the twin as
 * the finding or the recovery was being published) came after the window closed: it is a late
 * twin like any other, and the verdict a late match whose finding the next run resolves.
 */
export function withVerdict(current: LogicalEvent, verdict: Verdict): LogicalEvent {
  const settled: LogicalEvent = { ...current, state: verdict };
  const missing = missingSideOf(verdict);
  const twin = missing && current[missing];
  return twin ? withLateTwin(settled, twin.firstAt) : settled;
}

/** A late match whose finding is still to be marked resolved: the reconcile does it. */
export function awaitsResolution(logical: LogicalEvent): boolean {
  return logical.late !== undefined && !logical.late.findingResolved;
}

/** Still waiting for arrivals: its window is open, or ACR has yet to release a quarantined push. */
export function isWaiting(logical: LogicalEvent | undefined): boolean {
  return logical?.state === "open" || logical?.state === "awaiting-release";
}

/** A logical event recorded before occurrences were counted is the first occurrence. */
export function occurrenceOf(logical: LogicalEvent | undefined): number {
  return logical?.occurrence ?? 1;
}

/**
 * Which side put the current occurrence on its topic, so no later arrival publishes it again; a
 * publication of an earlier occurrence does not cover a newer one.
 */
export function publishedBy(logical: LogicalEvent | undefined): EventOrigin | undefined {
  const publication = logical?.publication;
  return publication?.occurrence === occurrenceOf(logical) ? publication.by : undefined;
}

/** For a delete (which carries no tag): the tags its digest was seen pushed with, once each. */
export function tagsPushedFor(event: RegistryEvent, digestTags: readonly string[]): string[] {
  if (!deletesDigest(event)) return [];
  return [...new Set(digestTags)].sort();
}

/** A delete that names a digest: its message carries the tags that digest was pushed with. */
export function deletesDigest(event: RegistryEvent): event is RegistryEvent & { digest: string } {
  return event.action === "delete" && event.digest !== undefined;
}

function addOnce(values: string[], value: string): string[] {
  return values.includes(value) ? values : [...values, value].slice(-MAX_IDS);
}

/** Fields of two arrivals with the same event id that should agree and do not. */
export function differingFields(a: RegistryEvent, b: RegistryEvent): string[] {
  const fields = ["registry", "action", "repository", "digest", "tag"] as const;
  return fields.filter((field) => (a[field] ?? "") !== (b[field] ?? ""));
}

export type WindowOutcome =
  | {
      state: Verdict;
      /** Publish the Event Grid arrival to the action's topic: the webhook was lost. */
      recover: boolean;
    }
  /** Not over yet: a quarantined push waits until then for its webhook. */
  | { state: "awaiting-release"; recover: false; until: number }
  /** Not over yet: the webhook waits until then for its twin, which Event Grid retries. */
  | { state: "open"; recover: false; until: number };

export interface VerdictPolicy {
  recoveryEnabled: boolean;
  /** How long an Event Grid push of a quarantined digest waits; undefined: no quarantine. */
  quarantineHoldMs?: number;
}

/** What else than the logical event its window's verdict goes by, as the close found it. */
export interface WindowCircumstances {
  /**
   * ACR sent a quarantine webhook for the digest, so a push without its webhook is withheld by
   * ACR, not lost: it is held, never recovered, and becomes a `quarantine-held` finding if the
   * hold ends without the webhook.
   */
  quarantined?: boolean;
  /**
   * When Event Grid's retries of deliveries refused during an outage the window was open in are
   * due (see `twinRetriedBy`): the webhook's twin may be one of them, and it waits until then.
   */
  twinRetried?: number;
  /** When the close runs; the window's close unless said. */
  now?: number;
}

/** What a logical event ends as once its window has closed, or how long it still waits. */
export function windowVerdict(
  logical: LogicalEvent,
  policy: VerdictPolicy,
  { quarantined = false, twinRetried, now = logical.windowClosesAt }: WindowCircumstances = {},
): WindowOutcome {
  if (logical.mismatchedIds.length > 0) return { state: "mismatched", recover: false };
  if (logical.webhook && logical.eventGrid) return { state: "matched", recover: false };
  if (logical.webhook) {
    if (twinRetried !== undefined && now < twinRetried) {
      return { state: "open", recover: false, until: twinRetried };
    }
    return { state: "webhook-only", recover: false };
  }
  if (logical.action === "push" && quarantined && policy.quarantineHoldMs !== undefined) {
    const until = logical.firstSeenAt + policy.quarantineHoldMs;
    if (now < until) return { state: "awaiting-release", recover: false, until };
    return { state: "quarantine-held", recover: false };
  }
  return {
    state: "eventgrid-only",
    recover: policy.recoveryEnabled && publishedBy(logical) === undefined,
  };
}

/** Whether the logical events of a digest include a quarantine of it. */
export function isQuarantined(related: readonly LogicalEvent[], digest: string | undefined) {
  return related.some((logical) => logical.action === "quarantine" && logical.digest === digest);
}

/** Quarantines are kept (without a window) so that a held push can find them. */
export function keepsQuarantine(event: RegistryEvent): boolean {
  return event.action === "quarantine" && event.digest !== undefined;
}

/** A one-sided event whose ids the other side sent with other fields: both ends are mismatched. */
export function withMismatches(
  logical: LogicalEvent,
  arrivals: readonly RegistryEvent[],
  otherSide: readonly RegistryEvent[],
): LogicalEvent {
  const mismatched = otherSide
    .filter((other) =>
      arrivals.some(
        (own) => own.eventId === other.eventId && differingFields(own, other).length > 0,
      ),
    )
    .map((other) => other.eventId);
  if (mismatched.length === 0) return logical;
  return { ...logical, mismatchedIds: [...new Set([...logical.mismatchedIds, ...mismatched])] };
}

/**
 * Event Grid arrivals are also indexed by their event id alone (`index-id`), so that the close of
 * a window only the webhook saw finds Event Grid's arrivals under its ids in one read instead of
 * in every registry's records. A webhook's arrival is not: its plan stays as small as it can be,
 * and a window only Event Grid saw still looks for the webhook's arrivals everywhere.
 */
export function indexedById(origin: EventOrigin): boolean {
  return origin === "eventgrid";
}

/** Only an event seen by one side can be the other half of a mismatch. */
export function isOneSided(logical: LogicalEvent): boolean {
  return (logical.webhook === undefined) !== (logical.eventGrid === undefined);
}

/** Delay from the webhook's first arrival to Event Grid's, for matched events. */
export function twinDelayMs(logical: LogicalEvent): number | undefined {
  if (!logical.webhook || !logical.eventGrid) return undefined;
  return logical.eventGrid.firstAt - logical.webhook.firstAt;
}
