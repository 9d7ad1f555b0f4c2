import type { HttpResponseInit } from "@azure/functions";
import { DependencyUnavailableError } from "../core/ports";

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

/**
 * The answer when a dependency did not answer: 503 naming it, the reason logged. Any other error
 * is rethrown (the host answers 500): only a dependency that is down may cause a 5xx.
 */
export function dependencyUnavailableResponse(
  error: unknown,
  log: (reason: string) => void,
): HttpResponseInit {
  if (!(error instanceof DependencyUnavailableError)) throw error;
  log(error.message);
  return errorResponse(503, "dependency_unavailable", `${error.dependency} is unavailable`, {
    dependency: error.dependency,
  });
}
