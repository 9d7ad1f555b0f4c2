import type { HttpRequest, HttpResponseInit } from "@azure/functions";
import { errorResponse, invalidQueryResponse } from "../http/errorResponse";
import { parseBackfillQuery } from "../query/queryParameters";
import type { RegistryAccess } from "./registryAccess";

/** `POST /api/backfill[?from=&to=]`: one backfill run now; the counts, never an ARM failure as a 5xx. */
export async function handleBackfillRequest(
  request: HttpRequest,
  access: RegistryAccess,
): Promise<HttpResponseInit> {
  const window = parseBackfillQuery(request.query, Date.now());
  if (!window.ok) return invalidQueryResponse(window.failure);
  if (access.settings.resourceIds.length === 0) {
    return errorResponse(
      409,
      "not_configured",
      "no registry to read: set ACR_RESOURCE_IDS (and ARM access) to backfill",
    );
  }
  const report = await access.backfill(window.value);
  const { seen, alreadyRecorded, imported, unusable, unusableCount, webhooks, errors } = report;
  return {
    status: 200,
    jsonBody: { seen, alreadyRecorded, imported, unusable, unusableCount, webhooks, errors },
  };
}
