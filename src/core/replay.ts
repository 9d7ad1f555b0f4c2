import type { DeliveryRecord } from "./deliveryRecord";
import { describeError } from "./describeError";
import { isoTime } from "./isoTime";
import { knownTagsOf } from "./knownTags";
import type { EventStore, Publisher } from "./ports";
import type { EventOrigin } from "./registryEvent";
import type { Route } from "./routing";
import { shortHash } from "./shortHash";
import { messageIdFor, type TopicMessage, topicMessageFor } from "./topicMessage";

/**
 * Replay: re-publishes the recorded events of a time window to their topics (or one topic), as a
 * job that a timer drives in steps, so it survives restarts and never runs inside one HTTP call.
 */
export interface ReplaySelection {
  /** Epoch ms, both ends included, on the records' arrivals at the bridge (as listings are). */
  from: number;
  to: number;
  registry?: string;
  repository?: string;
  action?: string;
  /** Every message to this topic instead of each event's own action topic. */
  topic?: string;
}

export type ReplayJobState = "queued" | "running" | "completed" | "failed";

/** The states of a job still to run: the runner takes up only these. */
export const ACTIVE_JOB_STATES = ["queued", "running"] as const satisfies readonly ReplayJobState[];

export function isActiveJob(job: ReplayJob): boolean {
  return (ACTIVE_JOB_STATES as readonly ReplayJobState[]).includes(job.state);
}

export interface ReplayJob {
  id: string;
  selection: ReplaySelection;
  state: ReplayJobState;
  createdAt: number;
  updatedAt: number;
  /** Where the next step starts reading; absent before the first page. Opaque to the core. */
  cursor?: string;
  /** Records read so far, the replayable and the others. */
  scanned: number;
  published: number;
  /**
   * Records read and not sent: not replayable (never routed, an Event Grid copy held behind its
   * webhook), or a copy whose message the job sends from another record (see `SenderChoices`).
   */
  skipped: number;
  /** The arrival of the last record done: the job works from `to` back to `from`. */
  reachedAt?: number;
  /** Failed steps in a row; reset by a step that gets through its page. */
  failedSteps: number;
  /** The latest errors, newest last, bounded. */
  errors: string[];
  /**
   * Whether the job has forgotten its choices of the records it sends messages from (see
   * `SenderChoices`): it keeps them while it runs, one per message it replays, and forgets them
   * once it has ended, when no page of it is read again.
   */
  choicesForgotten: boolean;
}

const MAX_JOB_ERRORS = 20;

export function newReplayJob(id: string, selection: ReplaySelection, now: number): ReplayJob {
  return {
    id,
    selection,
    state: "queued",
    createdAt: now,
    updatedAt: now,
    scanned: 0,
    published: 0,
    skipped: 0,
    failedSteps: 0,
    errors: [],
    choicesForgotten: false,
  };
}

/** Share of the window done, 0..1 (the job reads newest first). */
export function replayProgress(job: ReplayJob): number {
  if (job.state === "completed") return 1;
  if (job.reachedAt === undefined) return 0;
  // A `to` after the job was queued counts from then: nothing newer is there to read back from.
  const top = Math.min(job.selection.to, job.createdAt);
  const span = top - job.selection.from;
  if (span <= 0) return 0;
  return Math.min(1, Math.max(0, (top - job.reachedAt) / span));
}

/** A record routed to a topic. */
type RoutedRecord = DeliveryRecord & { route: Extract<Route, { kind: "topic" }> };

/**
 * What went to a topic once as its own message: routed records that published it, or are still
 * to (pending, dead). Not an Event Grid arrival `held` behind its webhook twin, a record never
 * routed, or one that counts as published only because another arrival's message covered it (a
 * regional copy, a twin that came after a recovery): its own message never went out.
 */
function isReplayable(record: DeliveryRecord): record is RoutedRecord {
  if (record.route.kind !== "topic") return false;
  if (record.publishState === "published") return record.publishAttempts > 0;
  return record.publishState !== "held" && record.publishState !== "not-routed";
}

/**
 * A message id of the replay's own: a fresh one per job (duplicate detection must not drop it
 * as the original), the same one whenever that job sends the same event again (a step re-run
 * after a crash, or the webhook and a regional copy of one event), so it is kept once.
 */
export function replayMessageId(jobId: string, originalMessageId: string): string {
  return shortHash(["replay", jobId, originalMessageId]);
}

/** The application properties a replay adds to the original message's. */
export type ReplayProperties = {
  replayed: "true";
  replayJobId: string;
  originalMessageId: string;
};

/**
 * A message as a replay job sends it again: the original (same CloudEvent, so its `id` stays the
 * original message id) under the job's own message id, marked as replayed.
 */
