import { z } from "zod";
import { cloudEventSchema } from "../core/cloudEvent";
import type { CatalogExample } from "./catalogExamples";

/** One kind of message: its stable CloudEvents type, where it goes, what it holds. */
export interface CatalogMessage {
  /** The CloudEvents `type`, a stable name; also the message's name in the catalog. */
  type: string;
  topic: string;
  title: string;
  description: string;
  payload: z.ZodType;
  properties: z.ZodType;
  /** The properties schema's name in the catalog, shared by the messages with the same properties. */
  propertiesName: string;
  examples: CatalogExample[];
}

/** What `subject` and `time` hold where they are not an ACR event's. */
export interface EnvelopeNotes {
  subject: string;
  time: string;
}

/** The CloudEvents envelope of one message type, around its `data`. */
export function envelope(type: string, data: z.ZodType, notes?: EnvelopeNotes) {
  const schema = cloudEventSchema(data).extend({ type: z.literal(type) });
  if (!notes) return schema;
  return schema.extend({
    subject: z.string().min(1).optional().describe(notes.subject),
    time: z.string().describe(notes.time),
  });
}
