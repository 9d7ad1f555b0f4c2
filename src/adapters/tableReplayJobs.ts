import { odata, type TableClient, type TransactionAction } from "@azure/data-tables";
import {
  ACTIVE_JOB_STATES,
  type ReplayJob,
  type ReplayJobStore,
  type SenderChoices,
} from "../core/replay";
import { TableAccess } from "./tableAccess";
import { isStatus } from "./tableErrors";
import { readIfExists } from "./tableIfExists";

/**
 * Table `AcrReplayJobs`: PartitionKey `jobs`, RowKey = job id; the job's state as JSON plus the
 * columns the runner filters on. Few rows (one per replay asked for), so one partition.
 * A job's choices of the records it sends messages from are its own partition: PartitionKey =
 * the job id, RowKey = the original message id, `sender` = the record.
 */
const PARTITION = "jobs";

/** Table Storage takes at most 100 operations in one transaction. */
const MAX_OPERATIONS = 100;

/** Point reads of a page's choices made at once, each bounded: a page holds up to 200. */
const READS_AT_ONCE = 16;

interface SenderEntity {
  partitionKey: string;
  rowKey: string;
  sender: string;
}

interface ReplayJobEntity {
  partitionKey: string;
  rowKey: string;
  state: string;
  createdAt: Date;
  leaseUntil: Date;
  job: string;
}

export class TableReplayJobs implements ReplayJobStore {
  private readonly access: TableAccess;

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
    return entity && (JSON.parse(entity.job) as ReplayJob);
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

  private list(filter: string): Promise<ReplayJob[]> {
    return readIfExists(async () => {
      const jobs: ReplayJob[] = [];
      const rows = this.table.listEntities<ReplayJobEntity>({
        queryOptions: { filter, select: ["job"] },
        ...this.access.signal(),
      });
      for await (const row of rows) jobs.push(JSON.parse(row.job) as ReplayJob);
      return jobs;
    }, []);
  }

  async claim(id: string, now: number, until: number): Promise<ReplayJob | undefined> {
    const entity = await this.read(id);
    if (!entity || new Date(entity.leaseUntil).getTime() > now) return undefined;
    const job = JSON.parse(entity.job) as ReplayJob;
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
  ): Promise<Map<string, string>> {
    const senders = new Map<string, string>();
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
      for (const entity of found) if (entity) senders.set(entity.rowKey, entity.sender);
    }
    return senders;
  }

  async noteSenders(jobId: string, senders: SenderChoices): Promise<void> {
    const actions = [...senders].map(
      ([rowKey, sender]): TransactionAction => [
        "upsert",
        { partitionKey: jobId, rowKey, sender } satisfies SenderEntity,
        "Replace",
      ],
    );
    for (let start = 0; start < actions.length; start += MAX_OPERATIONS) {
      const transaction = actions.slice(start, start + MAX_OPERATIONS);
      await this.access.call(() => this.table.submitTransaction(transaction, this.access.signal()));
    }
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
      job: JSON.stringify(job),
    };
  }
}
