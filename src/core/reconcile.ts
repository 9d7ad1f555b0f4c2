import {
  awaitsResolution,
  type DiscrepancyKind,
  indexedById,
  isDiscrepancyKind,
  isOneSided,
  isQuarantined,
  isWaiting,
  type LogicalEvent,
  occurrenceOf,
  type Verdict,
  windowVerdict,
  withMismatches,
  withVerdict,
} from "./crossCheck";
import { type DeliveryRecord, isPending } from "./deliveryRecord";
import { describeError } from "./describeError";
import { type Discrepancy, discrepancyFor, discrepancyMessage, resolvedBy } from "./discrepancy";
import {
  describeConflict,
  type PublishFailure,
  publishFailureOf,
  publishRecord,
  restoreJournaled,
  writeOrThrow,
} from "./ingestDelivery";
import { isoTime } from "./isoTime";
import { knownTagsOf } from "./knownTags";
import {
  DependencyUnavailableError,
  type EventStore,
  type FindingStore,
  isJournaledDelivery,
  type Journal,
  type JournalEntry,
  type JournaledDelivery,
  type OutageLog,
  type Publisher,
  type SetAside,
} from "./ports";
import type { EventOrigin, RegistryEvent } from "./registryEvent";
import { type RoutingTable, routeForEvent } from "./routing";
import { KeptOutages, twinRetriedBy } from "./storeOutage";
import { type TopicMessage, topicMessageFor } from "./topicMessage";
import type { Change, Versioned } from "./writePlan";

export interface ReconcilePorts {
  store: EventStore;
  publisher: Publisher;
  findings: FindingStore;
  journal: Journal;
  outages: OutageLog;
}

export interface RedrivePolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface ReconcileSettings {
  routing: RoutingTable;
  discrepancyTopic: string;
  recoveryEnabled: boolean;
  /** How long an Event Grid push of a quarantined digest waits for its webhook; undefined: off. */
  quarantineHoldMs?: number;
  windowMs: number;
  /** Most windows and pending records handled in one run; the rest wait for the next. */
  batchSize: number;
  redrive: RedrivePolicy;
  /**
   * How long one run may go on taking windows and records (measured from its start, on the
   * run's clock); what is left waits for the next run, so a run after a long pause ends inside
   * the function's timeout whatever the batch size. While records are due for a re-drive, the
   * windows get at most `WINDOWS_SHARE` of it. Undefined: bounded by the batch size only.
   */
  runMs?: number;
}

export interface ReconcileReport {
  restored: number;
  closed: Record<string, number>;
  recovered: number;
  findingsPublished: number;
  /** Findings a late twin resolved, their resolution published. */
  resolved: number;
  /** Quarantined pushes held for their webhook. */
  held: number;
  /**
   * Windows only the webhook saw kept open past their close: Event Grid's delivery of the twin may
   * have been refused during an outage, and its retry is not due yet (see `storeOutage`).
   */
  extended: number;
  redriven: number;
  redriveFailed: number;
  dead: number;
  /**
   * Journal entries storage refused to record for their content, moved to the journal's
   * dead-letter queue so that they do not hold the entries after them; each named in `errors`.
   */
  setAside: number;
  /** The records made `dead` by this run: what an operator needs to find each lost message. */
  gaveUp: { eventId: string; action: string; registry: string; reason: string }[];
  /**
   * Due windows and records listed but left for the next run: the run's time was up, or (windows
   * only Event Grid saw) the journal still holds webhooks to restore.
   */
  deferred: number;
  errors: string[];
}

/** The share of a run's time the windows may take while records are due for a re-drive. */
export const WINDOWS_SHARE = 2 / 3;

/** The share of a run's time the journal's restores may take. */
export const JOURNAL_SHARE = 1 / 3;

/** How long one run may take to close a window before another run may take it over. */
export const WINDOW_LEASE_MS = 60_000;

/**
 * Exponential backoff between re-drive attempts, capped. A record never attempted may still be in
 * its delivery's hands: it waits one base delay from its arrival.
 */
export function nextAttemptAt(record: DeliveryRecord, policy: RedrivePolicy): number {
  if (record.lastAttemptAt === undefined) return record.receivedAt + policy.baseDelayMs;
  const exponent = Math.max(0, record.publishAttempts - 1);
  return record.lastAttemptAt + Math.min(policy.baseDelayMs * 2 ** exponent, policy.maxDelayMs);
}

