import { differingFields, logicalRefFor } from "./crossCheck";
import {
  type ArrivalDecision,
  decideArrival,
  type PlannedPublish,
  patchBaseOf,
  publishedChanges,
  publishFailedChanges,
  readsLogicalFirst,
} from "./decideArrival";
import {
  type DeliveryRecord,
  holdsArrival,
  initialPublishState,
  isPending,
  type NewDelivery,
  type PublishState,
} from "./deliveryRecord";
import { describeError } from "./describeError";
import { knownTagsOf } from "./knownTags";
import {
  type DependencyFailure,
  type DependencyResult,
  DependencyUnavailableError,
  describeDependencyFailure,
  type EventStore,
  type Journal,
  type JournaledDelivery,
  type Publisher,
  PublishRefusedError,
  whenAvailable,
} from "./ports";
import type { Result } from "./result";
import { messageIdFor, topicMessageFor, withKnownTags } from "./topicMessage";
import type { ArrivalState, Change, WriteOptions, WriteOutcome } from "./writePlan";

export interface IngestPorts {
  store: EventStore;
  publisher: Publisher;
  journal: Journal;
  /** How long a logical event waits for its twin before the cross-check closes it. */
  windowMs: number;
}

export interface IngestResult {
  eventId: string;
  action: string;
  duplicate: boolean;
  deliveryCount: number;
  publishState: PublishState;
  topic?: string;
  notRoutedReason?: string;
  publishError?: string;
  /** The logical event was already on its topic, put there by another arrival. */
  coveredBy?: string;
  /**
   * Refused: the event id was recorded (from this origin) with other content, and these fields
   * differ. Nothing was written or published.
   */
  conflictingFields?: string[];
  /** The store was down: the delivery waits on the journal to be recorded. */
  journaled?: boolean;
  /** Bookkeeping that failed after the outcome was settled; the re-drive will repair it. */
  warnings: string[];
  /**
   * Bookkeeping still being written when the outcome was returned (the record marked published):
   * resolves with its warnings. The answer does not wait for it; its record is already durable.
   */
  settling?: Promise<string[]>;
}

/** Why an arrival with `conflictingFields` was refused, for answers, logs and reports. */
export function describeConflict(conflictingFields: readonly string[]): string {
  return `recorded with other content (differing: ${conflictingFields.join(", ")})`;
}

/** Concurrent arrivals of one content contend on its logical event; each retry decides afresh. */
const MAX_DECISIONS = 40;

/**
 * Decide, write, publish, mark. The arrival's record, its cross-check bookkeeping and its pending
 * marker are written together before anything is published; a publish failure leaves the record
 * pending for the re-drive and does not fail the delivery: the record is what makes it safe to
 * answer 200. A store that did not answer is the failure (the caller answers 503: nothing was
 * kept), except for a webhook, which is journaled. Event Grid arrivals are held: the reconcile
 * publishes one only when its webhook never came.
 */
export async function ingestDelivery(
  delivery: NewDelivery,
  ports: IngestPorts,
): Promise<DependencyResult<IngestResult>> {
  const knownTags = readKnownTags(delivery, ports.store);
  const recorded = await whenAvailable(() => recordArrival(delivery, ports));
  if (!recorded.ok) {
    // Event Grid retries for 24 h, so it simply gets its 503; a webhook is never retried.
    if (delivery.event.origin !== "eventgrid") {
      return journalDelivery(delivery, ports, recorded.failure);
    }
    await noteRefusal(delivery, ports.journal);
    return recorded;
  }
  const decision = recorded.value;
  const result = resultOf(delivery, decision.record, decision.duplicate);
  if (decision.conflictingFields) {
    return { ok: true, value: { ...result, conflictingFields: decision.conflictingFields } };
  }
  if (decision.coveredBy) result.coveredBy = decision.coveredBy;
  if (!decision.publish) return { ok: true, value: result };
  const tags = await knownTags;
  if (!tags.ok) result.warnings.push(`published without its digest's tags: ${tags.failure}`);
  const publish = withTagsRead(decision.publish, tags);
  const { sent, warnings } = await publishRecord(decision.record, publish, ports, Date.now(), {
    lazyMark: true,
  });
  result.warnings.push(...warnings);
  return {
    ok: true,
    value: sent.ok
      ? { ...result, publishState: "published", settling: sent.value.settling }
      : { ...result, publishError: sent.failure.reason },
  };
}

/**
 * Decides on what the store holds and writes until it sticks. A webhook is first decided as new
 * content, on no more than its patch base: a conflict reads the rest.
 */
