import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { bridgeUnreachable } from "./bridgeUnreachable";
import { applyLocalSettings, localPort } from "./host/settings";

const USAGE = `Usage:
  npm run replay -- --from ISO --to ISO [--registry R] [--repository R] [--action A] [--topic T]
                    [--dry-run] [--url BASE] [--no-wait] [--idempotency-key K]
      Starts a replay job on a running bridge (POST /api/replay) and follows it until it ends.
      --idempotency-key  sent as Idempotency-Key (default: a new one); when the start failed
              without an answer, run again with the key printed to get that job, not a second one.
      --url   the app, default http://127.0.0.1:$PORT (7071); in Azure https://<app>.azurewebsites.net
      The function key, if the app needs one, is read from FUNCTION_KEY (sent as x-functions-key).`;

class UsageError extends Error {}

/** The bridge answered, with an error status. */
class RefusedRequest extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const POLL_MS = 2000;
/** Status checks failing in a row (no answer, or a 5xx) before following the job is given up. */
const MAX_FAILED_CHECKS = 5;
const pause = () => new Promise((resolve) => setTimeout(resolve, POLL_MS));

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      from: { type: "string" },
      to: { type: "string" },
      registry: { type: "string" },
      repository: { type: "string" },
      action: { type: "string" },
      topic: { type: "string" },
      "dry-run": { type: "boolean", default: false },
      "no-wait": { type: "boolean", default: false },
      url: { type: "string" },
      "idempotency-key": { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!values.from || !values.to) throw new UsageError("--from and --to are required");
  // PORT as `npm start` resolves it: the environment, then local.settings.json.
  applyLocalSettings(process.cwd());
  const base = (values.url ?? `http://127.0.0.1:${localPort()}`).replace(/\/$/, "");
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (process.env.FUNCTION_KEY) headers["x-functions-key"] = process.env.FUNCTION_KEY;
  const body = {
    from: values.from,
    to: values.to,
    registry: values.registry,
    repository: values.repository,
    action: values.action,
    topic: values.topic,
    dryRun: values["dry-run"] || undefined,
  };
  const key = values["idempotency-key"] ?? randomUUID();
  const started = await call(`${base}/api/replay`, {
    method: "POST",
    headers: { ...headers, "idempotency-key": key },
    body: JSON.stringify(body),
  }).catch((error: unknown) => {
    // Without an answer (or with a 5xx) the job may have started: a retry must name it.
    const unanswered = !(error instanceof RefusedRequest) || error.status >= 500;
    if (values["dry-run"] || !unanswered) throw error;
    throw new Error(
      `${(error as Error).message}; to retry without a second job: --idempotency-key ${key}`,
    );
  });
  if (values["dry-run"]) {
    console.log(
      `dry run: ${started.replayable} of ${started.records} recorded deliveries would be replayed`,
    );
    return;
  }
  const id = String(started.id);
  console.log(`replay job ${id} queued`);
  if (values["no-wait"]) return;
  let failedChecks = 0;
  for (;;) {
    const job = await call(`${base}/api/replay/${id}`, { headers }).catch((error: unknown) => {
      // The job runs on the bridge whatever happens here: an outage of the check is waited out.
      const refused = error instanceof RefusedRequest && error.status < 500;
      if (refused || ++failedChecks >= MAX_FAILED_CHECKS) {
        throw new Error(
          `${(error as Error).message}; job ${id} goes on on the bridge: GET ${base}/api/replay/${id}`,
        );
      }
      console.error(`status check failed (${(error as Error).message}): trying again`);
      return undefined;
    });
    if (job === undefined) {
      await pause();
      continue;
    }
    failedChecks = 0;
    const counts = job.counts as { published: number; skipped: number; scanned: number };
    const percent = Math.round(Number(job.progress) * 100);
    console.log(
      `${job.state}: ${percent} %, ${counts.published} published, ${counts.skipped} skipped, ${counts.scanned} read`,
    );
    if (job.state === "completed") return;
    if (job.state === "failed") {
      console.error((job.errors as string[]).join("\n"));
      process.exitCode = 1;
      return;
    }
    await pause();
  }
}

async function call(url: string, init: RequestInit): Promise<Record<string, unknown>> {
  const response = await fetch(url, init).catch((error: unknown) => {
    throw new Error(bridgeUnreachable(url, error));
  });
  const json = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok) {
    const error = json.error as { message?: string; details?: unknown } | undefined;
    throw new RefusedRequest(
      response.status,
      `${response.status}: ${error?.message ?? "no answer"}${error?.details ? ` ${JSON.stringify(error.details)}` : ""}`,
    );
  }
  return json;
}

main().catch((error: unknown) => {
  const usage =
    error instanceof UsageError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS");
  console.error(usage ? `${(error as Error).message}\n\n${USAGE}` : (error as Error).message);
  process.exit(usage ? 2 : 1);
});
