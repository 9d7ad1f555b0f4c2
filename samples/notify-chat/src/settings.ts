import { z } from "zod";
import type { ChatFormat } from "./releaseNotice";

export interface NotifySettings {
  webhookUrl: string;
  format: ChatFormat;
  includeSignatures: boolean;
  includeReplays: boolean;
  timeoutMs: number;
  maxHoldMs: number;
}

const loopback = (url: URL) => ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);

const flag = () =>
  z
    .enum(["true", "false"], { error: "must be true or false" })
    .default("false")
    .transform((value) => value === "true");

const schema = z.object({
  CHAT_WEBHOOK_URL: z.url({ error: "must be the chat's incoming webhook URL" }).refine((value) => {
    const url = new URL(value);
    return url.protocol === "https:" || (url.protocol === "http:" && loopback(url));
  }, "must be https (http only on loopback, for local tests)"),
  CHAT_FORMAT: z.enum(["teams", "slack"], { error: "must be teams or slack" }).default("teams"),
  NOTIFY_SIGNATURES: flag(),
  NOTIFY_REPLAYS: flag(),
  CHAT_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5000),
  CHAT_MAX_HOLD_MS: z.coerce.number().int().min(0).max(50_000).default(20_000),
});

/** Reads the settings once; a bad one stops the app with its name (never its value: the URL is a secret). */
export function loadSettings(env: NodeJS.ProcessEnv): NotifySettings {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")} ${issue.message}`);
    throw new Error(`notify-chat settings: ${problems.join("; ")}`);
  }
  const values = parsed.data;
  return {
    webhookUrl: values.CHAT_WEBHOOK_URL,
    format: values.CHAT_FORMAT,
    includeSignatures: values.NOTIFY_SIGNATURES,
    includeReplays: values.NOTIFY_REPLAYS,
    timeoutMs: values.CHAT_TIMEOUT_MS,
    maxHoldMs: values.CHAT_MAX_HOLD_MS,
  };
}
