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
        tags: bridge.tags,
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
    for (const job of jobs) {
      const line = `replay ${job.id}: ${job.state}, ${job.published} published, ${job.skipped} skipped`;
      if (job.failedSteps > 0) context.warn(`${line}; ${job.errors.at(-1)}`);
      else context.log(line);
    }
  },
});
