import { parseArgs } from "node:util";
import { startLocalServiceBus } from "./broker";
import { localCertificatePath } from "./localCertificate";
import { defaultTopology, loadTopology } from "./topology";

const usage =
  "usage: node dist/dev/servicebus/main.js [--port 5672] [--config path/to/Config.json]";

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: "5672" },
      config: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new Error(`--port must be 0-65535, got "${values.port}"\n${usage}`);
  const topology = values.config === undefined ? defaultTopology() : loadTopology(values.config);

  const bus = await startLocalServiceBus({ port, topology, log: (line) => console.log(line) });
  console.log(`topics: ${topology.topics.map((topic) => topic.name).join(", ") || "(none)"}`);
  console.log(`connection string: ${bus.connectionString}`);
  console.log(
    `administration (HTTPS/ATOM, same port) certificate: ${localCertificatePath(bus.port)} (NODE_EXTRA_CA_CERTS)`,
  );

  const shutdown = (signal: string) => {
    console.log(`${signal}: stopping the local Service Bus`);
    bus.stop().then(
      () => process.exit(0),
      (error: Error) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
