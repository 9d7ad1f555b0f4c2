import { randomUUID } from "node:crypto";
import { odata } from "@azure/data-tables";
import { samplePayload } from "../../dev/samplePayloads";
import { type LocalStack, type LocalStackOptions, startLocalStack } from "./localStack";
import { eventTables } from "./records";
import { postWebhookJson } from "./webhookClient";

/**
 * What the fault, outage and race tests share: a stack of their own per test, on settings that
 * let a test drive the reconcile itself, and the records and messages of one registry.
 */

const TOPICS = ["acr-push", "acr-delete", "acr-chart-push", "acr-chart-delete", "acr-quarantine"];

/** Settings that let a test drive the reconcile itself, with a re-drive backoff of one second. */
const FAST_RECONCILE = {
  REDRIVE_BASE_DELAY_SECONDS: "1",
  REDRIVE_MAX_DELAY_SECONDS: "1",
  CROSSCHECK_WINDOW_SECONDS: "1",
  RECONCILE_SCHEDULE: "0 0 0 1 1 *",
};

let stack: LocalStack | undefined;

/** Starts the test's stack; `stopStack` (after each test) stops it. */
export async function start(options: LocalStackOptions): Promise<LocalStack> {
  stack = await startLocalStack({ ...options, env: { ...FAST_RECONCILE, ...options.env } });
  return stack;
}

export async function stopStack(): Promise<void> {
  await stack?.stop();
  stack = undefined;
}

/** A push of its own registry, so a test counts only what it sent. */
export function push(registry: string) {
  return samplePayload("push", {
    host: registry,
    repository: "team/api",
    tag: randomUUID().slice(0, 8),
  });
}

export async function post(
  s: LocalStack,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await postWebhookJson(s, body);
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

export async function records(s: LocalStack, registry: string): Promise<Record<string, unknown>[]> {
  const table = eventTables(s.tablesConnection);
  const found: Record<string, unknown>[] = [];
  const rows = table.scan<Record<string, unknown>>(odata`registry eq ${registry}`);
  for await (const row of rows) found.push(row);
  return found;
}

export function messagesOf(s: LocalStack, registry: string) {
  return TOPICS.flatMap((topic) => s.broker().messages(topic, "all")).filter(
    (m) => m.applicationProperties.registry === registry,
  );
}

export function uniqueRegistry(): string {
  return `myregistry.f${randomUUID().slice(0, 8)}.data.azurecr.io`;
}
