import { randomUUID } from "node:crypto";
import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { isoTime } from "../core/isoTime";
import {
  countReplayable,
  newReplayJob,
  type ReplayJob,
  type ReplayJobStore,
  type ReplaySource,
  replayProgress,
} from "../core/replay";
import { answerWhenAvailable, errorResponse } from "../http/errorResponse";
import { readJsonBody } from "../http/readBody";
import { parseReplayRequest } from "./replayRequest";

export interface ReplayRouteDeps {
  jobs: ReplayJobStore;
  source: ReplaySource;
  maxWindowMs: number;
  /** Records read at a time for a dry run's count. */
  pageSize: number;
}

/** A replay request is a few hundred bytes. */
const MAX_BODY_BYTES = 16 * 1024;
const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * `POST /api/replay`: with `dryRun` answers how many records the window holds and how many would
 * be published; otherwise queues a job (202) that the replay timer runs.
 */
export function startReplay(
  request: HttpRequest,
  context: InvocationContext,
  deps: ReplayRouteDeps,
): Promise<HttpResponseInit> {
  return answering(context, async () => {
    const body = await readJsonBody(request, MAX_BODY_BYTES);
    if (!body.ok) return body.failure;
    const parsed = parseReplayRequest(body.value, deps.maxWindowMs, Date.now());
    if (!parsed.ok) {
      const names = parsed.failure.map((issue) => issue.path.replace(/^body\.?/, "") || "(body)");
      return errorResponse(
        400,
        "invalid_request",
        `invalid field: ${[...new Set(names)].join(", ")}`,
        {
          issues: parsed.failure,
        },
      );
    }
    const { selection, dryRun } = parsed.value;
    if (dryRun) {
      const counts = await countReplayable(deps.source, selection, deps.pageSize);
      return { status: 200, jsonBody: { dryRun: true, ...counts } };
    }
    const job = newReplayJob(randomUUID(), selection, Date.now());
    await deps.jobs.create(job);
    const location = `/api/replay/${job.id}`;
    return { status: 202, headers: { location }, jsonBody: { ...replayJobView(job), location } };
  });
}

/** `GET /api/replay/{jobId}`: the job's state, progress, counts and latest errors. */
export function showReplayJob(
  request: HttpRequest,
  context: InvocationContext,
  deps: Pick<ReplayRouteDeps, "jobs">,
): Promise<HttpResponseInit> {
  return answering(context, async () => {
    const id = request.params.jobId ?? "";
    if (!JOB_ID.test(id)) {
      return errorResponse(400, "invalid_query", "invalid parameter: jobId", {
        issues: [
          { path: "route.jobId", message: "must be a job id as POST /api/replay returns it" },
        ],
      });
    }
    const job = await deps.jobs.get(id);
    if (!job) return errorResponse(404, "not_found", "no replay job with this id");
    return { status: 200, jsonBody: replayJobView(job) };
  });
}

function replayJobView(job: ReplayJob) {
  const { from, to, ...filter } = job.selection;
  return {
    id: job.id,
    state: job.state,
    selection: { from: isoTime(from), to: isoTime(to), ...filter },
    createdAt: isoTime(job.createdAt),
    updatedAt: isoTime(job.updatedAt),
    progress: replayProgress(job),
    counts: { scanned: job.scanned, published: job.published, skipped: job.skipped },
    failedSteps: job.failedSteps,
    errors: job.errors,
  };
}

function answering(
  context: InvocationContext,
  run: () => Promise<HttpResponseInit>,
): Promise<HttpResponseInit> {
  return answerWhenAvailable(run, (reason) => context.error(`replay: ${reason}`));
}
