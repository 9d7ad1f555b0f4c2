import { app } from "@azure/functions";
import { getBridge } from "../bridge";
import { loadReplayConfig } from "../config";
import { getOperator } from "../operator";
import { runReplayTimer } from "../replay/runReplayTimer";

const config = loadReplayConfig(process.env);
const bridge = getBridge();
const operator = getOperator();

app.timer("replayRunner", {
  schedule: config.runnerSchedule,
  handler: (_timer, context) =>
    runReplayTimer(
      context,
      {
        jobs: operator.replayJobs,
        source: operator.reads,
        publisher: bridge.publisher,
        store: bridge.store,
      },
      config,
    ),
});
