import type { NewDelivery } from "../core/deliveryRecord";
import { describeError } from "../core/describeError";
import { describeConflict } from "../core/ingestDelivery";
import { keptText, TEXT_KEPT } from "../core/keptRequest";
import { type DependencyResult, describeDependencyFailure, whenAvailable } from "../core/ports";
import type { RegistryEvent } from "../core/registryEvent";
import {
  describeFailure,
  type LoggedDelivery,
  type RegistryWebhooks,
  type WebhookRef,
  webhookPath,
  webhooksOfRegistries,
} from "../core/registryWebhooks";
import { DONE } from "../core/result";
import type { LogImport } from "./loggedDeliveryImport";

/**
 * What the backfill needs of the bridge's own records: whether a delivery is already there, and
 * the normal ingestion (record, cross-check, publish once) for one that is not. Wired to the
 * current storage in `bridgeLedger.ts`.
 */
export interface DeliveryLedger {
  /** Whether the bridge holds this event from its webhook or from an earlier import. */
  isRecorded(event: RegistryEvent): Promise<boolean>;
  /**
   * Ingests an `acr-log` delivery; `duplicate` when another run recorded it first,
   * `conflictingFields` when its id was recorded with other content (then nothing is written).
   */
  importDelivery(
    delivery: NewDelivery,
  ): Promise<DependencyResult<{ duplicate: boolean; conflictingFields?: string[] }>>;
}

/**
 * How far a webhook's log has been read: everything from `newestLogId` down is done. A read cut
 * short by the page or time limit leaves `resume`: the next run goes on from there down to
 * `newestLogId` first, then `resume.newestLogId` becomes the boundary.
 */
export interface BackfillCursor {
  newestLogId?: string;
  resume?: ResumePoint & { newestLogId: string };
}

/**
 * Where a read cut short goes on: the page at `nextLink` (absent: the log's first page), after
 * the entry `afterLogId`, found on it or a later page. The log is newest first and new entries
 * only join its head, so an entry handled before stays ahead of every unhandled one even when
 * positions shift.
 */
export interface ResumePoint {
  nextLink?: string;
  afterLogId?: string;
}

export interface BackfillCursors {
  read(ref: WebhookRef): Promise<BackfillCursor | undefined>;
  write(ref: WebhookRef, cursor: BackfillCursor): Promise<void>;
}

export interface BackfillDependencies {
  registryIds: readonly string[];
  webhooks: RegistryWebhooks;
  ledger: DeliveryLedger;
  cursors: BackfillCursors;
  /** Turns an entry of a registry's log into the delivery the webhook would have recorded. */
  importFromLog: (entry: LoggedDelivery, registryId: string, now: number) => LogImport;
  limits: { maxPages: number; maxMs: number };
}

/** An explicit window re-reads the log without the cursor (and leaves it where it is). */
export interface BackfillWindow {
  from: number;
  to: number;
}

export interface BackfillReport {
  seen: number;
  alreadyRecorded: number;
  imported: number;
  /** The first `MAX_UNUSABLE_LISTED` entries found unusable; `unusableCount` counts them all. */
  unusable: { id: string; webhook: string; why: string }[];
  unusableCount: number;
  webhooks: { registryId: string; webhook: string; pages: number; complete: boolean }[];
  /** ARM or storage failures; each stops only the webhook it happened on. */
  errors: string[];
}

/**
 * Reads each webhook's delivery log (newest first) down to where the last complete run began,
 * and imports every event the bridge never recorded. Idempotent: an import is keyed like the
 * webhook's record, so a second run, or one running at the same time, finds it recorded.
 */
export async function runBackfill(
  deps: BackfillDependencies,
  options: { now?: () => number; window?: BackfillWindow } = {},
): Promise<BackfillReport> {
  const now = options.now ?? Date.now;
  const deadline = now() + deps.limits.maxMs;
  const report: BackfillReport = {
    seen: 0,
    alreadyRecorded: 0,
    imported: 0,
    unusable: [],
    unusableCount: 0,
    webhooks: [],
    errors: [],
  };
  for await (const ref of webhooksOfRegistries(deps.webhooks, deps.registryIds, report.errors)) {
    await backfillWebhook(ref, deps, report, { now, deadline, window: options.window });
  }
  return report;
}

type Run = { now: () => number; deadline: number; window?: BackfillWindow };

type Traversal =
  | { outcome: "complete"; newest?: string }
  | { outcome: "limited"; newest?: string; resumeAt: ResumePoint }
  | { outcome: "failed" };

async function backfillWebhook(
  ref: WebhookRef,
  deps: BackfillDependencies,
  report: BackfillReport,
  run: Run,
): Promise<void> {
  const progress = { registryId: ref.registryId, webhook: ref.name, pages: 0, complete: false };
  report.webhooks.push(progress);
  const where = webhookPath(ref);
  // Entries handled for this webhook in this run, across its resumed and fresh reads.
  const handled = { count: 0 };
  const traverse = (from: ResumePoint, boundary: string | undefined) =>
    traverseLog(ref, { from, boundary, where, handled }, deps, report, run, progress);
  try {
    if (run.window) {
      progress.complete = (await traverse({}, undefined)).outcome === "complete";
      return;
    }
    let cursor = (await deps.cursors.read(ref)) ?? {};
    if (cursor.resume) {
      const { newestLogId, ...resumeAt } = cursor.resume;
      const resumed = await traverse(resumeAt, cursor.newestLogId);
      if (resumed.outcome === "failed") return;
      if (resumed.outcome === "limited") {
        await deps.cursors.write(ref, {
          newestLogId: cursor.newestLogId,
          resume: { ...resumed.resumeAt, newestLogId },
        });
        return;
      }
      cursor = { newestLogId: cursor.resume.newestLogId };
      await deps.cursors.write(ref, cursor);
    }
    const fresh = await traverse({}, cursor.newestLogId);
    if (fresh.outcome === "complete") {
      progress.complete = true;
      if (fresh.newest) await deps.cursors.write(ref, { newestLogId: fresh.newest });
    } else if (fresh.outcome === "limited" && fresh.newest) {
      await deps.cursors.write(ref, {
        newestLogId: cursor.newestLogId,
        resume: { ...fresh.resumeAt, newestLogId: fresh.newest },
      });
    }
  } catch (error) {
    report.errors.push(`${where}: ${describeError(error)}`);
  }
}

