import { randomUUID } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
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
import { shortHash } from "../core/shortHash";
import { answerWhenAvailable, errorResponse, invalidQueryResponse } from "../http/errorResponse";
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
    const key = request.headers.get(IDEMPOTENCY_HEADER);
    if (key !== null && !IDEMPOTENCY_KEY.test(key)) {
      return errorResponse(400, "invalid_request", `invalid header: ${IDEMPOTENCY_HEADER}`, {
        issues: [{ path: `header.${IDEMPOTENCY_HEADER}`, message: IDEMPOTENCY_KEY_RULE }],
      });
    }
    const id = key === null ? randomUUID() : jobIdOf(key);
    const created = newReplayJob(id, selection, Date.now());
    const job = (await deps.jobs.create(created)) ? created : await deps.jobs.get(id);
    if (!job || !isDeepStrictEqual(job.selection, selection)) {
      return errorResponse(
        409,
        "idempotency_key_reused",
        `${IDEMPOTENCY_HEADER} was sent before with another replay request`,
      );
    }
    const location = `/api/replay/${job.id}`;
    return { status: 202, headers: { location }, jsonBody: { ...replayJobView(job), location } };
  });
}

/**
 * A client that did not get its answer (a 503, a timeout) sends the same request with the same
 * key again, and gets the job it started instead of a second one.
 */
const IDEMPOTENCY_HEADER = "idempotency-key";
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,128}$/;
const IDEMPOTENCY_KEY_RULE = "must be 1 to 128 printable ASCII characters, no spaces";

/** The job of a key: the same for every request that sends it. */
function jobIdOf(key: string): string {
  const hex = shortHash(["replay", key], 32);
  return [
    hex.slice(0, 8),
    hex.slice(8, 12),
    hex.slice(12, 16),
    hex.slice(16, 20),
    hex.slice(20),
  ].join("-");
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
      return invalidQueryResponse([
        { path: "route.jobId", message: "must be a job id as POST /api/replay returns it" },
      ]);
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
