import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import type { Parsed } from "../core/acrWebhookPayload";
import { answerWhenAvailable, invalidQueryResponse } from "../http/errorResponse";

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
  if (!parsed.ok) return invalidQueryResponse(parsed.failure);
  return answerWhenAvailable(
    () => run(parsed.value),
    (reason) => context.error(`query failed: ${reason}`),
  );
}
