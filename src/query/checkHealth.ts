import type { HttpResponseInit, InvocationContext } from "@azure/functions";
import { describeError } from "../core/describeError";
import { errorResponse } from "../http/errorResponse";

export interface HealthProbes {
  tableStorage: () => Promise<unknown>;
  serviceBus: () => Promise<unknown>;
}

type CheckState = "ok" | "unavailable";

/**
 * `GET /api/health`: each dependency probed at once, each probe bounded by its adapter's timeout.
 * The reason of a failure goes to the log only: the route is anonymous.
 */
export async function checkHealth(
  context: InvocationContext,
  probes: HealthProbes,
  /** Operational details shown with the answer (webhook health, operational findings); a failure to read them is only logged. */
  details?: () => Promise<Record<string, unknown>>,
): Promise<HttpResponseInit> {
  const names = Object.keys(probes) as (keyof HealthProbes)[];
  // Read alongside the probes, so a slow store does not add to the answer's time.
  const extra = readDetails(context, details);
  const states = await Promise.all(
    names.map(async (name): Promise<CheckState> => {
      try {
        await probes[name]();
        return "ok";
      } catch (error) {
        context.warn(`health: ${name} unavailable: ${describeError(error)}`);
        return "unavailable";
      }
    }),
  );
  const checks = Object.fromEntries(names.map((name, index) => [name, states[index]]));
  const failed = names.filter((_, index) => states[index] !== "ok");
  const shown = await extra;
  const informative = Object.keys(shown).length > 0 ? shown : undefined;
  if (failed.length === 0) {
    return { status: 200, jsonBody: { status: "ok", checks, details: informative } };
  }
  return errorResponse(503, "dependency_unavailable", `unavailable: ${failed.join(", ")}`, {
    status: "unavailable",
    checks,
    details: informative,
  });
}

async function readDetails(
  context: InvocationContext,
  details?: () => Promise<Record<string, unknown>>,
): Promise<Record<string, unknown>> {
  try {
    return (await details?.()) ?? {};
  } catch (error) {
    context.warn(`health: details unavailable: ${describeError(error)}`);
    return {};
  }
}
