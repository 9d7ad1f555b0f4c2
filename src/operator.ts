import { REPLAY_JOBS_TABLE, SOURCE_WATCH_TABLE } from "./adapters/tableLayout";
import { TableOperatorReads } from "./adapters/tableOperatorReads";
import { TableQueries } from "./adapters/tableQueries";
import { TableReplayJobs } from "./adapters/tableReplayJobs";
import { TableSourceWatch } from "./adapters/tableSourceWatch";
import { getBridge } from "./bridge";
import { loadTablesTimeoutMs } from "./config";

/** The adapters of the operator features (console, replay, source watch), built once per process. */
export interface Operator {
  reads: TableOperatorReads;
  queries: TableQueries;
  replayJobs: TableReplayJobs;
  sourceWatch: TableSourceWatch;
}

let operator: Operator | undefined;

export function getOperator(env: Record<string, string | undefined> = process.env): Operator {
  if (operator) return operator;
  const bridge = getBridge(env);
  const timeoutMs = loadTablesTimeoutMs(env);
  const queries = new TableQueries(bridge);
  operator = {
    queries,
    reads: new TableOperatorReads({
      tables: bridge.tables,
      registries: bridge.registries,
      queries,
    }),
    replayJobs: new TableReplayJobs(bridge.tables(REPLAY_JOBS_TABLE), timeoutMs),
    sourceWatch: new TableSourceWatch(bridge.tables(SOURCE_WATCH_TABLE), timeoutMs),
  };
  return operator;
}