/**
 * One reconcile run: records what was journaled while the store was down, closes the
 * cross-check windows that are due (findings, recovery) and re-drives records still pending
 * publication. Both read only open items, never history. A step
 * that fails leaves its item open for the next run; every write is idempotent.
 */
export async function reconcile(
  given: ReconcilePorts,
  settings: ReconcileSettings,
  now: number,
  clock: () => number = () => now,
): Promise<ReconcileReport> {
  const started = clock();
  const deadline = started + (settings.runMs ?? Number.POSITIVE_INFINITY);
  const ports = { ...given, publisher: untilUnanswered(given.publisher) };
  const report: ReconcileReport = {
    restored: 0,
    setAside: 0,
    closed: {},
    recovered: 0,
    findingsPublished: 0,
    resolved: 0,
    held: 0,
    extended: 0,
    redriven: 0,
    redriveFailed: 0,
    dead: 0,
    gaveUp: [],
    deferred: 0,
    errors: [],
  };
  // Each phase on its own: a dependency down in one does not keep the others from running.
  const attempt = async <T>(label: string, work: () => Promise<T>, fallback: T): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      report.errors.push(`${label}: ${describeError(error)}`);
      return fallback;
    }
  };
  const journalUntil = started + (deadline - started) * JOURNAL_SHARE;
  const outages = new KeptOutages(ports.outages, settings.windowMs);
  const restoreEntry = async (entry: JournalEntry): Promise<void> => {
    // The store answers again: the outage the refusal tells of lasted until now at least.
    if (!isJournaledDelivery(entry)) return outages.keep(entry, clock());
    const { conflictingFields } = await restoreJournaled(
      entry,
      { ...ports, windowMs: settings.windowMs },
      clock(),
    );
    // Its message went out while storage was down; nothing else would tell of it.
    if (conflictingFields) report.errors.push(journalConflict(entry, conflictingFields));
  };
  const journal = await attempt(
    "journal",
    () =>
      ports.journal.drain(
        async (entry, failedBefore) => {
          try {
            await restoreEntry(entry);
            return undefined;
          } catch (error) {
            const setAside = setAsideFor(error, failedBefore);
            if (!setAside) throw error;
            report.errors.push(`journal: ${describeEntry(entry)} set aside: ${setAside.setAside}`);
            return setAside;
          }
        },
        settings.batchSize,
        () => clock() >= journalUntil,
      ),
    // Unreadable (a journal queue missing, Service Bus down): nothing to wait for, or recovery
    // would wait for ever; with Service Bus down the closes that publish fail anyway.
    { restored: 0, setAside: 0, more: false },
  );
  report.restored = journal.restored;
  report.setAside = journal.setAside;
  if (journal.failure) report.errors.push(`journal: an entry was not restored: ${journal.failure}`);
  const work = await attempt(
    "open work",
    () =>
      ports.store.openWork(now, {
        windows: settings.batchSize,
        pending: settings.batchSize * MARKERS_READ_PER_DUE,
      }),
    { windows: [], pending: [] },
  );
  const isDue = (record: DeliveryRecord) => nextAttemptAt(record, settings.redrive) <= now;
  // The windows leave the re-drive its share of the run when records are waiting for it.
  const windowsUntil = work.pending.some((record) => isDue(record.value))
    ? started + (deadline - started) * WINDOWS_SHARE
    : deadline;
  // Records a close puts on the pending list, re-driven in the same run.
  const handedOver: DeliveryRecord[] = [];
  for (const [index, { window, logical }] of work.windows.entries()) {
    if (clock() >= windowsUntil) {
      report.deferred += work.windows.length - index;
      break;
    }
    await attempt(
      `window ${window.key}`,
      async () => {
        if (logical && awaitsResolution(logical.value)) {
          await resolveLateMatch(logical, ports, settings, now, report);
          return;
        }
        // One side has arrived, and the journal still holds what came while storage was down.
        // Only Event Grid: its webhook may be among them, already on its topic when it was
        // journaled; closed now, it would be recovered (a second message, past duplicate
        // detection's reach after a long outage) and blame ACR for a webhook the bridge has. Only
        // the webhook: a refusal of its twin may be among them, whose outage it must wait out.
        // Either waits for the journal.
        if (journal.more && logical && isWaiting(logical.value) && isOneSided(logical.value)) {
          report.deferred++;
          return;
        }
        // A window another writer opened at the same moment, or one already closed: drop it.
        if (
          !logical ||
          !isWaiting(logical.value) ||
          logical.value.windowClosesAt !== window.windowClosesAt
        ) {
          await writeOrThrow(ports.store, [{ kind: "close-window", window }]);
          return;
        }
        handedOver.push(...(await closeDueWindow(logical, ports, settings, outages, now, report)));
      },
      undefined,
    );
  }
  const listed = [
    ...work.pending,
    ...(await attempt("pending", () => currentRecords(handedOver, ports.store), [])),
  ];
  let taken = 0;
  for (const [index, record] of listed.entries()) {
    if (taken >= settings.batchSize) break;
    if (clock() >= deadline) {
      report.deferred += listed.slice(index).filter((left) => isDue(left.value)).length;
      break;
    }
    await attempt(
      `record ${record.value.event.eventId}`,
      async () => {
        if (!isPending(record.value)) {
          await writeOrThrow(ports.store, [{ kind: "remove-pending", record: record.value }]);
          return;
        }
        if (!isDue(record.value)) return;
        taken++;
        const claimed = await claimRedrive(record, ports.store, now);
        if (claimed) await redrive(claimed, ports, settings, now, report);
      },
      undefined,
    );
  }
  return report;
}

