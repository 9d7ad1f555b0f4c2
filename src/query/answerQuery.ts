import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { DependencyUnavailableError } from "../core/ports";
import { errorResponse } from "../http/errorResponse";
import type { Parsed } from "./queryParameters";

/**
 * What every query route shares: 400 naming each bad parameter, 503 when Table Storage does not
 * answer; `run` gets the parsed query and answers the rest.
 */
export async function answerQuery<T>(
  request: HttpRequest,
  context: InvocationContext,
  parse: (request: HttpRequest, now: number) => Parsed<T>,
  run: (query: T) => Promise<HttpResponseInit>,
): Promise<HttpResponseInit> {
  const parsed = parse(request, Date.now());
  if (!parsed.ok) {
    const names = parsed.issues.map((issue) => issue.path.slice(issue.path.indexOf(".") + 1));
    return errorResponse(
      400,
      "invalid_query",
      `invalid parameter: ${[...new Set(names)].join(", ")}`,
      { issues: parsed.issues },
    );
  }
  try {
    return await run(parsed.value);
  } catch (error) {
    if (!(error instanceof DependencyUnavailableError)) throw error;
    context.error(`query failed: ${error.message}`);
    return errorResponse(503, "dependency_unavailable", `${error.dependency} is unavailable`, {
      dependency: error.dependency,
    });
  }
}