async function recordArrival(
  delivery: NewDelivery,
  ports: Pick<IngestPorts, "store" | "windowMs">,
  windowOpensAt?: number,
): Promise<ArrivalDecision> {
  const { event } = delivery;
  let state = await readState(delivery, ports, {
    logical: readsLogicalFirst(event),
    recorded: false,
  });
  for (let attempt = 1; ; attempt++) {
    const decision = decideArrival(delivery, state, ports.windowMs, windowOpensAt);
    const outcome: WriteOutcome = await ports.store.write(decision.changes);
    if (outcome.ok) return decision;
    if (attempt >= MAX_DECISIONS) {
      throw new DependencyUnavailableError("store", `still contended after ${attempt} attempts`);
    }
    // Contenders that lost back off a little, so they do not all retry in step.
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * Math.min(attempt, 5)));
    state = await readState(delivery, ports, {
      logical: true,
      recorded: RECORD_CHANGES.has(outcome.failure),
    });
  }
}

/** A conflict on the record means the arrival was recorded before: its decision needs it. */
const RECORD_CHANGES = new Set<Change["kind"]>([
  "create-record",
  "index-arrival",
  "replace-record",
]);

/** Reads, at once, what the decision needs: nothing at all for a webhook of new content. */
async function readState(
  { event }: NewDelivery,
  { store }: Pick<IngestPorts, "store">,
  read: { logical: boolean; recorded: boolean },
): Promise<ArrivalState | undefined> {
  const base = patchBaseOf(event);
  if (!read.logical && !read.recorded && !base) return undefined;
  const [own, recorded, baseTagSeen] = await Promise.all([
    read.logical ? store.logicalOf(logicalRefFor(event)) : undefined,
    read.recorded ? store.recordOf(event) : undefined,
    base ? store.tagSeen(base) : undefined,
  ]);
  return { own, recorded, baseTagSeen };
}

/**
 * A delete's message carries its digest's tags, which its record does not need: they are read
 * alongside the write, not before it. Only for an arrival that publishes at once. A failed read
 * does not hold the message back: it goes without tags.
 */
async function readKnownTags(
  { event, route }: NewDelivery,
  store: EventStore,
): Promise<Result<string[], string>> {
  if (initialPublishState(route, event) !== "pending") return { ok: true, value: [] };
  try {
    return { ok: true, value: await knownTagsOf(event, store) };
  } catch (error) {
    return { ok: false, failure: describeError(error) };
  }
}

/** The planned message with the tags read, or as it is when they could not be read. */
function withTagsRead(publish: PlannedPublish, tags: Result<string[], string>): PlannedPublish {
  return { ...publish, message: withKnownTags(publish.message, tags.ok ? tags.value : []) };
}

function resultOf(delivery: NewDelivery, record: DeliveryRecord, duplicate: boolean): IngestResult {
  const { event, route } = delivery;
  return {
    eventId: event.eventId,
    action: event.action,
    duplicate,
    deliveryCount: record.deliveryCount,
    publishState: record.publishState,
    topic: route.kind === "topic" ? route.topic : undefined,
    notRoutedReason: route.kind === "not-routed" ? route.reason : undefined,
    warnings: [],
  };
}

/**
 * The store is down and ACR will not retry: publish first, and keep the delivery on the
 * journal so the reconcile records it once the store is back. Only when neither the
 * topic nor the journal took it is nothing durable, and the store's failure is the answer (503).
 */
async function journalDelivery(
  delivery: NewDelivery,
  ports: IngestPorts,
  storeFailure: DependencyFailure,
): Promise<DependencyResult<IngestResult>> {
  const { event, route } = delivery;
  let published = false;
  const warnings = [describeDependencyFailure(storeFailure)];
  if (route.kind === "topic") {
    try {
      await ports.publisher.publish(route.topic, topicMessageFor(event));
      published = true;
    } catch (error) {
      warnings.push(describeError(error));
    }
  }
  try {
    await ports.journal.append({ delivery, published });
  } catch (error) {
    if (!published) return { ok: false, failure: storeFailure };
    warnings.push(
      `journal: ${describeError(error)}; the message is on its topic, its record is lost`,
    );
  }
  return {
    ok: true,
    value: {
      eventId: event.eventId,
      action: event.action,
      duplicate: false,
      deliveryCount: 1,
      publishState: route.kind !== "topic" ? "not-routed" : published ? "published" : "pending",
      topic: route.kind === "topic" ? route.topic : undefined,
      notRoutedReason: route.kind === "not-routed" ? route.reason : undefined,
      journaled: true,
      warnings,
    },
  };
}

/**
 * Notes on the journal that Event Grid was refused, so that the reconcile keeps the outage once
 * the store is back (see `storeOutage`). Best effort: the refusal is the answer either way, and a
 * journal that cannot take the notice cannot take webhooks either, which their answers tell.
 */
async function noteRefusal({ receivedAt }: NewDelivery, journal: Journal): Promise<void> {
  try {
    await journal.append({ refusedAt: receivedAt });
  } catch {
    // Nothing more to do: see above.
  }
}