/**
 * The run's publisher: once the messaging service did not answer, each later publish of the run
 * fails the same way at once instead of waiting out a timeout of its own (a run of hundreds of
 * due items would outlast the function's). What it fails stays open for the next run, as after
 * any unanswered publish.
 */
function untilUnanswered(publisher: Publisher): Publisher {
  let unanswered: DependencyUnavailableError | undefined;
  return {
    async publish(topic, message) {
      if (unanswered) throw unanswered;
      try {
        await publisher.publish(topic, message);
      } catch (error) {
        if (error instanceof DependencyUnavailableError) unanswered = error;
        throw error;
      }
    },
  };
}

/**
 * How many times a journal entry's restore may fail for a reason of the bridge's own before it is
 * set aside: the journal queue hands an entry out up to 2000 times, and until then it would hold
 * every entry after it (and the windows waiting for the journal to drain).
 */
export const RESTORE_TRIES = 3;

/**
 * Whether a failed restore sets its entry aside: at once when storage refuses what it holds (asked
 * again, it would refuse again); when the failure is the bridge's own, once the entry was taken
 * `RESTORE_TRIES` times (the times storage did not answer count: after a long outage, one failure
 * of its own is enough). An entry stays while storage does not answer, however long that takes.
 */
function setAsideFor(error: unknown, failedBefore: number): SetAside | undefined {
  if (error instanceof DependencyUnavailableError) {
    return error.refused ? { cause: "refused", setAside: error.message } : undefined;
  }
  const tries = failedBefore + 1;
  if (tries < RESTORE_TRIES) return undefined;
  return { cause: "failing", setAside: `taken ${tries} times, failed: ${describeError(error)}` };
}

function describeEntry(entry: JournalEntry): string {
  if (!isJournaledDelivery(entry)) return `the refusal noted at ${isoTime(entry.refusedAt)}`;
  const { event, receivedAt } = entry.delivery;
  return `the ${event.origin} delivery of event ${event.eventId} (${event.action}, registry ${event.registry}, received ${isoTime(receivedAt)})`;
}

function journalConflict(entry: JournaledDelivery, conflictingFields: readonly string[]): string {
  const sent = entry.published ? ", though its message went out while storage was down" : "";
  return `journal: event ${entry.delivery.event.eventId} was ${describeConflict(conflictingFields)}: not recorded${sent}`;
}

/** How far past records still backing off one run looks for due ones. */
const MARKERS_READ_PER_DUE = 10;

async function currentRecords(
  records: readonly DeliveryRecord[],
  store: EventStore,
): Promise<Versioned<DeliveryRecord>[]> {
  const current = await Promise.all(records.map((record) => store.recordOf(record.event)));
  return current.flatMap((record) => (record ? [record] : []));
}

