import type { InvocationContext } from "@azure/functions";
import { type ReplayPorts, type ReplaySettings, runReplayJobs } from "../core/replay";
import { logRunLine } from "../telemetry/runReport";

/** The stores and the publisher a run works with; the clock is the real one. */
type ReplayTimerDeps = Omit<ReplayPorts, "clock" | "sleep">;

/**
 * One run of the replay runner: advances the active jobs and makes ended ones forget their
 * choices, then logs where each job it took is.
 */
export async function runReplayTimer(
  context: InvocationContext,
  deps: ReplayTimerDeps,
  settings: ReplaySettings,
): Promise<void> {
  const { advanced, forgotten } = await runReplayJobs(
    {
      ...deps,
      clock: Date.now,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    },
    settings,
  );
  const jobs = advanced.map((job) => ({
    id: job.id,
    state: job.state,
    published: job.published,
    skipped: job.skipped,
    error: job.failedSteps > 0 ? job.errors.at(-1) : undefined,
  }));
  logRunLine(
    context,
    "replayRunner",
    { jobs, forgotten },
    [...jobs, ...forgotten].some((job) => job.error !== undefined),
  );
}
