import type { InvocationContext } from "@azure/functions";

/** Logs a timer run's report on one line, `<name>: <JSON>`, as a warning when the run had failures. */
export function logRunLine(
  context: InvocationContext,
  name: string,
  report: unknown,
  failed: boolean,
): void {
  const line = `${name}: ${JSON.stringify(report)}`;
  if (failed) context.warn(line);
  else context.log(line);
}

/** The same for a report that lists its run's failures in `errors`. */
export function logRunReport(
  context: InvocationContext,
  name: string,
  report: { errors: readonly unknown[] },
): void {
  logRunLine(context, name, report, report.errors.length > 0);
}