export function replayedMessage(original: TopicMessage, jobId: string): TopicMessage {
  const replay: ReplayProperties = {
    replayed: "true",
    replayJobId: jobId,
    originalMessageId: original.messageId,
  };
  return {
    ...original,
    messageId: replayMessageId(jobId, original.messageId),
    applicationProperties: { ...original.applicationProperties, ...replay },
  };
}

/** The original topic message of the record, marked as replayed by this job. */
function replayMessageFor(
  record: DeliveryRecord,
  jobId: string,
  knownTags: readonly string[] = [],
): TopicMessage {
  return replayedMessage(topicMessageFor(record.event, knownTags, record.occurrence), jobId);
}

/**
 * Which record a job sends each original message from, by original message id: the first copy
 * of it the job reads. Copies that each sent the message (a pending copy re-driven later,
 * connected registries' Event Grid events of one push) may be any number of pages apart; the job
 * reads newest first, so whatever its pages, the message goes once, from the newest copy in its
 * window.
 */
export type SenderChoices = ReadonlyMap<string, ReplayCopy>;

/** A record as a job's choices name it: there is one per origin and event id. */
export interface ReplayCopy {
  origin: EventOrigin;
  eventId: string;
}

function copyOf(record: DeliveryRecord): ReplayCopy {
  return { origin: record.event.origin, eventId: record.event.eventId };
}

/** Whether the copy is the record. */
function isCopy(copy: ReplayCopy, record: DeliveryRecord): boolean {
  return copy.origin === record.event.origin && copy.eventId === record.event.eventId;
}

/** The original message ids of the page's replayable records, each once. */
function replayableMessageIds(records: readonly DeliveryRecord[]): string[] {
  return [...new Set(records.filter(isReplayable).map(originalMessageId))];
}

/**
 * The page's records whose message goes out, and the choices the page adds: a replayable record
 * goes unless the job chose another copy of its message to send it from (`chosen`: on a page
 * before, or on this one when it is read again after a failed step).
 */
function chooseSenders(
  records: readonly DeliveryRecord[],
  chosen: SenderChoices,
): { toSend: RoutedRecord[]; added: Map<string, ReplayCopy> } {
  const added = new Map<string, ReplayCopy>();
  const toSend: RoutedRecord[] = [];
  for (const record of records) {
    if (!isReplayable(record)) continue;
    const original = originalMessageId(record);
    const sender = chosen.get(original) ?? added.get(original);
    if (sender === undefined) added.set(original, copyOf(record));
    else if (!isCopy(sender, record)) continue;
    toSend.push(record);
  }
  return { toSend, added };
}

/** The id the record's own message went out under: copies of one event share it. */
export function originalMessageId(record: DeliveryRecord): string {
  return messageIdFor(record.event, record.occurrence);
}

export interface ReplayPage {
  records: DeliveryRecord[];
  /** Where the next page starts; absent on the last page. */
  next?: string;
}

/** Reads recorded deliveries newest first (implemented in adapters/). */
export interface ReplaySource {
  page(selection: ReplaySelection, limit: number, after?: string): Promise<ReplayPage>;
}

export interface ReplayJobStore {
  /** Stores a new job; false, changing nothing, when a job with its id exists. */
  create(job: ReplayJob): Promise<boolean>;
  get(id: string): Promise<ReplayJob | undefined>;
  /** Jobs still to run (`isActiveJob`), oldest first, at most `limit`. */
  active(limit: number): Promise<ReplayJob[]>;
  /** The newest jobs, whatever their state, at most `limit`. */
  recent(limit: number): Promise<ReplayJob[]>;
  /**
   * Takes the job until `until` unless another run holds it; the job as taken (the runner checks
   * that it is still active), or undefined.
   */
  claim(id: string, now: number, until: number): Promise<ReplayJob | undefined>;
  /**
   * Saves the job's progress if the run still holds the claim it took (`lease`: the `until` it
   * claimed the job to), keeping the claim while the run goes on with it. False, saving nothing,
   * when the claim was lost: the run outlasted it and another run took the job.
   */
  save(job: ReplayJob, lease: number, keepClaim: boolean): Promise<boolean>;
  /** Of these original message ids, those the job chose a record for (`noteSenders`), with it. */
  sendersOf(jobId: string, originalMessageIds: readonly string[]): Promise<Map<string, ReplayCopy>>;
  /** Keeps the job's choices of the records it sends these original messages from. */
  noteSenders(jobId: string, senders: SenderChoices): Promise<void>;
  /**
   * Ids of jobs that have ended and not yet forgotten their choices, oldest first, at most
   * `limit`: read at the cost of those jobs, not of every job that ever ended.
   */
  keepingChoices(limit: number): Promise<string[]>;
  /** Forgets up to `limit` of the job's choices; how many it forgot (none: none were left). */
  forgetSenders(jobId: string, limit: number): Promise<number>;
}