/** Whether another run is closing it until its lease ends. */
function isLeased(logical: LogicalEvent, now: number): boolean {
  return (logical.closingUntil ?? 0) > now;
}

/**
 * Takes a due window for closing until the lease ends by a versioned write: of two concurrent
 * runs only one gets it. `closingVerdict`, the finding the close decided on, makes a twin that
 * joins from then on late, even if the close fails after publishing the finding.
 */
async function claimWindow(
  logical: Versioned<LogicalEvent>,
  store: EventStore,
  now: number,
  closingVerdict?: DiscrepancyKind,
): Promise<LogicalEvent | undefined> {
  if (isLeased(logical.value, now)) return undefined;
  const claimed: LogicalEvent = {
    ...logical.value,
    closingUntil: now + WINDOW_LEASE_MS,
    closeAttempts: (logical.value.closeAttempts ?? 0) + 1,
    closingVerdict,
  };
  const outcome = await store.write([
    { kind: "replace-logical", logical: claimed, version: logical.version },
  ]);
  return outcome.ok ? claimed : undefined;
}

/**
 * A close that got through gives the logical event back: no lease, and its attempts counted
 * afresh, so a later close of it (a late twin's resolution, the end of a quarantine hold) has
 * every attempt of its own.
 */
const RELEASED = {
  closingUntil: undefined,
  closeAttempts: undefined,
  closingVerdict: undefined,
} satisfies Partial<LogicalEvent>;

/** Takes a pending record for one re-drive attempt by a versioned write of `lastAttemptAt`. */
async function claimRedrive(
  record: Versioned<DeliveryRecord>,
  store: EventStore,
  now: number,
): Promise<DeliveryRecord | undefined> {
  const claimed = { ...record.value, lastAttemptAt: now };
  const outcome = await store.write([
    { kind: "replace-record", record: claimed, version: record.version },
  ]);
  return outcome.ok ? claimed : undefined;
}

/**
 * Decides a due window's verdict, claims the window with it and closes it; returns the arrivals
 * it put on the pending list for the re-drive.
 */
