import { closeWindow, type LogicalEvent } from "./crossCheck";
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
  try {
    report.restored = await ports.journal.drain(
      (entry) => restoreJournaled(entry, { ...ports, windowMs: settings.windowMs }),
      settings.batchSize,
    );
  } catch (error) {
    report.errors.push(`journal: ${describeError(error)}`);
  }
  for (const logical of await ports.crossCheck.dueWindows(now, settings.batchSize)) {
    try {
      if (!(await ports.crossCheck.claimWindow(logical, now, WINDOW_LEASE_MS))) continue;
      await closeDueWindow(logical, ports, settings, now, report);
    } catch (error) {
      report.errors.push(`window ${logical.key}: ${describeError(error)}`);
    }
  }
  const isDue = (record: DeliveryRecord) => nextAttemptAt(record, settings.redrive) <= now;
  for (const listed of await ports.store.listPending(settings.batchSize)) {
    if (!isDue(listed)) continue;
    try {
      const record = await ports.store.claimRedrive(listed.event, now, isDue);
      if (record) await redrive(record, ports, settings, now, report);
    } catch (error) {
      report.errors.push(`record ${listed.event.eventId}: ${describeError(error)}`);
    }
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
  // Recovered by an earlier run whose close did not finish: still a recovered finding.
  let recovered = outcome.state === "eventgrid-only" && logical.publishedBy === "eventgrid";
  if (outcome.recover) {
    const [arrival] = await ports.crossCheck.arrivalsOf(logical, "eventgrid");
    const route = arrival && routeForEvent(arrival, settings.routing);
    if (arrival && route?.kind === "topic") {
      const published = await publishEvent(arrival, route.topic, ports, now);
      if (!published.ok) throw new Error(`recovery publish failed: ${published.error}`);
      recovered = true;
      report.recovered++;
    }
  }
  if (outcome.state !== "matched") {
    const finding = discrepancyFor(logical, outcome.state, recovered);
    await ports.findings.record(finding);
    await ports.publisher.publish(settings.discrepancyTopic, discrepancyMessage(finding));
    report.findingsPublished++;
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
  const published = await publishEvent(event, route.topic, ports, now);
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
