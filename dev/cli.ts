import { parseArgs } from "node:util";
import { isServiceBusError } from "@azure/service-bus";
import { createServiceBusClient } from "../src/adapters/clients";
import {
  ConfigError,
  loadPublishTimeoutMs,
  loadServiceBusConnection,
  wholeNumberUpTo,
} from "../src/config";
import { bridgeUnreachable } from "./bridgeUnreachable";
import { applyLocalSettings, localPort } from "./host/settings";
import { onParentExit } from "./onParentExit";
import { SAMPLE_ACTIONS, type SampleAction, samplePayload } from "./samplePayloads";

const USAGE = `Usage:
  npm run send -- <${SAMPLE_ACTIONS.join("|")}> [--repo R] [--tag T] [--digest D] [--host LOGIN_SERVER]
                  [--registry LOGIN_SERVER] [--region REGION] [--count N] [--url WEBHOOK_URL]
      Posts a realistic ACR webhook payload to the local bridge (like 'az acr webhook ping'),
      authenticated with the first secret of WEBHOOK_SECRETS.
      --url   the webhook's whole URL, default http://127.0.0.1:$PORT/api/acr/webhook
  npm run tail -- <topic> [--subscription all] [--count N]
      Prints messages arriving on a topic's subscription until Ctrl-C (or N messages).`;

/** A mistake on the command line: said with the usage, exit code 2. */
class UsageError extends Error {}

/** A command that could not do its work, said in one line (no stack trace), exit code 1. */
class CommandFailed extends Error {}

/** The most messages one `--count` sends or waits for. */
const MAX_COUNT = 100_000;
const countOption = wholeNumberUpTo(MAX_COUNT);

/** `--count N`, or `fallback` without it. */
function readCount(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const count = countOption.safeParse(text);
  if (!count.success) throw new UsageError(`--count ${count.error.issues[0]?.message}`);
  return count.data;
}

async function send(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      repo: { type: "string" },
      tag: { type: "string" },
      digest: { type: "string" },
      host: { type: "string" },
      registry: { type: "string" },
      region: { type: "string" },
      count: { type: "string" },
      url: { type: "string" },
    },
  });
  const action = positionals[0] as SampleAction;
  if (!SAMPLE_ACTIONS.includes(action))
    throw new UsageError(`unknown action '${positionals[0] ?? ""}'`);
  const count = readCount(values.count, 1);
  const url = new URL(values.url ?? `http://127.0.0.1:${localPort()}/api/acr/webhook`);
  if (values.registry) url.searchParams.set("registry", values.registry);
  if (values.region) url.searchParams.set("region", values.region);
  const secret = (process.env.WEBHOOK_SECRETS ?? "").split(",")[0]?.trim();
  if (!secret) throw new UsageError("WEBHOOK_SECRETS is not set");
  const header = process.env.WEBHOOK_AUTH_HEADER || "Authorization";
  const credential = header.toLowerCase() === "authorization" ? `Bearer ${secret}` : secret;

  for (let index = 0; index < count; index++) {
    const payload = samplePayload(action, {
      repository: values.repo,
      tag: values.tag,
      digest: values.digest,
      host: values.host,
    });
    const started = performance.now();
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", [header]: credential },
      body: JSON.stringify(payload),
    }).catch((error: unknown) => {
      throw new CommandFailed(bridgeUnreachable(url, error));
    });
    const elapsed = (performance.now() - started).toFixed(1);
    console.log(`${response.status} in ${elapsed} ms  ${await response.text()}`);
    if (!response.ok) process.exitCode = 1;
  }
}

async function tail(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { subscription: { type: "string", default: "all" }, count: { type: "string" } },
  });
  const topic = positionals[0];
  if (!topic) throw new UsageError("name a topic, e.g. acr-push");
  const limit = readCount(values.count, Number.POSITIVE_INFINITY);
  const entity = `${topic}/${values.subscription}`;
  const client = createServiceBusClient(
    loadServiceBusConnection(process.env),
    loadPublishTimeoutMs(process.env),
  );
  const receiver = client.createReceiver(topic, values.subscription);
  let received = 0;
  await new Promise<void>((resolve, reject) => {
    let closing = false;
    /** Closes the receiver once; what it reports from then on is its own closing, not news. */
    const stop = (failure?: CommandFailed) => {
      if (closing) return;
      closing = true;
      void receiver
        .close()
        .then(() => client.close())
        .finally(() => (failure ? reject(failure) : resolve()));
    };
    process.once("SIGINT", () => stop());
    // Orphaned, it would go on taking the subscription's messages where no one sees them.
    onParentExit(() => stop());
    console.error(`Waiting for messages on ${entity} (Ctrl-C to stop)...`);
    receiver.subscribe({
      processMessage: async (message) => {
        if (closing) return;
        console.log(
          JSON.stringify(
            {
              messageId: message.messageId,
              subject: message.subject,
              contentType: message.contentType,
              applicationProperties: message.applicationProperties,
              body: message.body,
            },
            null,
            2,
          ),
        );
        if (++received >= limit) stop();
      },
      processError: async ({ error }) => {
        if (closing) return;
        if (isServiceBusError(error) && error.code === "MessagingEntityNotFound") {
          stop(new CommandFailed(`no such topic or subscription: ${entity}`));
          return;
        }
        console.error(`receive error: ${error.message}`);
      },
    });
  });
}

const commands: Record<string, (args: string[]) => Promise<void>> = { send, tail };

async function main(): Promise<void> {
  // The settings as `npm start` resolves them: the environment, then local.settings.json, then
  // local.settings.sample.json (npm runs scripts in the package's folder).
  applyLocalSettings(process.cwd());
  const [command, ...args] = process.argv.slice(2);
  const run = command ? commands[command] : undefined;
  if (!run) throw new UsageError(`unknown command '${command ?? ""}'`);
  await run(args);
}

/** parseArgs' own errors (an unknown option, a missing value) are usage errors too. */
function isUsageError(error: unknown): boolean {
  return (
    error instanceof UsageError ||
    String((error as { code?: unknown })?.code ?? "").startsWith("ERR_PARSE_ARGS")
  );
}

main().catch((error: unknown) => {
  if (isUsageError(error)) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  const explained = error instanceof CommandFailed || error instanceof ConfigError;
  console.error(explained ? error.message : error);
  process.exit(1);
});
