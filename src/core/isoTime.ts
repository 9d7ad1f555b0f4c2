/** Epoch milliseconds as an ISO 8601 time, as every answer and message shows times. */
export function isoTime(epochMs: number): string;
export function isoTime(epochMs: number | undefined): string | undefined;
export function isoTime(epochMs: number | undefined): string | undefined {
  return epochMs === undefined ? undefined : new Date(epochMs).toISOString();
}
