import type { HttpResponseInit } from "@azure/functions";

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
