import type { TableClient, TableEntity, TransactionAction, UpdateMode } from "@azure/data-tables";
import { RestError } from "@azure/data-tables";
import type { TableAccess } from "./tableAccess";
import type { EntityKeys } from "./tableLayout";

/** One Table operation of a submission; a delete marked `ifExists` is dropped when nothing is there. */
export interface TableOperation {
  action: TransactionAction;
  ifExists?: boolean;
  /**
   * Bookkeeping that must never fail its submission: dropped, and the rest written, when Table
   * Storage refuses it as a bad request (a digest's row past Azure's 252 columns).
   */
  optional?: boolean;
}

/** The operations the adapters use, on entities of their own shapes. */
export const operation = {
  create: (entity: EntityKeys): TableOperation => ({ action: ["create", row(entity)] }),
  /** `etag` `*` overwrites whatever is there, and still fails if nothing is. */
  update: (entity: EntityKeys, mode: UpdateMode, etag: string): TableOperation => ({
    action: ["update", row(entity), mode, { etag }],
  }),
  upsert: (entity: EntityKeys): TableOperation => ({ action: ["upsert", row(entity), "Replace"] }),
  /** Adds or overwrites the entity's given columns, keeping the others; see `optional`. */
  optionalMerge: (entity: EntityKeys): TableOperation => ({
    action: ["upsert", row(entity), "Merge"],
    optional: true,
  }),
  deleteIfExists: (keys: EntityKeys): TableOperation => ({
    action: ["delete", row(keys)],
    ifExists: true,
  }),
};

function row(entity: EntityKeys): TableEntity {
  return entity as unknown as TableEntity;
}

/** A submission that was not applied because an entity was not as it expected (409, 412, 404). */
export class TableConflict extends Error {
  override readonly name = "TableConflict";
  constructor(
    /** Which of the submission's operations found the conflict. */
    readonly operationIndex: number,
    readonly statusCode: number,
  ) {
    super(`operation ${operationIndex} conflicted (${statusCode})`);
  }
}

/** Table Storage takes at most 100 operations and 4 MiB in one transaction. */
const MAX_OPERATIONS = 100;
const MAX_BATCH_BYTES = 3.5 * 1024 * 1024;

/**
 * One transaction of a partition in flight at a time: what arrives meanwhile gathers into the
 * next one. More in flight made smaller transactions and less throughput (measured on Azurite
 * with 50 concurrent deliveries: 1 in flight about 1.4x the throughput of 2 or 4).
 */
const MAX_IN_FLIGHT = 1;

/**
 * How long a lazy submission waits for another write of its partition to ride along with before
 * it is written on its own. Long enough for the next delivery one at a time to come, short enough
 * that a record does not read pending for long after its answer.
 */
const LINGER_MS = 100;

interface PartitionQueue {
  queue: Submission[];
  inFlight: number;
  /** Set while only lazy submissions wait: writes them when it fires. */
  linger?: NodeJS.Timeout;
  /** Write lazy submissions now, without waiting for company. */
  draining: boolean;
}

interface Submission {
  operations: TableOperation[];
  bytes: number;
  /** May wait to share the partition's next transaction (see `LINGER_MS`). */
  lazy: boolean;
  /** Written in a transaction of its own, after a batch failed without saying which operation. */
  alone?: boolean;
  /**
   * When it stops waiting: the Table timeout after it was submitted, whatever it queued behind,
   * so a delivery behind transactions that get no answer is still answered inside ACR's 5 s.
   */
  deadline: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: submissions for the same partition (in the table `tableOf` names for it) that
 * wait while a transaction of that partition is in flight are written together in the next one.
 * Partition keys must be unique across the tables it writes. A lone submission is sent
 * at once: nothing waits for a timer. Each submission resolves only when its own operations are
 * durable; when a transaction fails, the submission whose operation failed gets the error and the
 * others are written again without it (transactions are all or nothing).
 */
export class TableGroupCommit {
  private readonly partitions = new Map<string, PartitionQueue>();
  /** Lazy submissions not yet settled, which `flush` waits for. */
  private readonly lazyInFlight = new Set<Promise<void>>();

