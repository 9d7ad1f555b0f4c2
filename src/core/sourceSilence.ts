import { z } from "zod";
import { describeError } from "./describeError";
import { FINDING_STATES } from "./discrepancy";
import { isoTime } from "./isoTime";
import type { EventOrigin } from "./registryEvent";
import { shortHash } from "./shortHash";
import { cloudEventMessage, type TopicMessage } from "./topicMessage";
import type { FindingWrite, Versioned } from "./writePlan";

/**
 * Operational findings: a registry/region whose Event Grid events keep coming while its webhook
 * has gone silent (ACR sometimes stops calling a webhook: Azure/acr#106), or the reverse.
 */
export const SILENCE_KINDS = ["webhook-silent", "eventgrid-silent"] as const;
export type SilenceKind = (typeof SILENCE_KINDS)[number];

/** When one side of one registry/region was last heard from (by arrival time). */
export interface SourceSeen {
  registry: string;
  /** Absent for webhooks that do not tell their region (no `?region=`). */
  region?: string;
  origin: EventOrigin;
  lastSeenAt: number;
  /**
   * When the latest event it delivered happened (ACR's timestamp, never later than its arrival):
   * an Event Grid retry of an event from before the latest arrival of the webhook is no sign that
   * the webhook fell silent. Absent on rows kept before it was: `lastSeenAt` stands in.
   */
  lastOccurredAt?: number;
}

export interface SilenceFinding {
  kind: SilenceKind;
  registry: string;
  region?: string;
  /** The silent side's last arrival when the finding opened. */
  silentSince: number;
  openedAt: number;
  resolvedAt?: number;
}

export interface Arrived {
  registry: string;
  region?: string;
  origin: EventOrigin;
  receivedAt: number;
  /** ACR's timestamp of the event. */
  occurredAt: number;
}

/** The latest arrival per registry, region and origin, `known` merged with new arrivals. */
function latestSeen(known: readonly SourceSeen[], arrivals: readonly Arrived[]): SourceSeen[] {
  const latest = new Map<string, SourceSeen>();
  const keep = (seen: SourceSeen) => {
    const key = JSON.stringify([seen.registry, seen.region ?? "", seen.origin]);
    const current = latest.get(key);
    const occurred = [current && occurredOf(current), occurredOf(seen)].filter(isTime);
    const newest = !current || current.lastSeenAt < seen.lastSeenAt ? seen : current;
    latest.set(key, { ...newest, lastOccurredAt: Math.max(...occurred) });
  };
  for (const seen of known) keep(seen);
  for (const { registry, region, origin, receivedAt, occurredAt } of arrivals) {
    keep({
      registry,
      region: region || undefined,
      origin,
      lastSeenAt: receivedAt,
      // A timestamp ahead of the arrival (a skewed clock) counts as the arrival.
      lastOccurredAt: Math.min(occurredAt, receivedAt),
    });
  }
  return [...latest.values()];
}

/** When each side was last heard from, and when the latest event it delivered happened. */
function sidesOf(
  webhooks: SourceSeen[],
  eventGrid: SourceSeen[],
): Omit<SourcePair, "registry" | "region"> {
  const newest = (entries: SourceSeen[], at: (entry: SourceSeen) => number) =>
    entries.length === 0 ? undefined : Math.max(...entries.map(at));
  const seenAt = (entry: SourceSeen) => entry.lastSeenAt;
  return {
    webhookAt: newest(webhooks, seenAt),
    eventGridAt: newest(eventGrid, seenAt),
    webhookOccurredAt: newest(webhooks, occurredOf),
    eventGridOccurredAt: newest(eventGrid, occurredOf),
  };
}

function occurredOf(seen: SourceSeen): number {
  return seen.lastOccurredAt ?? seen.lastSeenAt;
}

function isTime(value: number | undefined): value is number {
  return value !== undefined && Number.isFinite(value);
}

/** One registry/region as both sides see it. */
export interface SourcePair {
  registry: string;
  region?: string;
  webhookAt?: number;
  eventGridAt?: number;
  /** When the latest event of each side happened (see `SourceSeen.lastOccurredAt`). */
  webhookOccurredAt?: number;
  eventGridOccurredAt?: number;
}

/**
 * Pairs the two sides per registry and region. A registry whose latest webhook did not tell its
 * region is compared as a whole: its webhook against its latest Event Grid event of any region.
 * The latest decides, not any: one region-less delivery long ago (a test `curl`) must not stop
 * the regional comparison for good, nor regional webhooks since replaced by one without a region.
 */
