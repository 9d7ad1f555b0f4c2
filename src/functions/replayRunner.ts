import { app } from "@azure/functions";
import { getBridge } from "../bridge";
import { loadReplaySettings } from "../config";
import { runReplayJobs } from "../core/replay";
import { getOperator } from "../operator";
import { REPLAY_PAGE_SIZE } from "../replay/replayRoutes";

const settings = loadReplaySettings(process.env);
const bridge = getBridge();
const operator = getOperator();

/** Every 10 seconds; each run works for at most 8, so runs never overlap. */
app.timer("replayRunner", {
  schedule: "*/10 * * * * *",
  handler: async (_timer, context) => {
    const jobs = await runReplayJobs(
      {
        jobs: operator.replayJobs,
        source: operator.reads,
        publisher: bridge.publisher,
        store: bridge.store,
        clock: Date.now,
        sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      },
      {
        ratePerSecond: settings.ratePerSecond,
        runMs: 8000,
        pageSize: REPLAY_PAGE_SIZE,
        maxFailedSteps: 10,
      },
    );
    const report = jobs.map((job) => ({
      id: job.id,
      state: job.state,
      published: job.published,
      skipped: job.skipped,
      error: job.failedSteps > 0 ? job.errors.at(-1) : undefined,
    }));
    const line = `replayRunner: ${JSON.stringify(report)}`;
    if (report.some((job) => job.error)) context.warn(line);
    else context.log(line);
  },
});