  constructor(
    private readonly tableOf: (partitionKey: string) => TableClient,
    private readonly access: TableAccess,
  ) {}

  /** Resolves once the operations are durable; `lazy` ones may wait to share a transaction. */
  submit(partitionKey: string, operations: TableOperation[], lazy = false): Promise<void> {
    const submitted = new Promise<void>((resolve, reject) => {
      let partition = this.partitions.get(partitionKey);
      if (!partition) {
        partition = { queue: [], inFlight: 0, draining: false };
        this.partitions.set(partitionKey, partition);
      }
      const deadline = this.access.deadline();
      partition.queue.push({
        operations,
        bytes: sizeOf(operations),
        lazy,
        deadline,
        resolve,
        reject,
      });
      this.pump(partitionKey, partition);
    });
    if (lazy) {
      this.lazyInFlight.add(submitted);
      const forget = () => this.lazyInFlight.delete(submitted);
      submitted.then(forget, forget);
    }
    return submitted;
  }

  /** Writes every lazy submission now and waits until all of them are settled (at shutdown). */
  async flush(): Promise<void> {
    for (const [partitionKey, partition] of this.partitions) {
      clearTimeout(partition.linger);
      partition.linger = undefined;
      partition.draining = true;
      this.pump(partitionKey, partition);
    }
    await Promise.allSettled([...this.lazyInFlight]);
  }

  /**
   * Starts transactions for what is queued while fewer than the most are in flight. Lazy
   * submissions alone wait for company until the linger ends.
   */
  private pump(partitionKey: string, partition: PartitionQueue): void {
    while (partition.inFlight < MAX_IN_FLIGHT && partition.queue.length > 0) {
      if (this.rejectExpired(partition)) continue;
      if (!partition.draining && partition.queue.every((submission) => submission.lazy)) {
        partition.linger ??= setTimeout(() => {
          partition.linger = undefined;
          partition.draining = true;
          this.pump(partitionKey, partition);
        }, LINGER_MS);
        return;
      }
      clearTimeout(partition.linger);
      partition.linger = undefined;
      const batch = takeBatch(partition.queue);
      if (!partition.queue.some((submission) => submission.lazy)) partition.draining = false;
      partition.inFlight++;
      void this.commit(partitionKey, batch).then((retry) => {
        partition.queue.unshift(...retry);
        partition.inFlight--;
        this.pump(partitionKey, partition);
        if (partition.inFlight === 0 && partition.queue.length === 0) {
          this.partitions.delete(partitionKey);
        }
      });
    }
  }

  /** Rejects the queued submissions whose time is up; whether there were any. */
  private rejectExpired(partition: PartitionQueue): boolean {
    const now = Date.now();
    const expired = partition.queue.filter((submission) => submission.deadline <= now);
    if (expired.length === 0) return false;
    partition.queue = partition.queue.filter((submission) => submission.deadline > now);
    const error = this.access.unavailable(new Error("no answer in time (queued behind others)"));
    for (const submission of expired) submission.reject(error);
    return true;
  }

  /**
   * Commits one batch; returns the submissions to try again. The transaction has what is left of
   * the batch's earliest deadline.
   */
  private async commit(partitionKey: string, batch: Submission[]): Promise<Submission[]> {
    const table = this.tableOf(partitionKey);
    const { actions, owners } = transactionOf(batch);
    const deadline = Math.min(...batch.map((submission) => submission.deadline));
    try {
      await this.access.call(
        () => table.submitTransaction(actions, this.access.signal(deadline)),
        isRequestError,
      );
    } catch (error) {
      return this.settleFailure(batch, owners, error);
    }
    for (const submission of batch) submission.resolve();
    return [];
  }