export function sourcePairs(seen: readonly SourceSeen[]): SourcePair[] {
  const pairs: SourcePair[] = [];
  for (const registry of new Set(seen.map((entry) => entry.registry))) {
    const own = seen.filter((entry) => entry.registry === registry);
    const webhooks = own.filter((entry) => entry.origin === "webhook");
    const eventGrid = own.filter((entry) => entry.origin === "eventgrid");
    const latestWebhook = webhooks.reduce<SourceSeen | undefined>(
      (latest, entry) => (latest && latest.lastSeenAt >= entry.lastSeenAt ? latest : entry),
      undefined,
    );
    if (latestWebhook && latestWebhook.region === undefined) {
      pairs.push({ registry, ...sidesOf(webhooks, eventGrid) });
      continue;
    }
    for (const region of new Set(own.map((entry) => entry.region))) {
      const regional = (entries: SourceSeen[]) => entries.filter((e) => e.region === region);
      pairs.push({ registry, region, ...sidesOf(regional(webhooks), regional(eventGrid)) });
    }
  }
  return pairs;
}

/**
 * The side that is silent while the other still delivers: the other arrived within the threshold,
 * with an event that happened after this side was last heard, and this one has not been heard for
 * longer than the threshold. A side never heard from is not silent (a registry may use only one of
 * the two), and when both are quiet nothing is said: the registry may be idle.
 *
 * `listeningSince`: when the bridge was last seen to come back after a time it may not have been
 * listening (see `watchSources`). Nothing was heard from either side while it was down, so a
 * silence counts from then at the earliest, and only events that happened since show the other
 * side delivering: Event Grid retrying what it could not deliver during the bridge's downtime
 * does not make the webhook, whose deliveries of those events were lost, silent.
 */
export function silenceOf(
  pair: SourcePair,
  now: number,
  thresholdMs: number,
  listeningSince?: number,
): SilenceKind | undefined {
  const active = (at: number | undefined) => at !== undefined && now - at <= thresholdMs;
  const heardSince = (at: number) => Math.max(at, listeningSince ?? at);
  const silentWhile = (at: number | undefined, otherOccurredAt: number | undefined) =>
    at !== undefined &&
    now - heardSince(at) > thresholdMs &&
    otherOccurredAt !== undefined &&
    otherOccurredAt > heardSince(at);
  const occurred = (occurredAt: number | undefined, at: number | undefined) => occurredAt ?? at;
  if (
    active(pair.eventGridAt) &&
    silentWhile(pair.webhookAt, occurred(pair.eventGridOccurredAt, pair.eventGridAt))
  )
    return "webhook-silent";
  if (
    active(pair.webhookAt) &&
    silentWhile(pair.eventGridAt, occurred(pair.webhookOccurredAt, pair.webhookAt))
  )
    return "eventgrid-silent";
  return undefined;
}

export interface SilenceChanges {
  opened: SilenceFinding[];
  resolved: SilenceFinding[];
}

/**
 * What changes given the open findings: a new silence opens one; an open one is resolved once its
 * silent side has delivered again (not merely because the other side fell quiet too).
 */
export function silenceChanges(
  open: readonly SilenceFinding[],
  seen: readonly SourceSeen[],
  now: number,
  thresholdMs: number,
  listeningSince?: number,
): SilenceChanges {
  const opened: SilenceFinding[] = [];
  const resolved: SilenceFinding[] = [];
  const pairs = sourcePairs(seen);
  for (const pair of pairs) {
    const kind = silenceOf(pair, now, thresholdMs, listeningSince);
    if (!kind || open.some((finding) => sameSource(finding, pair) && finding.kind === kind))
      continue;
    const silentSince = (kind === "webhook-silent" ? pair.webhookAt : pair.eventGridAt) ?? now;
    opened.push({ kind, registry: pair.registry, region: pair.region, silentSince, openedAt: now });
  }
  for (const finding of open) {
    const lastHeard = lastHeardFrom(finding, seen);
    if (lastHeard !== undefined && lastHeard > finding.silentSince) {
      resolved.push({ ...finding, resolvedAt: now });
    }
  }
  return { opened, resolved };
}

/**
 * When the finding's silent side was last heard, whichever comparison holds now: the registry's
 * may have switched between regional and whole (see `sourcePairs`) since the finding opened, and
 * its own pair may be gone or left with stale rows. A finding on the whole registry hears that
 * side from any region; a regional one, from its region or without one.
 */
