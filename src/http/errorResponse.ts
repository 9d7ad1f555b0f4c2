import type { HttpResponseInit } from "@azure/functions";
import type { FieldIssue } from "../core/acrWebhookPayload";
import { type DependencyFailure, describeDependencyFailure, whenAvailable } from "../core/ports";

/** The one shape of every error body: `{ error: { code, message, details? } }`. No stack traces. */
export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

export function errorResponse(
  status: number,
  code: string,
  message: string,
  details?: unknown,
  headers?: Record<string, string>,
): HttpResponseInit {
  const body: ErrorBody = {
    error: { code, message, ...(details === undefined ? {} : { details }) },
  };
  return { status, jsonBody: body, headers };
}

/** 400 `invalid_query` whose message names each bad parameter (`query.limit` names `limit`). */
export function invalidQueryResponse(issues: readonly FieldIssue[]): HttpResponseInit {
  const names = issues.map((issue) => issue.path.slice(issue.path.indexOf(".") + 1));
  return errorResponse(
    400,
    "invalid_query",
    `invalid parameter: ${[...new Set(names)].join(", ")}`,
    { issues },
  );
}

/** The answer when a dependency did not answer: 503 naming it, the reason logged. */
export function dependencyUnavailableResponse(
  failure: DependencyFailure,
  log: (reason: string) => void,
): HttpResponseInit {
  log(describeDependencyFailure(failure));
  return errorResponse(503, "dependency_unavailable", `${failure.dependency} is unavailable`, {
    dependency: failure.dependency,
  });
}

/** A route's answer, or the 503 when a dependency it needed did not answer. */
export async function answerWhenAvailable(
  run: () => Promise<HttpResponseInit>,
  log: (reason: string) => void,
): Promise<HttpResponseInit> {
  const answered = await whenAvailable(run);
  return answered.ok ? answered.value : dependencyUnavailableResponse(answered.failure, log);
}