export interface ReplayPorts {
  jobs: ReplayJobStore;
  source: ReplaySource;
  publisher: Publisher;
  /** Where a delete's tags are found. */
  store: Pick<EventStore, "digestTags">;
  clock: () => number;
  sleep: (ms: number) => Promise<void>;
}

export interface ReplaySettings {
  /** Most messages per second one run sends. */
  ratePerSecond: number;
  /** How long one run keeps working before it leaves the rest to the next. */
  runMs: number;
  pageSize: number;
  /** Failed steps in a row after which the job fails. */
  maxFailedSteps: number;
}

/** What one timer run did. */
export interface ReplayRun {
  /** The active jobs it advanced, as it left them. */
  advanced: ReplayJob[];
  /** The ended jobs whose choices it forgot, all or some. */
  forgotten: ForgettingReport[];
}

export interface ForgettingReport {
  id: string;
  /** How many of the job's choices the run forgot. */
  forgot: number;
  /** Whether the job has no choices left now, and says so. */
  done: boolean;
  error?: string;
}

/** Choices forgotten at a time: one bounded call, then the run checks its time again. */
const FORGET_AT_ONCE = 1000;

/**
 * One timer run: advances every active job in turn until the run's time is used up, then, with
 * the time left, makes ended jobs forget their choices (the job it ended first).
 */
export async function runReplayJobs(
  ports: ReplayPorts,
  settings: ReplaySettings,
): Promise<ReplayRun> {
  const started = ports.clock();
  const deadline = started + settings.runMs;
  // Held a little past the run, so a run that overruns is not joined by the next one.
  const lease = deadline + settings.runMs;
  const pacer = { started, sent: 0 };
  const advanced: ReplayJob[] = [];
  for (const listed of await ports.jobs.active(10)) {
    if (ports.clock() >= deadline) break;
    const job = await ports.jobs.claim(listed.id, ports.clock(), lease);
    // Another run may have finished it since it was listed.
    if (!job || !isActiveJob(job)) continue;
    advanced.push(await advanceJob(job, ports, settings, { deadline, lease }, pacer));
  }
  const forgotten: ForgettingReport[] = [];
  if (ports.clock() >= deadline) return { advanced, forgotten };
  for (const id of await ports.jobs.keepingChoices(10)) {
    if (ports.clock() >= deadline) break;
    const job = await ports.jobs.claim(id, ports.clock(), lease);
    // Another run may have taken it up since it was listed.
    if (!job || isActiveJob(job) || job.choicesForgotten) continue;
    forgotten.push(await forgetChoices(job, ports, { deadline, lease }));
  }
  return { advanced, forgotten };
}

/**
 * Forgets the ended job's choices a bounded number at a time until none are left, then notes
 * that on the job; what is left when the run's time is up is the next run's to forget. A run that
 * stops at any point (a crash, an outage) leaves the job ended with choices, or none, still to
 * forget: the next run goes on from there.
 */
async function forgetChoices(
  job: ReplayJob,
  ports: ReplayPorts,
  { deadline, lease }: { deadline: number; lease: number },
): Promise<ForgettingReport> {
  let forgot = 0;
  try {
    while (ports.clock() < deadline) {
      const count = await ports.jobs.forgetSenders(job.id, FORGET_AT_ONCE);
      forgot += count;
      if (count === 0) {
        const done = await ports.jobs.save({ ...job, choicesForgotten: true }, lease, false);
        return { id: job.id, forgot, done };
      }
    }
    // The job as it was, for the next run to take up at once.
    await ports.jobs.save(job, lease, false);
    return { id: job.id, forgot, done: false };
  } catch (error) {
    return { id: job.id, forgot, done: false, error: describeError(error) };
  }
}

async function advanceJob(
  taken: ReplayJob,
  ports: ReplayPorts,
  settings: ReplaySettings,
  { deadline, lease }: { deadline: number; lease: number },
  pacer: { started: number; sent: number },
): Promise<ReplayJob> {
  let job: ReplayJob = { ...taken, state: "running" };
  let going = true;
  while (going) {
    const stepped = await step(job, ports, settings, pacer, stepSize(settings, pacer), lease);
    // Past its claim (a call hung), the run sends nothing more: another run may have the job.
    if (!stepped) break;
    job = stepped;
    // A failed step waits for the next run: the dependency gets time to come back.
    going = job.state === "running" && job.failedSteps === 0 && ports.clock() < deadline;
    // A run that lost its claim (a call that hung past it) leaves the job to the run that has it.
    if (!(await ports.jobs.save(job, lease, going))) break;
  }
  return job;
}