/**
 * Records a journaled delivery now that storage is back, as if it had been recorded on arrival.
 * The journal sent the content's first-occurrence message (see `journalDelivery`): for the first
 * occurrence that was this record's message, which is marked sent. A later occurrence's message
 * has an id of its own, which duplicate detection let through only now: it is published here, as
 * is one the journal could not send (its window, opened now, would hold a re-drive back).
 * An entry restored before (its run ended before the journal let go of it) is not counted again:
 * only the mark it may lack is written. Returns the differing fields when the event id was
 * recorded meanwhile with other content: the delivery is refused, as on arrival. `now` is the
 * restore's time: its marks, and the start of its cross-check window.
 */
export async function restoreJournaled(
  entry: JournaledDelivery,
  ports: IngestPorts,
  now = Date.now(),
): Promise<{ conflictingFields?: string[] }> {
  const { delivery, published } = entry;
  const restored = await ports.store.recordOf(delivery.event);
  if (restored && isRestoredBefore(restored.value, delivery)) {
    const sent = published && isPending(restored.value) && journalSentFor(restored.value);
    if (sent) await writeOrThrow(ports.store, publishedChanges(restored.value, sent, now));
    return {};
  }
  // Its twin could not be recorded while storage was down either: the wait for it starts now.
  const decision = await recordArrival(delivery, ports, now);
  const { record, publish, conflictingFields } = decision;
  if (conflictingFields) return { conflictingFields };
  if (decision.duplicate || !publish) return {};
  const sent = published ? journalSentFor(record) : undefined;
  if (sent) {
    await writeOrThrow(ports.store, publishedChanges(record, sent, now));
    return {};
  }
  const tags = await readKnownTags(delivery, ports.store);
  // A failed publish leaves the record pending for the re-drive, as on arrival.
  await publishRecord(record, withTagsRead(publish, tags), ports, now);
  return {};
}

/** The delivery itself is on the record: same content, same arrival. */
function isRestoredBefore(record: DeliveryRecord, delivery: NewDelivery): boolean {
  return (
    differingFields(record.event, delivery.event).length === 0 && holdsArrival(record, delivery)
  );
}

/** The message the journal sent, when it is the record's own (the content's first occurrence). */
function journalSentFor(record: DeliveryRecord): PlannedPublish | undefined {
  if (record.route.kind !== "topic") return undefined;
  const journalSent = topicMessageFor(record.event);
  const own = messageIdFor(record.event, record.occurrence);
  return own === journalSent.messageId
    ? { topic: record.route.topic, message: journalSent }
    : undefined;
}

/** Why a message was not sent. */
export interface PublishFailure {
  reason: string;
  /** The messaging service answered and refused it (see `PublishRefusedError`). */
  refused: boolean;
}

export function publishFailureOf(error: unknown): PublishFailure {
  return { reason: describeError(error), refused: error instanceof PublishRefusedError };
}

export interface PublishOutcome {
  /** The message sent (with the mark still settling when lazy), or why it was not. */
  sent: Result<{ settling?: Promise<string[]> }, PublishFailure>;
  /** Bookkeeping that failed after the outcome; the re-drive repairs it. */
  warnings: string[];
}

/**
 * Publishes one recorded event and books the outcome on the record and its logical event. With
 * `lazyMark`, the mark of a successful publish is written lazily and not waited for: until it
 * lands the record reads pending, and if it never lands (the process ends) the window's close
 * or the re-drive finishes it with the same message id.
 */
export async function publishRecord(
  record: DeliveryRecord,
  publish: PlannedPublish,
  ports: Pick<IngestPorts, "store" | "publisher">,
  now: number,
  { lazyMark = false }: { lazyMark?: boolean } = {},
): Promise<PublishOutcome> {
  try {
    await ports.publisher.publish(publish.topic, publish.message);
  } catch (error) {
    const failure = publishFailureOf(error);
    const failed = publishFailedChanges(record, publish, failure.reason, now);
    return { sent: { ok: false, failure }, warnings: await settle(ports.store, failed) };
  }
  const marked = publishedChanges(record, publish, now);
  if (lazyMark) {
    return {
      sent: { ok: true, value: { settling: settle(ports.store, marked, LAZY) } },
      warnings: [],
    };
  }
  return { sent: { ok: true, value: {} }, warnings: await settle(ports.store, marked) };
}

/** Bookkeeping after the outcome is settled: a failure is a warning, the re-drive repairs it. */
const LAZY: WriteOptions = { lazy: true };

async function settle(
  store: EventStore,
  changes: Change[],
  options?: WriteOptions,
): Promise<string[]> {
  try {
    await writeOrThrow(store, changes, options);
    return [];
  } catch (error) {
    return [describeError(error)];
  }
}

/** Unconditional changes cannot conflict; if the store says they did, that is a failure. */
export async function writeOrThrow(
  store: EventStore,
  changes: readonly Change[],
  options?: WriteOptions,
): Promise<void> {
  const outcome = await store.write(changes, options);
  if (!outcome.ok) throw new Error(`write refused: ${outcome.failure} conflicted`);
}