async function closeDueWindow(
  listed: Versioned<LogicalEvent>,
  ports: ReconcilePorts,
  settings: ReconcileSettings,
  outages: KeptOutages,
  now: number,
  report: ReconcileReport,
): Promise<DeliveryRecord[]> {
  const { store } = ports;
  if (isLeased(listed.value, now)) return [];
  const sides = await arrivalsBySide(listed.value, store);
  const checked = isOneSided(listed.value)
    ? await withOtherSideMismatches(listed.value, sides, store)
    : listed.value;
  const quarantined = await isHeldByQuarantine(checked, sides, settings, store);
  const twinRetried = twinRetriedBy(checked, await outages.current(), settings.windowMs);
  const outcome = windowVerdict(checked, settings, { quarantined, twinRetried, now });
  if (outcome.state === "open") {
    if (await extendWindow(listed, outcome.until, store)) report.extended++;
    return [];
  }
  const finding = isDiscrepancyKind(outcome.state) ? outcome.state : undefined;
  // Versioned on the logical event as read: an arrival since then makes the claim fail.
  const logical = await claimWindow({ ...listed, value: checked }, store, now, finding);
  if (!logical) return [];
  if (outcome.state === "awaiting-release") {
    if (await holdForQuarantine(logical, outcome.until, sides.eventgrid, store)) report.held++;
    return [];
  }
  // The claim that brought us here was this run's attempt; the last one closes whatever the
  // messaging service refuses, so a topic that can never take the message does not keep the window
  // open for ever. A service that does not answer keeps it open until it does.
  const lastAttempt = (logical.closeAttempts ?? 0) >= settings.redrive.maxAttempts;
  const failed = (step: string, { reason, refused }: PublishFailure) => {
    if (!lastAttempt || !refused) throw new Error(`${step} failed: ${reason}`);
    report.errors.push(`window ${logical.key}: gave up, ${step} failed: ${reason}`);
  };
  // Recovered by an earlier run whose close did not finish: still a recovered finding.
  let recovered = outcome.state === "eventgrid-only" && logical.publication?.by === "eventgrid";
  if (outcome.recover) {
    const [arrival] = sides.eventgrid;
    const route = arrival && routeForEvent(arrival.event, settings.routing);
    if (arrival && route?.kind === "topic") {
      const occurrence = occurrenceOf(logical);
      const record = { ...arrival, occurrence };
      const message = await messageOf(arrival.event, occurrence, store);
      const { sent } = await publishRecord(record, { topic: route.topic, message }, ports, now);
      if (sent.ok) {
        recovered = true;
        report.recovered++;
        const publication = { by: arrival.event.origin, occurrence };
        await writeOrThrow(store, [{ kind: "set-publication", logical, publication }]);
      } else {
        failed("recovery publish", sent.failure);
      }
    }
  }
  if (outcome.state !== "matched") {
    const finding = discrepancyFor(logical, outcome.state, recovered);
    await ports.findings.record(finding);
    try {
      await ports.publisher.publish(settings.discrepancyTopic, discrepancyMessage(finding));
      report.findingsPublished++;
    } catch (error) {
      failed("finding publish", publishFailureOf(error));
    }
  }
  const arrivals = [...sides.webhook, ...sides.eventgrid];
  const handedOver = arrivals.filter(isPending);
  const settle = (current: LogicalEvent): LogicalEvent => ({
    ...withVerdict(current, outcome.state),
    // A held push's webhook joining during the close released (moved) the window: the verdict
    // stays this window's, whose close is the finding's `detectedAt`, which the resolution keeps.
    windowClosesAt: logical.windowClosesAt,
    mismatchedIds: [...new Set([...current.mismatchedIds, ...logical.mismatchedIds])],
  });
  await settleLogical(logical, settle, outcome.state, store, [
    { kind: "close-window", window: logical },
    ...arrivals.map(
      (record): Change => ({
        kind: "set-record-status",
        record,
        status: { crossCheck: outcome.state },
      }),
    ),
    // A record never marked published (its process ended after the write) goes to the re-drive.
    ...handedOver.map((record): Change => ({ kind: "add-pending", record })),
  ]);
  report.closed[outcome.state] = (report.closed[outcome.state] ?? 0) + 1;
  return handedOver;
}

/**
 * Moves a window only the webhook saw to when Event Grid's retry of its twin is due, by a write at
 * the version listed: an arrival since, or another run, makes it fail, and the next run decides
 * again. False when it did.
 */
async function extendWindow(
  listed: Versioned<LogicalEvent>,
  until: number,
  store: EventStore,
): Promise<boolean> {
  const extended: LogicalEvent = { ...listed.value, windowClosesAt: until };
  const outcome = await store.write(movedWindow(listed.value, extended, listed.version));
  return outcome.ok;
}

/**
 * The logical event, at the version read, replaced by `moved`, whose window closes at another
 * time: the window's marker moves with it.
 */
function movedWindow(from: LogicalEvent, moved: LogicalEvent, version: string): Change[] {
  return [
    { kind: "replace-logical", logical: moved, version },
    { kind: "close-window", window: from },
    { kind: "open-window", window: moved },
  ];
}

/** Only an Event Grid push with no webhook can be held, and only where quarantine is on. */
async function isHeldByQuarantine(
  logical: LogicalEvent,
  sides: Sides,
  settings: ReconcileSettings,
  store: EventStore,
): Promise<boolean> {
  const [arrival] = sides.eventgrid;
  const candidate = logical.action === "push" && !logical.webhook && arrival !== undefined;
  if (!candidate || settings.quarantineHoldMs === undefined) return false;
  const related = await store.relatedLogicals(arrival.event);
  return isQuarantined(
    related.map((entry) => entry.value),
    logical.digest,
  );
}

/**
 * The window moves to the hold's end; its arrivals show `held` until the webhook or the end.
 * False when the webhook joined while the close was under way: nothing is held, the claim is
 * released, and the next run closes the window as it is now.
 */