function lastHeardFrom(finding: SilenceFinding, seen: readonly SourceSeen[]): number | undefined {
  const origin: EventOrigin = finding.kind === "webhook-silent" ? "webhook" : "eventgrid";
  const heard = seen
    .filter(
      (entry) =>
        entry.registry === finding.registry &&
        entry.origin === origin &&
        (finding.region === undefined ||
          entry.region === undefined ||
          entry.region === finding.region),
    )
    .map((entry) => entry.lastSeenAt);
  return heard.length === 0 ? undefined : Math.max(...heard);
}

function sameSource(
  a: { registry: string; region?: string },
  b: { registry: string; region?: string },
) {
  return a.registry === b.registry && (a.region ?? "") === (b.region ?? "");
}

/** The `data` of a silence message (and the console's view): its one definition, in the catalog. */
export const silenceFindingDataSchema = z.object({
  kind: z
    .enum(SILENCE_KINDS)
    .describe(
      "webhook-silent: Event Grid still delivers, the webhook does not; eventgrid-silent: the reverse.",
    ),
  state: z
    .enum(FINDING_STATES)
    .describe("open when raised; resolved when the silent side delivers again."),
  registry: z.string().describe("The registry's login server, lower case."),
  region: z
    .string()
    .optional()
    .describe(
      "The replica region compared; absent when the registry is compared as a whole (its latest webhook named no region).",
    ),
  silentSince: z
    .string()
    .describe("The silent side's last arrival when the finding opened (ISO 8601)."),
  openedAt: z.string().describe("When the finding opened (ISO 8601)."),
  resolvedAt: z.string().optional().describe("When the silent side was heard again (ISO 8601)."),
});

export type SilenceFindingData = z.infer<typeof silenceFindingDataSchema>;

/** The application properties of a silence message, for subscription filters. */
export type SilenceProperties = Pick<
  SilenceFindingData,
  "kind" | "state" | "registry" | "region"
> & {
  operational: "true";
};

/** The CloudEvents type after `com.azure.acr.`: the finding's, or its resolution's. */
export function silenceType(kind: SilenceKind, state: SilenceFindingData["state"]): string {
  return `operational.${kind}${state === "resolved" ? ".resolved" : ""}`;
}

/** A silence finding as its message and the console show it: ISO times, its state in words. */
export function silenceFindingData(finding: SilenceFinding): SilenceFindingData {
  return {
    kind: finding.kind,
    state: finding.resolvedAt === undefined ? "open" : "resolved",
    registry: finding.registry,
    region: finding.region,
    silentSince: isoTime(finding.silentSince),
    openedAt: isoTime(finding.openedAt),
    resolvedAt: isoTime(finding.resolvedAt),
  };
}

/**
 * The message on the discrepancy topic, one when a finding opens and one when it is resolved;
 * ids stable per finding, so a re-run is dropped by duplicate detection.
 */
export function silenceMessage(finding: SilenceFinding): TopicMessage {
  const data = silenceFindingData(finding);
  const { state } = data;
  const id = shortHash([
    "silence",
    finding.kind,
    finding.registry,
    finding.region ?? "",
    String(finding.openedAt),
    state,
  ]);
  const properties: SilenceProperties = {
    kind: finding.kind,
    state,
    registry: finding.registry,
    region: finding.region,
    operational: "true",
  };
  return cloudEventMessage({
    id,
    registry: finding.registry,
    type: silenceType(finding.kind, state),
    subject: finding.region ?? "",
    time: isoTime(finding.resolvedAt ?? finding.openedAt),
    data,
    properties,
  });
}

/** A finding as kept: `published` once its message (open or resolved) is on the topic. */
export interface KeptSilenceFinding extends SilenceFinding {
  published: boolean;
}

export interface SourceWatchStore {
  seen(): Promise<SourceSeen[]>;
  saveSeen(seen: readonly SourceSeen[]): Promise<void>;
  /** Up to when arrivals have been read, and since when the watch has run without a gap. */
  lastScan(): Promise<ScanMark | undefined>;
  setLastScan(scan: ScanMark): Promise<void>;
  /** The latest finding per registry, region and kind, open or resolved. */
  findings(): Promise<Versioned<KeptSilenceFinding>[]>;
  /**
   * Writes the finding over its registry, region and kind's as read at `version` (undefined: there
   * was none), and only over that: of concurrent runs that decided the same change, one claims it.
   */
  writeFinding(finding: KeptSilenceFinding, version: string | undefined): Promise<FindingWrite>;
}

export interface ScanMark {
  /** Up to when arrivals have been read: the time of the latest run. */
  until: number;
  /** The first run after a gap longer than the threshold (see `listeningSinceAfter`). */
  listeningSince?: number;
}

