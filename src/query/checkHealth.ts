import type { HttpResponseInit, InvocationContext } from "@azure/functions";
import { describeError } from "../core/ingestDelivery";
import { errorResponse } from "../http/errorResponse";

export interface HealthProbes {
  tableStorage: () => Promise<unknown>;
  serviceBus: () => Promise<unknown>;
}

type CheckState = "ok" | "unavailable";

/** Open operational findings (a silent webhook or Event Grid side), shown as details. */
export type OperationalFindings = () => Promise<unknown[]>;

/**
 * `GET /api/health`: each dependency probed at once, each probe bounded by its adapter's timeout.
 * The reason of a failure goes to the log only: the route is anonymous.
 */
export async function checkHealth(
  context: InvocationContext,
  probes: HealthProbes,
  operationalFindings?: OperationalFindings,
): Promise<HttpResponseInit> {
  const names = Object.keys(probes) as (keyof HealthProbes)[];
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
  // Informative only: findings never turn the health red, and a failed read leaves them out.
  const operational = await operationalFindings?.().catch(() => undefined);
  const details = operational && { operational };
  if (failed.length === 0) return { status: 200, jsonBody: { status: "ok", checks, details } };
  return errorResponse(503, "dependency_unavailable", `unavailable: ${failed.join(", ")}`, {
    status: "unavailable",
    checks,
    ...details,
  });
}
