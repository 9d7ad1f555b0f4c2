import { z } from "zod";

/**
 * Every message's `type` starts with it; the rest is the action, `discrepancy.<kind>` or
 * `operational.<kind>` (`.resolved` appended for an operational finding's resolution).
 */
export const CLOUD_EVENT_TYPE_PREFIX = "com.azure.acr.";

/**
 * The CloudEvents 1.0 JSON envelope of every topic message; the message id doubles as `id` (on a
 * replayed message, `id` is the original message id).
 * The schema is the envelope's one definition: the type below and the event catalog both derive
 * from it.
 */
export function cloudEventSchema<D extends z.ZodType>(data: D) {
  return z.object({
    specversion: z.literal("1.0"),
    id: z
      .string()
      .describe(
        "Stable per event occurrence; the Service Bus messageId too, except on a replayed message (replayed = 'true'), whose messageId is the replay job's own and whose originalMessageId property is this id.",
      ),
    source: z.string().describe("https://<registry login server>"),
    type: z
      .string()
      .describe(
        `${CLOUD_EVENT_TYPE_PREFIX}<action>, ${CLOUD_EVENT_TYPE_PREFIX}discrepancy.<kind> or ${CLOUD_EVENT_TYPE_PREFIX}operational.<kind>, .resolved appended for an operational finding's resolution`,
      ),
    subject: z
      .string()
      .min(1)
      .optional()
      .describe(
        "repository:tag, repository@digest without a tag, or repository alone; absent when the event names no repository (CloudEvents: a subject is never empty)",
      ),
    time: z
      .string()
      .describe("The registry's original timestamp, all fractional digits and offset kept."),
    datacontenttype: z.literal("application/json"),
    data,
  });
}

const anyData = z.record(z.string(), z.unknown());

export type CloudEvent = z.infer<ReturnType<typeof cloudEventSchema<typeof anyData>>>;