/**
 * Since when the bridge has been seen listening without a gap. The watch runs on the reconcile's
 * schedule, in the same app as the endpoints: when it has not run for longer than the threshold,
 * the app was most likely stopped (an outage, a deploy, its storage down) and may have heard
 * nothing, so silences before it are not the sources'. A watch that never ran before has nothing
 * to go by but the records: undefined.
 */
export function listeningSinceAfter(
  previous: ScanMark | undefined,
  now: number,
  thresholdMs: number,
): number | undefined {
  if (!previous) return undefined;
  return now - previous.until > thresholdMs ? now : previous.listeningSince;
}

export interface SourceWatchPorts {
  store: SourceWatchStore;
  /** Deliveries that arrived in the window, with their arrival times and ACR's timestamps. */
  arrivals: (from: number, to: number) => Promise<Arrived[]>;
  publish: (message: TopicMessage) => Promise<void>;
}

export interface SourceWatchReport {
  arrivalsRead: number;
  opened: number;
  resolved: number;
  published: number;
  /**
   * Changes not published because their finding changed since it was read (another run claimed
   * it): the run that did publishes them, or the next run decides again.
   */
  notClaimed: number;
  errors: string[];
}

/**
 * Events can carry a timestamp a little older than their arrival (clock skew, Event Grid retries):
 * each run reads back this far before the last one, so none falls between two runs.
 */
const SCAN_OVERLAP_MS = 10 * 60_000;

/**
 * One run of the source watch, off the hot path (timer): folds the deliveries that arrived since
 * the last run into what was last seen of each source, opens and resolves silence findings, and
 * publishes each change once (a change whose publish failed is published again by the next run,
 * same id). Runs may overlap (the timer and a manual run, or two instances): a run publishes only
 * the changes it claimed, so an opening, whose message id is its run's time, goes out once.
 */
export async function watchSources(
  ports: SourceWatchPorts,
  thresholdMs: number,
  now: number,
): Promise<SourceWatchReport> {
  const report: SourceWatchReport = {
    arrivalsRead: 0,
    opened: 0,
    resolved: 0,
    published: 0,
    notClaimed: 0,
    errors: [],
  };
  const previous = await ports.store.lastScan();
  const from = Math.max(
    now - Math.max(thresholdMs, SCAN_OVERLAP_MS) * 2,
    (previous?.until ?? 0) - SCAN_OVERLAP_MS,
  );
  const arrivals = await ports.arrivals(from, now);
  report.arrivalsRead = arrivals.length;
  const seen = latestSeen(await ports.store.seen(), arrivals);
  await ports.store.saveSeen(seen);
  const listeningSince = listeningSinceAfter(previous, now, thresholdMs);
  await ports.store.setLastScan({ until: now, listeningSince });

  const kept = await ports.store.findings();
  const findings = kept.map((entry) => entry.value);
  const open = findings.filter((finding) => finding.resolvedAt === undefined);
  const changes = silenceChanges(open, seen, now, thresholdMs, listeningSince);
  report.opened = changes.opened.length;
  report.resolved = changes.resolved.length;
  const unpublished = findings.filter((finding) => !finding.published);
  // An earlier change still to publish goes first: a new opening of its source and kind would
  // take its row, and waits for the next run instead; an opening that never went out goes out
  // before its resolution, which waits for the next run when it cannot.
  const versions = new Map(kept.map((entry) => [findingKey(entry.value), entry.version]));
  const notOut = new Set<string>();
  for (const finding of [...unpublished, ...changes.opened, ...changes.resolved]) {
    const key = findingKey(finding);
    if (notOut.has(key)) continue;
    const claim = await ports.store.writeFinding(
      { ...finding, published: false },
      versions.get(key),
    );
    if (!claim.ok) {
      report.notClaimed++;
      notOut.add(key);
      continue;
    }
    versions.set(key, claim.value);
    try {
      await ports.publish(silenceMessage(finding));
      // At the claim's version: a run that changed the finding since keeps its change.
      const marked = await ports.store.writeFinding({ ...finding, published: true }, claim.value);
      if (marked.ok) versions.set(key, marked.value);
      else notOut.add(key);
      report.published++;
    } catch (error) {
      notOut.add(key);
      report.errors.push(`${finding.kind} ${finding.registry}: ${describeError(error)}`);
    }
  }
  return report;
}

function findingKey(finding: SilenceFinding): string {
  return JSON.stringify([finding.registry, finding.region ?? "", finding.kind]);
}
