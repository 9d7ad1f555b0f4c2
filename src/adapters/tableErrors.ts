import { RestError } from "@azure/data-tables";

export function isStatus(error: unknown, status: number): boolean {
  return error instanceof RestError && error.statusCode === status;
}

/**
 * Refused for what the request holds (a value or an entity storage does not accept), so the same
 * request is refused every time; credentials refused (401, 403) may be mended by someone.
 */
export function isContentRefused(error: unknown): boolean {
  return error instanceof RestError && (error.statusCode === 400 || error.statusCode === 413);
}
