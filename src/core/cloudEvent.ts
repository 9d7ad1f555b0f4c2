import { z } from "zod";

/** Every message's `type` starts with it; the rest is the action or `discrepancy.<kind>`. */
export const CLOUD_EVENT_TYPE_PREFIX = "com.azure.acr.";

/**
 * The CloudEvents 1.0 JSON envelope of every topic message; the message id doubles as `id`.
 * The schema is the envelope's one definition: the type below and the event catalog both derive
 * from it.
 */
export function cloudEventSchema<D extends z.ZodType>(data: D) {
  return z.object({
    specversion: z.literal("1.0"),
    id: z.string().describe("The Service Bus messageId: stable per event occurrence."),
    source: z.string().describe("https://<registry login server>"),
    type: z
      .string()
      .describe(
        `${CLOUD_EVENT_TYPE_PREFIX}<action> or ${CLOUD_EVENT_TYPE_PREFIX}discrepancy.<kind>`,
      ),
    subject: z
      .string()
      .describe("repository:tag, repository@digest without a tag, or repository alone"),
    time: z
      .string()
      .describe("The registry's original timestamp, all fractional digits and offset kept."),
    datacontenttype: z.literal("application/json"),
    data,
  });
}

const anyData = z.record(z.string(), z.unknown());

export type CloudEvent = z.infer<ReturnType<typeof cloudEventSchema<typeof anyData>>>;