/**
 * How many records the next step reads: no more than the run can still send at the rate before
 * its time is up. A page of `pageSize` at a slow rate would take far longer than the run (200
 * records at 1 a second: 200 s), past the lease the run holds, so a runner of another instance
 * would take the job and send the same page at the same time, and past the function's timeout,
 * so the page would never be done. At least one record, so the slowest rate still advances.
 */
function stepSize(settings: ReplaySettings, pacer: { sent: number }): number {
  const budget = Math.floor((settings.runMs * settings.ratePerSecond) / 1000) - pacer.sent;
  return Math.max(1, Math.min(settings.pageSize, budget));
}

/**
 * One page: the records it sends each message from are chosen and kept before anything is sent,
 * each then published at the paced rate, and the cursor moves past the page. A page that fails
 * keeps its cursor, so the next step sends it again, from the same records under the same
 * message ids (duplicate detection keeps one of each).
 */
async function step(
  job: ReplayJob,
  ports: ReplayPorts,
  settings: ReplaySettings,
  pacer: { started: number; sent: number },
  size: number,
  lease: number,
): Promise<ReplayJob | undefined> {
  const now = () => ports.clock();
  try {
    const page = await ports.source.page(job.selection, size, job.cursor);
    const chosen = await ports.jobs.sendersOf(job.id, replayableMessageIds(page.records));
    const { toSend, added } = chooseSenders(page.records, chosen);
    if (added.size > 0) {
      if (now() >= lease) return undefined;
      await ports.jobs.noteSenders(job.id, added);
    }
    for (const record of toSend) {
      // The tags only enrich a delete: a failed lookup does not hold it back.
      const tags = await knownTagsOf(record.event, ports.store).catch(() => []);
      const message = replayMessageFor(record, job.id, tags);
      const wait = pacer.started + (pacer.sent * 1000) / settings.ratePerSecond - now();
      if (wait > 0) await ports.sleep(wait);
      if (now() >= lease) return undefined;
      await ports.publisher.publish(job.selection.topic ?? record.route.topic, message);
      pacer.sent++;
    }
    const last = page.records.at(-1);
    return {
      ...job,
      state: page.next ? "running" : "completed",
      cursor: page.next,
      scanned: job.scanned + page.records.length,
      published: job.published + toSend.length,
      skipped: job.skipped + page.records.length - toSend.length,
      reachedAt: last?.receivedAt ?? job.reachedAt,
      failedSteps: 0,
      updatedAt: now(),
    };
  } catch (error) {
    const failedSteps = job.failedSteps + 1;
    const message = `${isoTime(now())} ${describeError(error)}`;
    return {
      ...job,
      state: failedSteps >= settings.maxFailedSteps ? "failed" : "running",
      failedSteps,
      errors: [...job.errors, message].slice(-MAX_JOB_ERRORS),
      updatedAt: now(),
    };
  }
}

/** Whether the job's selection covers the record (it would publish it, or has). */
export function jobCovers(job: ReplayJob, record: DeliveryRecord): boolean {
  const { selection } = job;
  const { event } = record;
  return (
    isReplayable(record) &&
    record.receivedAt >= selection.from &&
    record.receivedAt <= selection.to &&
    (selection.registry === undefined || selection.registry === event.registry) &&
    (selection.repository === undefined || selection.repository === event.repository) &&
    (selection.action === undefined || selection.action === event.action)
  );
}

/** Whether the job has gone past the record (it reads newest first). */
export function jobReached(job: ReplayJob, record: DeliveryRecord): boolean {
  return (
    job.state === "completed" || (job.reachedAt !== undefined && job.reachedAt <= record.receivedAt)
  );
}

/**
 * How many records a job with this selection would publish: `dryRun`. Its choices of records
 * are kept in memory for the count, as a job keeps them in its store.
 */
export async function countReplayable(
  source: ReplaySource,
  selection: ReplaySelection,
  pageSize: number,
): Promise<{ records: number; replayable: number }> {
  let cursor: string | undefined;
  let records = 0;
  let replayable = 0;
  const chosen = new Map<string, ReplayCopy>();
  do {
    const page = await source.page(selection, pageSize, cursor);
    const { toSend, added } = chooseSenders(page.records, chosen);
    for (const [original, sender] of added) chosen.set(original, sender);
    records += page.records.length;
    replayable += toSend.length;
    cursor = page.next;
  } while (cursor);
  return { records, replayable };
}
