import { closeWindow, type LogicalEvent, occurrenceOf } from "./crossCheck";
import type { DeliveryRecord } from "./deliveryRecord";
import { discrepancyFor, discrepancyMessage } from "./discrepancy";
import { describeError, publishEvent, restoreJournaled } from "./ingestDelivery";
import type {
  CrossCheckStore,
  EventStore,
  FindingStore,
  Journal,
  Publisher,
  TagMemory,
} from "./ports";
import { type RoutingTable, routeForEvent } from "./routing";

export interface ReconcilePorts {
  store: EventStore;
  publisher: Publisher;
  crossCheck: CrossCheckStore;
  tags: TagMemory;
  findings: FindingStore;
  journal: Journal;
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
  windowMs: number;
  /** Most windows and pending records handled in one run; the rest wait for the next. */
  batchSize: number;
  redrive: RedrivePolicy;
}

export interface ReconcileReport {
  restored: number;
  closed: Record<string, number>;
  recovered: number;
  findingsPublished: number;
  redriven: number;
  redriveFailed: number;
  dead: number;
  errors: string[];
}

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
 * One reconcile run: records what was journaled while Table Storage was down, closes the
 * cross-check windows that are due (findings, recovery) and re-drives records still pending
 * publication. Both read only open items, never history. A step
 * that fails leaves its item open for the next run; every write is idempotent.
 */
export async function reconcile(
  ports: ReconcilePorts,
  settings: ReconcileSettings,
  now: number,
): Promise<ReconcileReport> {
  const report: ReconcileReport = {
    restored: 0,
    closed: {},
    recovered: 0,
    findingsPublished: 0,
    redriven: 0,
    redriveFailed: 0,
    dead: 0,
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
  report.restored = await attempt(
    "journal",
    () =>
      ports.journal.drain(
        (entry) => restoreJournaled(entry, { ...ports, windowMs: settings.windowMs }),
        settings.batchSize,
      ),
    0,
  );
  const due = await attempt(
    "windows",
    () => ports.crossCheck.dueWindows(now, settings.batchSize),
    [],
  );
  for (const logical of due) {
    await attempt(
      `window ${logical.key}`,
      async () => {
        if (!(await ports.crossCheck.claimWindow(logical, now, WINDOW_LEASE_MS))) return;
        await closeDueWindow(logical, ports, settings, now, report);
      },
      undefined,
    );
  }
  const isDue = (record: DeliveryRecord) => nextAttemptAt(record, settings.redrive) <= now;
  const pending = await attempt(
    "pending",
    () => ports.store.listPending(settings.batchSize, isDue),
    [],
  );
  for (const listed of pending) {
    await attempt(
      `record ${listed.event.eventId}`,
      async () => {
        const record = await ports.store.claimRedrive(listed.event, now, isDue);
        if (record) await redrive(record, ports, settings, now, report);
      },
      undefined,
    );
  }
  return report;
}

async function closeDueWindow(
  logical: LogicalEvent,
  ports: ReconcilePorts,
  settings: ReconcileSettings,
  now: number,
  report: ReconcileReport,
): Promise<void> {
  const outcome = closeWindow(logical, settings.recoveryEnabled);
  // The claim that brought us here was this run's attempt; the last one closes whatever fails,
  // so a topic that can never take the message does not keep the window open for ever.
  const lastAttempt = (logical.closeAttempts ?? 0) + 1 >= settings.redrive.maxAttempts;
  const failed = (step: string, error: string) => {
    if (!lastAttempt) throw new Error(`${step} failed: ${error}`);
    report.errors.push(`window ${logical.key}: gave up, ${step} failed: ${error}`);
  };
  // Recovered by an earlier run whose close did not finish: still a recovered finding.
  let recovered = outcome.state === "eventgrid-only" && logical.publishedBy === "eventgrid";
  if (outcome.recover) {
    const [arrival] = await ports.crossCheck.arrivalsOf(logical, "eventgrid");
    const route = arrival && routeForEvent(arrival, settings.routing);
    if (arrival && route?.kind === "topic") {
      const published = await publishEvent(arrival, route.topic, ports, now, occurrenceOf(logical));
      if (published.ok) {
        recovered = true;
        report.recovered++;
      } else {
        failed("recovery publish", published.error);
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
      failed("finding publish", describeError(error));
    }
  }
  for (const origin of ["webhook", "eventgrid"] as const) {
    for (const arrival of await ports.crossCheck.arrivalsOf(logical, origin)) {
      await ports.store.setCrossCheck(arrival, outcome.state);
    }
  }
  await ports.crossCheck.closeWindow(logical, outcome.state);
  report.closed[outcome.state] = (report.closed[outcome.state] ?? 0) + 1;
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
  if (record.publishAttempts >= settings.redrive.maxAttempts) {
    await ports.store.markDead(event, record.lastError ?? "publish attempts exhausted");
    report.dead++;
    return;
  }
  const published = await publishEvent(event, route.topic, ports, now, record.occurrence);
  if (published.ok) {
    report.redriven++;
    return;
  }
  report.redriveFailed++;
  if (record.publishAttempts + 1 >= settings.redrive.maxAttempts) {
    await ports.store.markDead(
      event,
      `gave up after ${record.publishAttempts + 1} attempts: ${published.error}`,
    );
    report.dead++;
  }
}
