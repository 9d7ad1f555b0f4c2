import { z } from "zod";
import { type Parsed, toFieldIssues } from "../core/acrWebhookPayload";
import { normalizeRegion } from "../core/region";
import { loginServerName } from "../core/registryIdentity";

/** `?registry=` names the login server for events without `request.host`; `?region=` the replica. */
const webhookQuerySchema = z.object({
  registry: loginServerName.optional(),
  region: z
    .string()
    .regex(/^[A-Za-z0-9-]{1,64}$/, "must be a region name (letters, digits, '-')")
    .transform(normalizeRegion)
    .optional(),
});

export type WebhookQuery = z.infer<typeof webhookQuerySchema>;

export function parseWebhookQuery(query: URLSearchParams): Parsed<WebhookQuery> {
  const parsed = webhookQuerySchema.safeParse({
    registry: query.get("registry") ?? undefined,
    region: query.get("region") ?? undefined,
  });
  if (parsed.success) return { ok: true, value: parsed.data };
  return {
    ok: false,
    failure: toFieldIssues(parsed.error, "query"),
  };
}
