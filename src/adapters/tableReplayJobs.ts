import { odata, type TableClient, type TransactionAction } from "@azure/data-tables";
import type { EventOrigin } from "../core/registryEvent";
import {
  ACTIVE_JOB_STATES,
  type ReplayCopy,
  type ReplayJob,
  type ReplayJobStore,
  type SenderChoices,
} from "../core/replay";
import { TableAccess } from "./tableAccess";
import { isStatus } from "./tableErrors";
import { readIfExists } from "./tableIfExists";
import { queryEntities } from "./tablePaging";

/**
 * Table `AcrReplayJobs`: PartitionKey `jobs`, RowKey = job id; the job's state as JSON plus the
 * columns the runner filters on. Few rows (one per replay asked for), so one partition.
 * A job's choices of the records it sends messages from are its own partition: PartitionKey =
 * the job id, RowKey = the original message id, `sender` = the record; deleted once it ended.
 */
const PARTITION = "jobs";

/**
 * A row of its own (no job id has an "l") saying every ended job's row has the `choicesForgotten`
 * column: rows saved before jobs forgot their choices lack it, and no query finds a column absent.
 */
const LAYOUT_PARTITION = "layout";
const OLDER_JOBS_GIVEN_THE_COLUMN = "choicesForgottenColumn";

const ENDED_JOBS = `(${ACTIVE_JOB_STATES.map((state) => odata`state ne ${state}`).join(" and ")})`;

/** Table Storage takes at most 100 operations in one transaction. */
const MAX_OPERATIONS = 100;

/** Point reads of a page's choices made at once, each bounded: a page holds up to 200. */
const READS_AT_ONCE = 16;

interface SenderEntity {
  partitionKey: string;
  rowKey: string;
  /** The record: its origin, a space, its event id. */
  sender: string;
}

interface ReplayJobEntity {
  partitionKey: string;
  rowKey: string;
  state: string;
  createdAt: Date;
  leaseUntil: Date;
  /** Absent from a job saved before jobs forgot their choices (it has kept them) until given it. */
  choicesForgotten?: boolean;
  job: string;
}

export class TableReplayJobs implements ReplayJobStore {
  private readonly access: TableAccess;
  /** Whether this process found the rows of older jobs given the `choicesForgotten` column. */
  private olderJobsGivenTheColumn = false;

  constructor(
    private readonly table: TableClient,
    timeoutMs: number,
  ) {
    this.access = new TableAccess([table], timeoutMs);
  }

  create(job: ReplayJob): Promise<boolean> {
    return this.access.call(async () => {
      try {
        await this.table.createEntity(this.entityOf(job, 0), this.access.signal());
        return true;
      } catch (error) {
        if (isStatus(error, 409)) return false;
        throw error;
      }
    });
  }

  async get(id: string): Promise<ReplayJob | undefined> {
    const entity = await this.read(id);
    return entity && jobOf(entity.job);
  }

  async active(limit: number): Promise<ReplayJob[]> {
    const states = ACTIVE_JOB_STATES.map((state) => odata`state eq ${state}`).join(" or ");
    const jobs = await this.list(`${odata`PartitionKey eq ${PARTITION}`} and (${states})`);
    return jobs.sort((a, b) => a.createdAt - b.createdAt).slice(0, limit);
  }

  async recent(limit: number): Promise<ReplayJob[]> {
    const jobs = await this.list(odata`PartitionKey eq ${PARTITION}`);
    return jobs.sort((a, b) => b.createdAt - a.createdAt).slice(0, limit);
  }

  private async list(filter: string): Promise<ReplayJob[]> {
    return (await this.rows(filter, ["job"])).map((row) => jobOf(row.job));
  }

  /** The jobs' rows the filter matches, with only the columns asked for. */
  private rows<K extends keyof ReplayJobEntity>(
    filter: string,
    columns: readonly K[],
  ): Promise<Pick<ReplayJobEntity, K>[]> {
    return readIfExists(async () => {
      const found: Pick<ReplayJobEntity, K>[] = [];
      const rows = this.table.listEntities<ReplayJobEntity>({
        queryOptions: { filter, select: columns.map(columnName) },
        ...this.access.signal(),
      });
      for await (const row of rows) found.push(row);
      return found;
    }, []);
  }

  async claim(id: string, now: number, until: number): Promise<ReplayJob | undefined> {
    const entity = await this.read(id);
    if (!entity || new Date(entity.leaseUntil).getTime() > now) return undefined;
    const job = jobOf(entity.job);
    return (await this.replaceAt(this.entityOf(job, until), entity.etag)) ? job : undefined;
  }

  async save(job: ReplayJob, lease: number, keepClaim: boolean): Promise<boolean> {
    const current = await this.read(job.id);
    if (!current || new Date(current.leaseUntil).getTime() !== lease) return false;
    return this.replaceAt(this.entityOf(job, keepClaim ? lease : 0), current.etag);
  }

  async sendersOf(
    jobId: string,
    originalMessageIds: readonly string[],
  ): Promise<Map<string, ReplayCopy>> {
    const senders = new Map<string, ReplayCopy>();
    for (let at = 0; at < originalMessageIds.length; at += READS_AT_ONCE) {
      const found = await Promise.all(
        originalMessageIds
          .slice(at, at + READS_AT_ONCE)
          .map((id) =>
            readIfExists(
              () => this.table.getEntity<SenderEntity>(jobId, id, this.access.signal()),
              undefined,
            ),
          ),
      );
      for (const entity of found) if (entity) senders.set(entity.rowKey, copyIn(entity.sender));
    }
    return senders;
  }