/**
 * Reads pages from `from` until the `boundary` entry, the end, or a limit: the page limit after a
 * page, the deadline before each entry (neither before a webhook's first entry in the run is
 * handled, so every webhook moves on however the time went, even when its resumed read starts
 * with a page of entries handled before).
 */
async function traverseLog(
  ref: WebhookRef,
  read: { from: ResumePoint; boundary?: string; where: string; handled: { count: number } },
  deps: BackfillDependencies,
  report: BackfillReport,
  run: Run,
  progress: { pages: number },
): Promise<Traversal> {
  const { boundary, where, handled } = read;
  let newest: string | undefined;
  let pageLink = read.from.nextLink;
  let skipTo = read.from.afterLogId;
  // Where the next run goes on were this one cut short now: after the last entry passed, on the
  // page it was read from, even once later pages were fetched. Entries joining the log's head
  // meanwhile push a page's last entries onto the next one, where they would be handled twice.
  let resumeAt: ResumePoint = read.from;
  for await (const page of deps.webhooks.logPages(ref, pageLink)) {
    if (!page.ok) {
      report.errors.push(`${where}: ${describeFailure(page.failure)}`);
      return { outcome: "failed" };
    }
    progress.pages++;
    for (const entry of page.value.entries) {
      if (boundary !== undefined && entry.logId === boundary) {
        return { outcome: "complete", newest };
      }
      if (skipTo !== undefined) {
        if (entry.logId === skipTo) {
          skipTo = undefined;
          resumeAt = { nextLink: pageLink, afterLogId: entry.logId };
        }
        continue;
      }
      if (handled.count > 0 && run.now() >= run.deadline) {
        return { outcome: "limited", newest, resumeAt };
      }
      // An entry that is no position is read past: the read is bounded and resumed by others.
      if (isPosition(entry.logId)) newest ??= entry.logId;
      const outcome = await handleEntry(entry, ref, deps, report, run);
      if (!outcome.ok) {
        report.errors.push(`${where}: ${describeDependencyFailure(outcome.failure)}`);
        return { outcome: "failed" };
      }
      handled.count++;
      if (isPosition(entry.logId)) resumeAt = { nextLink: pageLink, afterLogId: entry.logId };
    }
    const { nextLink } = page.value;
    // Cut short, not failed: `complete: false`. An entry was handled, so none is still skipped to.
    if (
      nextLink &&
      handled.count > 0 &&
      (progress.pages >= deps.limits.maxPages || run.now() >= run.deadline)
    ) {
      return { outcome: "limited", newest, resumeAt };
    }
    pageLink = nextLink;
  }
  return { outcome: "complete", newest };
}

async function handleEntry(
  entry: LoggedDelivery,
  ref: WebhookRef,
  deps: BackfillDependencies,
  report: BackfillReport,
  run: Run,
): Promise<DependencyResult<void>> {
  const imported = deps.importFromLog(entry, ref.registryId, run.now());
  if (imported.kind === "ping") return DONE;
  if (imported.kind === "unusable") {
    reportUnusable(report, entry, ref, imported.why);
    return DONE;
  }
  const { event } = imported.delivery;
  if (run.window && (event.occurredAt < run.window.from || event.occurredAt > run.window.to)) {
    return DONE;
  }
  report.seen++;
  const recorded = await whenAvailable(() => deps.ledger.isRecorded(event));
  if (!recorded.ok) return recorded;
  if (recorded.value) {
    report.alreadyRecorded++;
    return DONE;
  }
  const result = await deps.ledger.importDelivery(imported.delivery);
  if (!result.ok) return result;
  const { conflictingFields } = result.value;
  if (conflictingFields) {
    reportUnusable(report, entry, ref, `its event id was ${describeConflict(conflictingFields)}`);
  } else if (result.value.duplicate) report.alreadyRecorded++;
  else report.imported++;
  return DONE;
}

/**
 * Whether a log id can be where a read stops or resumes: ACR's are GUIDs. Neither none (a corrupt
 * entry) nor one longer than a record keeps of a logged text can.
 */
function isPosition(logId: string): boolean {
  return logId !== "" && logId.length <= TEXT_KEPT;
}

/**
 * A log full of entries the bridge cannot use (another consumer's payloads) would make the run's
 * answer and its log line as long as the log: the first ones are listed, all are counted.
 */
const MAX_UNUSABLE_LISTED = 100;

function reportUnusable(
  report: BackfillReport,
  entry: LoggedDelivery,
  ref: WebhookRef,
  why: string,
): void {
  report.unusableCount++;
  if (report.unusable.length >= MAX_UNUSABLE_LISTED) return;
  // The reason may quote what the sender chose (a field's name): cut as the id is.
  report.unusable.push({ id: keptText(entry.logId), webhook: ref.name, why: keptText(why) });
}
