import { parseArgs } from "node:util";
import { ServiceBusClient } from "@azure/service-bus";
import { readLocalSettings } from "./host/settings";
import { onParentExit } from "./onParentExit";
import { SAMPLE_ACTIONS, type SampleAction, samplePayload } from "./samplePayloads";

const USAGE = `Usage:
  npm run send -- <${SAMPLE_ACTIONS.join("|")}> [--repo R] [--tag T] [--digest D] [--host LOGIN_SERVER]
                  [--registry LOGIN_SERVER] [--region REGION] [--count N] [--url URL]
      Posts a realistic ACR webhook payload to the local bridge (like 'az acr webhook ping'),
      authenticated with the first secret of WEBHOOK_SECRETS.
  npm run tail -- <topic> [--subscription all] [--count N]
      Prints messages arriving on a topic's subscription until Ctrl-C (or N messages).`;

const settings = readLocalSettings(process.cwd());

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
      count: { type: "string", default: "1" },
      url: { type: "string" },
    },
  });
  const action = positionals[0] as SampleAction;
  if (!SAMPLE_ACTIONS.includes(action))
    throw new UsageError(`unknown action '${positionals[0] ?? ""}'`);
  const url = new URL(
    values.url ?? `http://localhost:${process.env.PORT ?? "7071"}/api/acr/webhook`,
  );
  if (values.registry) url.searchParams.set("registry", values.registry);
  if (values.region) url.searchParams.set("region", values.region);
  const secret = (settings.WEBHOOK_SECRETS ?? "").split(",")[0]?.trim();
  if (!secret) throw new UsageError("WEBHOOK_SECRETS is not set");
  const header = settings.WEBHOOK_AUTH_HEADER || "Authorization";
  const credential = header.toLowerCase() === "authorization" ? `Bearer ${secret}` : secret;

  for (let index = 0; index < Number(values.count); index++) {
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
  const connection = settings.SERVICEBUS_CONNECTION;
  if (!connection) throw new UsageError("SERVICEBUS_CONNECTION is not set");
  const client = new ServiceBusClient(connection);
  const receiver = client.createReceiver(topic, values.subscription);
  const limit = values.count ? Number(values.count) : Number.POSITIVE_INFINITY;
  let received = 0;
  const close = async () => {
    await receiver.close();
    await client.close();
  };
  const stop = () => void close().then(() => process.exit(0));
  process.once("SIGINT", stop);
  // Orphaned, it would go on taking the subscription's messages where no one sees them.
  onParentExit(stop);
  console.error(`Waiting for messages on ${topic}/${values.subscription} (Ctrl-C to stop)...`);
  receiver.subscribe({
    processMessage: async (message) => {
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
      if (++received >= limit) await close();
    },
    processError: async ({ error }) => {
      console.error(`receive error: ${error.message}`);
    },
  });
}

class UsageError extends Error {}

const commands: Record<string, (args: string[]) => Promise<void>> = { send, tail };

async function main(): Promise<void> {
  const [command, ...args] = process.argv.slice(2);
  const run = command ? commands[command] : undefined;
  if (!run) throw new UsageError(`unknown command '${command ?? ""}'`);
  await run(args);
}

main().catch((error: unknown) => {
  console.error(error instanceof UsageError ? `${error.message}\n\n${USAGE}` : error);
  process.exit(error instanceof UsageError ? 2 : 1);
});