  private settleFailure(batch: Submission[], owners: Owner[], error: unknown): Submission[] {
    const failed = failedOperation(error);
    const owner = failed && owners[failed.index];
    if (!failed || !owner) {
      // Which operation was refused is unknown: each submission is tried on its own.
      if (batch.length > 1 && isRequestError(error)) {
        return batch.map((submission) => ({ ...submission, alone: true }));
      }
      for (const submission of batch) submission.reject(this.access.unavailable(error));
      return [];
    }
    const { submission, local } = owner;
    const others = batch.filter((other) => other !== submission);
    const operation = submission.operations[local];
    const droppable =
      (operation?.ifExists && failed.statusCode === 404) ||
      (operation?.optional && failed.statusCode === 400);
    if (droppable) {
      const rest = submission.operations.filter((_, position) => position !== local);
      if (rest.length === 0) {
        submission.resolve();
        return others;
      }
      return [{ ...submission, operations: rest, bytes: sizeOf(rest) }, ...others];
    }
    submission.reject(
      isConflictStatus(failed.statusCode)
        ? new TableConflict(local, failed.statusCode)
        : this.access.unavailable(error),
    );
    return others;
  }
}

/** Which submission, and which of its operations, a transaction's operation came from. */
interface Owner {
  submission: Submission;
  local: number;
}

/**
 * The batch's operations as one transaction. The same entity upserted with the same content by
 * several submissions (a tag seen pushed again) is written once: a transaction may not touch an
 * entity twice, and writing it once is what each of them asked for.
 */
function transactionOf(batch: Submission[]): { actions: TransactionAction[]; owners: Owner[] } {
  const actions: TransactionAction[] = [];
  const owners: Owner[] = [];
  const upserted = new Set<string>();
  for (const submission of batch) {
    for (const [local, operation] of submission.operations.entries()) {
      const shared = sharedUpsert(operation);
      if (shared !== undefined) {
        if (upserted.has(shared)) continue;
        upserted.add(shared);
      }
      actions.push(operation.action);
      owners.push({ submission, local });
    }
  }
  return { actions, owners };
}

/** An upsert identifies by its content what it writes; other operations by their entity. */
function sharedUpsert(operation: TableOperation): string | undefined {
  return operation.action[0] === "upsert" ? JSON.stringify(operation.action[1]) : undefined;
}

/**
 * The longest run of queued submissions that fits one transaction, touching no entity twice
 * (but for the same upsert, which is written once).
 */
function takeBatch(queue: Submission[]): Submission[] {
  const batch: Submission[] = [];
  const rows = new Set<string>();
  const upserts = new Set<string>();
  let operations = 0;
  let bytes = 0;
  for (let index = 0; index < queue.length; ) {
    const submission = queue[index] as Submission;
    const fresh = submission.operations.filter((operation) => {
      const shared = sharedUpsert(operation);
      return shared === undefined || !upserts.has(shared);
    });
    const fits =
      batch.length === 0 ||
      (!submission.alone &&
        operations + fresh.length <= MAX_OPERATIONS &&
        bytes + submission.bytes <= MAX_BATCH_BYTES &&
        fresh.every((operation) => !rows.has(String(operation.action[1].rowKey))));
    if (!fits) {
      index++;
      continue;
    }
    batch.push(submission);
    queue.splice(index, 1);
    if (submission.alone) break;
    for (const operation of fresh) {
      rows.add(String(operation.action[1].rowKey));
      const shared = sharedUpsert(operation);
      if (shared !== undefined) upserts.add(shared);
    }
    operations += fresh.length;
    bytes += submission.bytes;
  }
  return batch;
}

/** Azure and Azurite name the failed operation of a transaction in the message: `3:The ...`. */
function failedOperation(error: unknown): { index: number; statusCode: number } | undefined {
  if (!isRequestError(error)) return undefined;
  const match = /^(\d+):/.exec(error.message);
  return match ? { index: Number(match[1]), statusCode: error.statusCode } : undefined;
}

/** Refused for what it asked (4xx), not because storage did not answer. */
function isRequestError(error: unknown): error is RestError & { statusCode: number } {
  const status = error instanceof RestError ? error.statusCode : undefined;
  return status !== undefined && status >= 400 && status < 500 && status !== 408;
}

function isConflictStatus(status: number): boolean {
  return status === 409 || status === 412 || status === 404;
}

function sizeOf(operations: readonly TableOperation[]): number {
  return operations.reduce(
    (total, operation) => total + JSON.stringify(operation.action).length,
    0,
  );
}
