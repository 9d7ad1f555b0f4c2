import { z } from "zod";
import { invalid, type Parsed, registryName, text, toFieldIssues } from "../core/acrWebhookPayload";
import type { ReplaySelection } from "../core/replay";

export interface ReplayRequest {
  selection: ReplaySelection;
  dryRun: boolean;
}

const instant = z.iso
  .datetime({
    offset: true,
    error: "must be an ISO 8601 date-time with a zone, such as 2026-05-01T12:00:00Z",
  })
  .transform((value) => Date.parse(value));

const bodySchema = z.strictObject({
  from: instant,
  to: instant,
  registry: registryName.optional(),
  repository: text(512).min(1).optional(),
  action: z
    .string()
    .regex(
      /^[a-z][a-z0-9_]{0,63}$/,
      "must be an action such as push, delete, chart_push, chart_delete or quarantine",
    )
    .optional(),
  topic: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,259}$/, "must be a Service Bus topic name")
    .optional(),
  dryRun: z.boolean({ error: "must be true or false" }).optional(),
});

/** The body of `POST /api/replay`: every bad field named, the window bounded. */
export function parseReplayRequest(
  json: unknown,
  maxWindowMs: number,
  now: number,
): Parsed<ReplayRequest> {
  const parsed = bodySchema.safeParse(json);
  if (!parsed.success) return { ok: false, failure: toFieldIssues(parsed.error, "body") };
  const { from, to, dryRun, ...filter } = parsed.data;
  if (from > to) return invalid("body.from", "must not be after to");
  if (to - from > maxWindowMs) {
    return invalid("body.from", `must be at most ${maxWindowMs / 3_600_000} hours before to`);
  }
  if (from > now) return invalid("body.from", "must not be in the future");
  return { ok: true, value: { selection: { from, to, ...filter }, dryRun: dryRun ?? false } };
}
