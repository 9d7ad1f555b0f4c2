import { resolve } from "node:path";
import type { RegisteredFunction } from "./functionsCoreStandIn";
import { type FunctionsHost, startFunctionsHost } from "./functionsHost";
import { routePath } from "./httpRoutes";
import { applyLocalSettings } from "./settings";

export type { RegisteredFunction } from "./functionsCoreStandIn";
export { type FunctionsHost, type FunctionsHostOptions, startFunctionsHost } from "./functionsHost";
export { applyLocalSettings, readLocalSettings } from "./settings";

const DEFAULT_PORT = 7071;

/** `node dist/dev/host/main.js [appRoot]`: serves the app in appRoot (default: the working directory). */
async function main(): Promise<void> {
  const appRoot = resolve(process.argv[2] ?? process.cwd());
  applyLocalSettings(appRoot);
  const port = Number(process.env.PORT ?? DEFAULT_PORT);
  const host = await startFunctionsHost({ appRoot, port });

  console.log("\nFunctions:\n");
  for (const fn of host.functions) console.log(`        ${describe(fn, host)}\n`);
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

function describe(fn: RegisteredFunction, host: FunctionsHost): string {
  switch (fn.triggerType.toLowerCase()) {
    case "httptrigger": {
      const methods = fn.methods?.length ? fn.methods.join(",") : "ALL";
      return `${fn.name}: [${methods}] ${host.url}${routePath(fn)}`;
    }
    case "eventgridtrigger":
      return `${fn.name}: eventGridTrigger, POST ${host.url}/runtime/webhooks/EventGrid?functionName=${encodeURIComponent(fn.name)}`;
    case "timertrigger":
      return `${fn.name}: timerTrigger (${fn.schedule})`;
    default:
      return `${fn.name}: ${fn.triggerType}`;
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