  noteSenders(jobId: string, senders: SenderChoices): Promise<void> {
    return this.submit(
      [...senders].map(([rowKey, sender]) => [
        "upsert",
        {
          partitionKey: jobId,
          rowKey,
          sender: `${sender.origin} ${sender.eventId}`,
        } satisfies SenderEntity,
        "Replace",
      ]),
    );
  }

  async keepingChoices(limit: number): Promise<string[]> {
    await this.giveOlderJobsTheColumn();
    // Only the jobs with choices left are read, however many ended before them.
    const rows = await this.rows(
      `${odata`PartitionKey eq ${PARTITION} and choicesForgotten eq ${false}`} and ${ENDED_JOBS}`,
      ["rowKey", "createdAt"],
    );
    return rows
      .sort((a, b) => new Date(a.createdAt).getTime() - new Date(b.createdAt).getTime())
      .slice(0, limit)
      .map((row) => row.rowKey);
  }

  /**
   * Gives the ended jobs saved before jobs forgot their choices the `choicesForgotten` column
   * (false: they kept them), so that the query for those with choices left finds them too: once
   * per table, reading every ended job, then noted in a row. A run stopped before the note leaves
   * it to the next, which gives the column again to those still lacking it.
   */
  private async giveOlderJobsTheColumn(): Promise<void> {
    if (this.olderJobsGivenTheColumn) return;
    const noted = await readIfExists(
      () =>
        this.table.getEntity(LAYOUT_PARTITION, OLDER_JOBS_GIVEN_THE_COLUMN, this.access.signal()),
      undefined,
    );
    if (!noted) {
      const rows = await this.rows(`${odata`PartitionKey eq ${PARTITION}`} and ${ENDED_JOBS}`, [
        "rowKey",
        "choicesForgotten",
      ]);
      // No job has ended yet (maybe no table either): nothing to give, and no table made for it.
      if (rows.length === 0) return;
      await this.submit(
        rows
          .filter((row) => typeof row.choicesForgotten !== "boolean")
          .map((row) => [
            "update",
            { partitionKey: PARTITION, rowKey: row.rowKey, choicesForgotten: false },
            "Merge",
          ]),
      );
      await this.access.call(() =>
        this.table.upsertEntity(
          { partitionKey: LAYOUT_PARTITION, rowKey: OLDER_JOBS_GIVEN_THE_COLUMN },
          "Replace",
          this.access.signal(),
        ),
      );
    }
    this.olderJobsGivenTheColumn = true;
  }

  async forgetSenders(jobId: string, limit: number): Promise<number> {
    const rowKeys: string[] = [];
    const rows = queryEntities<SenderEntity>(
      this.access,
      this.table,
      { filter: odata`PartitionKey eq ${jobId}`, select: ["RowKey"] },
      limit,
    );
    for await (const row of rows) {
      rowKeys.push(row.rowKey);
      if (rowKeys.length >= limit) break;
    }
    await this.submit(rowKeys.map((rowKey) => ["delete", { partitionKey: jobId, rowKey }]));
    return rowKeys.length;
  }

  /** Submits the actions on one partition in transactions of the most allowed, all at once. */
  private async submit(actions: TransactionAction[]): Promise<void> {
    const transactions: TransactionAction[][] = [];
    for (let start = 0; start < actions.length; start += MAX_OPERATIONS) {
      transactions.push(actions.slice(start, start + MAX_OPERATIONS));
    }
    await Promise.all(
      transactions.map((transaction) =>
        this.access.call(() => this.table.submitTransaction(transaction, this.access.signal())),
      ),
    );
  }

  /** Replaces the job's entity if it is still at `etag`; false when another run changed it. */
  private replaceAt(entity: ReplayJobEntity, etag: string): Promise<boolean> {
    return this.access.call(async () => {
      try {
        await this.table.updateEntity(entity, "Replace", { etag, ...this.access.signal() });
      } catch (error) {
        if (isStatus(error, 412)) return false;
        throw error;
      }
      return true;
    });
  }

  /** The job's entity; undefined when there is none (or no job was ever created). */
  private read(id: string) {
    return readIfExists(
      () => this.table.getEntity<ReplayJobEntity>(PARTITION, id, this.access.signal()),
      undefined,
    );
  }

  private entityOf(job: ReplayJob, leaseUntil: number): ReplayJobEntity {
    return {
      partitionKey: PARTITION,
      rowKey: job.id,
      state: job.state,
      createdAt: new Date(job.createdAt),
      leaseUntil: new Date(leaseUntil),
      choicesForgotten: job.choicesForgotten,
      job: JSON.stringify(job),
    };
  }
}

/** The record a `sender` column names; an origin has no space. */
function copyIn(sender: string): ReplayCopy {
  const space = sender.indexOf(" ");
  return { origin: sender.slice(0, space) as EventOrigin, eventId: sender.slice(space + 1) };
}

/** The job a row holds; one saved before jobs forgot their choices has kept them. */
function jobOf(json: string): ReplayJob {
  const stored = JSON.parse(json) as Omit<ReplayJob, "choicesForgotten"> & {
    choicesForgotten?: boolean;
  };
  return { choicesForgotten: false, ...stored };
}

/** A column as a query selects it: the keys by their names in Table Storage. */
function columnName(column: keyof ReplayJobEntity): string {
  return column === "rowKey" ? "RowKey" : column === "partitionKey" ? "PartitionKey" : column;
}
