import { resolve } from "node:path";
import { describeFunction } from "./describeFunction";
import { startFunctionsHost } from "./functionsHost";
import { applyLocalSettings, localPort } from "./settings";

export type { RegisteredFunction } from "./functionsCoreStandIn";
export { type FunctionsHost, type FunctionsHostOptions, startFunctionsHost } from "./functionsHost";
export { applyLocalSettings, readLocalSettings } from "./settings";

/** `node dist/dev/host/main.js [appRoot]`: serves the app in appRoot (default: the working directory). */
async function main(): Promise<void> {
  const appRoot = resolve(process.argv[2] ?? process.cwd());
  applyLocalSettings(appRoot);
  const port = localPort();
  const host = await startFunctionsHost({ appRoot, port });

  console.log("\nFunctions:\n");
  for (const fn of host.functions) console.log(`        ${describeFunction(fn, host)}\n`);
  console.log(`Host listening on ${host.url}. Press Ctrl+C to stop.`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
    console.log(`${signal}: stopping the host (again to force)...`);
    host.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