async function holdForQuarantine(
  logical: LogicalEvent,
  until: number,
  arrivals: DeliveryRecord[],
  store: EventStore,
): Promise<boolean> {
  const current = await store.logicalOf(logical);
  if (!current) return false;
  if (current.value.webhook) {
    const released: LogicalEvent = { ...current.value, ...RELEASED };
    await writeOrThrow(store, [
      { kind: "replace-logical", logical: released, version: current.version },
    ]);
    return false;
  }
  const held: LogicalEvent = {
    ...current.value,
    state: "awaiting-release",
    windowClosesAt: until,
    ...RELEASED,
  };
  await writeOrThrow(store, [
    ...movedWindow(logical, held, current.version),
    ...arrivals.map(
      (record): Change => ({
        kind: "set-record-status",
        record,
        status: { crossCheck: "awaiting-release" },
      }),
    ),
  ]);
  return true;
}

/**
 * A twin came after the window closed with a finding: the finding is marked resolved and the
 * resolution published, so a subscriber that opened an alert can close it.
 */
async function resolveLateMatch(
  logical: Versioned<LogicalEvent>,
  ports: ReconcilePorts,
  settings: ReconcileSettings,
  now: number,
  report: ReconcileReport,
): Promise<void> {
  // Taken like a window, so of two concurrent runs only one resolves it. A verdict still claimed
  // is kept until the resolution settles: see below.
  const claimed = await claimWindow(logical, ports.store, now, logical.value.closingVerdict);
  const late = claimed?.late;
  if (!claimed || !late) return;
  const recovered = late.finding === "eventgrid-only" && claimed.publication?.by === "eventgrid";
  const opening = discrepancyFor(claimed, late.finding, recovered);
  const publishFinding = async (finding: Discrepancy) => {
    await ports.findings.record(finding);
    try {
      await ports.publisher.publish(settings.discrepancyTopic, discrepancyMessage(finding));
      // A resolution is counted in `resolved` once the run settles it.
      if (finding.state === "open") report.findingsPublished++;
    } catch (error) {
      const giveUp = (claimed.closeAttempts ?? 0) >= settings.redrive.maxAttempts;
      if (!giveUp || !publishFailureOf(error).refused) throw error;
      report.errors.push(
        `window ${claimed.key}: gave up, ${finding.state === "open" ? "finding" : "resolution"} publish failed: ${describeError(error)}`,
      );
    }
  };
  // The close that decided the finding did not finish, so it may not have recorded or published
  // it: the finding goes out first (under the same message id, which duplicate detection drops if
  // it went), so that no subscriber gets a resolution of a finding it never saw.
  if (claimed.closingVerdict !== undefined) await publishFinding(opening);
  await publishFinding(resolvedBy(opening, late));
  const sides = await arrivalsBySide(claimed, ports.store);
  await settleLogical(
    claimed,
    (current) => ({ ...current, late: { ...late, findingResolved: true } }),
    "matched",
    ports.store,
    [
      { kind: "close-window", window: claimed },
      ...[...sides.webhook, ...sides.eventgrid].map(
        (record): Change => ({
          kind: "set-record-status",
          record,
          status: { crossCheck: "matched" },
        }),
      ),
    ],
  );
  report.resolved++;
}

/**
 * Writes what a run decided onto the logical event as it is now (an arrival may have joined since
 * the claim), with the verdict logged and the other changes of the close.
 */
async function settleLogical(
  logical: LogicalEvent,
  settle: (current: LogicalEvent) => LogicalEvent,
  verdict: Verdict,
  store: EventStore,
  changes: Change[],
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const current = await store.logicalOf(logical);
    // The content happened again during the close (pushed again): the logical event is its newer
    // occurrence now, with a window of its own, and is left as it is.
    const movedOn = current !== undefined && occurrenceOf(current.value) !== occurrenceOf(logical);
    const base = movedOn ? logical : (current?.value ?? logical);
    const settled: LogicalEvent = { ...settle(base), ...RELEASED };
    const replace: Change[] = movedOn
      ? []
      : [
          current
            ? { kind: "replace-logical", logical: settled, version: current.version }
            : { kind: "create-logical", logical: settled },
        ];
    // A twin joined during the close: its window stays listed, for the next run to resolve it.
    const resolvedNext = awaitsResolution(settled);
    // The verdict keeps this window's close; the window an arrival moved it to meanwhile (a held
    // push released by its webhook) is closed with it, or it would stay listed twice.
    const moved =
      current && !movedOn && current.value.windowClosesAt !== logical.windowClosesAt
        ? [{ kind: "close-window", window: current.value } satisfies Change]
        : [];
    const outcome = await store.write([
      ...replace,
      { kind: "log-verdict", logical: settled, state: verdict },
      ...(resolvedNext ? keepWindow(changes, settled) : changes),
      ...moved,
    ]);
    if (outcome.ok) return;
    if (attempt >= MAX_CLOSE_ATTEMPTS) {
      throw new Error(`close: ${outcome.failure} kept conflicting`);
    }
  }
}

const MAX_CLOSE_ATTEMPTS = 10;

/** The close's changes with its window kept (written again) instead of closed. */
function keepWindow(changes: readonly Change[], logical: LogicalEvent): Change[] {
  return changes.map(
    (change): Change =>
      change.kind === "close-window" && change.window.key === logical.key
        ? { kind: "open-window", window: logical }
        : change,
  );
}

/** The webhook side also holds deliveries imported from ACR's own log (`acr-log`). */
interface Sides {
  webhook: DeliveryRecord[];
  eventgrid: DeliveryRecord[];
}

const WEBHOOK_SIDE: EventOrigin[] = ["webhook", "acr-log"];

async function arrivalsBySide(logical: LogicalEvent, store: EventStore): Promise<Sides> {
  const webhookIds = logical.webhook?.eventIds ?? [];
  const [webhook, imported, eventgrid] = await Promise.all([
    ...WEBHOOK_SIDE.map((origin) => store.arrivalsOf(logical, webhookIds, origin)),
    store.arrivalsOf(logical, logical.eventGrid?.eventIds ?? [], "eventgrid"),
  ]);
  return { webhook: [...(webhook ?? []), ...(imported ?? [])], eventgrid: eventgrid ?? [] };
}

/** The other side's arrivals under this side's ids, wherever their content put them. */
async function withOtherSideMismatches(
  logical: LogicalEvent,
  sides: Sides,
  store: EventStore,
): Promise<LogicalEvent> {
  const own = logical.webhook ? sides.webhook : sides.eventgrid;
  const otherOrigins: EventOrigin[] = logical.webhook ? ["eventgrid"] : WEBHOOK_SIDE;
  const others = await Promise.all(
    own.flatMap((record) =>
      otherOrigins.map((origin) =>
        indexedById(origin)
          ? store.arrivalsIndexedById(record.event.eventId, origin)
          : store.arrivalsById(record.event.eventId, origin),
      ),
    ),
  );
  return withMismatches(
    logical,
    own.map((record) => record.event),
    others.flat().map((record) => record.event),
  );
}

/** The event's message as its arrival would have sent it: a delete with its digest's tags. */
async function messageOf(
  event: RegistryEvent,
  occurrence: number | undefined,
  store: EventStore,
): Promise<TopicMessage> {
  return topicMessageFor(event, await knownTagsOf(event, store), occurrence);
}

async function redrive(
  record: DeliveryRecord,
  ports: ReconcilePorts,
  settings: ReconcileSettings,
  now: number,
  report: ReconcileReport,
): Promise<void> {
  const { event, route } = record;
  if (route.kind !== "topic") return;
  const message = await messageOf(event, record.occurrence, ports.store);
  const { sent } = await publishRecord(record, { topic: route.topic, message }, ports, now);
  if (sent.ok) {
    report.redriven++;
    return;
  }
  report.redriveFailed++;
  const attempts = record.publishAttempts + 1;
  // Past the last attempt, the first refusal ends it; while the service does not answer, the
  // record waits for it at the capped backoff, however long that takes.
  if (attempts >= settings.redrive.maxAttempts && sent.failure.refused) {
    const reason = `gave up after ${attempts} attempts: ${sent.failure.reason}`;
    await markDead(record, reason, ports.store);
    report.dead++;
    report.gaveUp.push({
      eventId: event.eventId,
      action: event.action,
      registry: event.registry,
      reason,
    });
  }
}

/** The re-drive gave up: the record leaves the pending list, visibly, with its reason. */
function markDead(record: DeliveryRecord, error: string, store: EventStore): Promise<void> {
  return writeOrThrow(store, [
    { kind: "set-record-status", record, status: { publishState: "dead", lastError: error } },
    { kind: "remove-pending", record },
  ]);
}
