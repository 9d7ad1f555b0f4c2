import { resolve } from "node:path";
import { disabledFunctions } from "./disabledFunctions";
import type { RegisteredFunction } from "./functionsCoreStandIn";
import { runHooks } from "./hooks";
import { createHostLog, type HostLog } from "./hostLog";
import { startHttpServer } from "./httpServer";
import { InFlight } from "./inFlight";
import { createInvoker } from "./invoke";
import { loadApp } from "./loadApp";
import { ServiceBusTriggers } from "./serviceBusTriggers";
import { applyLocalSettings } from "./settings";
import { Timers } from "./timers";

export interface FunctionsHostOptions {
  /** The directory with the app's package.json (whose `main` glob names the compiled files). */
  readonly appRoot: string;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0: a free port, reported back. */
  readonly port?: number;
  /** Run timer functions on their schedules; default true. /admin/functions/NAME works either way. */
  readonly timers?: boolean;
  /** Receive from the Service Bus entities of Service Bus triggers; default true. */
  readonly serviceBusTriggers?: boolean;
  /** Receives every log line (host, library and the functions' context.log); default console.log. */
  readonly log?: (line: string) => void;
  /** How long stop() waits for running invocations before closing connections; default 10 s. */
  readonly stopTimeoutMs?: number;
}

export interface FunctionsHost {
  /** e.g. http://127.0.0.1:7071 */
  readonly url: string;
  readonly port: number;
  readonly functions: readonly RegisteredFunction[];
  /** Stops timers and the server, waits for running invocations, runs appTerminate hooks. */
  stop(): Promise<void>;
}

/**
 * Serves an Azure Functions (Node.js v4 model) app the way `func start` does, without Core Tools:
 * local settings into process.env, the compiled files of package.json `main` loaded in this
 * process, HTTP routes, the Event Grid webhook, admin invocation, timers and Service Bus queue and
 * topic triggers (peek-lock, complete on success, abandon on failure). As with Core Tools,
 * function keys are not checked: an `authLevel` of function or admin is callable without a key.
 */
export async function startFunctionsHost(options: FunctionsHostOptions): Promise<FunctionsHost> {
  const log = createHostLog(options.log ?? ((line) => console.log(line)));
  const appRoot = resolve(options.appRoot);
  applyLocalSettings(appRoot);
  const app = await loadApp(appRoot, (level, message) => log(level, "Worker", message));
  const appHookData: Record<string, unknown> = {};
  // appStart and appTerminate hooks share a hookData of their own.
  const appLevelHookData: Record<string, unknown> = {};
  const terminate = async () => {
    try {
      await runHooks(app.hooks.appTerminate, { hookData: appLevelHookData, appHookData });
    } finally {
      app.unload();
    }
  };

  let started = false;
  try {
    const disabled = disabledFunctions(app.functions, process.env);
    const triggered = app.functions.filter((fn) => !disabled.has(fn));
    const timers = new Timers(app.functions, process.env);
    const serviceBus = new ServiceBusTriggers(triggered, process.env);
    logLimitations(triggered, log);
    for (const fn of disabled) log("information", "Host", `Function '${fn.name}' is disabled.`);
    await runHooks(app.hooks.appStart, {
      hookData: appLevelHookData,
      appHookData,
      functionAppDirectory: appRoot,
    });
    started = true;
    const inFlight = new InFlight();
    const invoke = createInvoker(app, appHookData, log, inFlight);
    const server = await startHttpServer({
      host: options.host ?? "127.0.0.1",
      port: options.port ?? 0,
      functions: app.functions,
      triggered,
      invoke,
      timers,
      inFlight,
      log,
    });
    if (options.timers ?? true) timers.start(invoke, disabled);
    if (options.serviceBusTriggers ?? true) {
      try {
        await serviceBus.start(invoke, log);
      } catch (error) {
        await serviceBus.close(LINKS_CLOSE_MS);
        await server.close(0);
        timers.stop();
        throw error;
      }
    }

    let stopped: Promise<void> | undefined;
    return {
      url: server.url,
      port: server.port,
      functions: app.functions,
      stop: () => {
        stopped ??= (async () => {
          timers.stop();
          // The HTTP side stops at once (connections the OS already queued are served); the
          // Service Bus receivers take no new message meanwhile, and close once the invocations
          // running are over, or are abandoned when Service Bus does not answer.
          const [received] = await Promise.all([
            serviceBus.stopReceiving(LINKS_CLOSE_MS),
            server.close(options.stopTimeoutMs ?? 10_000),
          ]);
          // Links that did not answer the stop will not answer the close either: not waited for.
          const closed = await serviceBus.close(received ? LINKS_CLOSE_MS : 0);
          if (!closed) {
            const seconds = LINKS_CLOSE_MS / 1000;
            log(
              "warning",
              "Host",
              `Service Bus did not answer within ${seconds} s; the triggers' links were abandoned`,
            );
          }
          await terminate();
        })();
        return stopped;
      },
    };
  } catch (error) {
    if (started) await terminate().catch(() => {});
    else app.unload();
    throw error;
  }
}

/** How long the Service Bus triggers' links may take to close at stop before they are abandoned. */
const LINKS_CLOSE_MS = 3_000;

const SERVED_TRIGGERS = new Set([
  "httptrigger",
  "eventgridtrigger",
  "timertrigger",
  "servicebustrigger",
]);

function logLimitations(functions: readonly RegisteredFunction[], log: HostLog): void {
  for (const fn of functions) {
    if (!SERVED_TRIGGERS.has(fn.triggerType.toLowerCase())) {
      log(
        "warning",
        "Host",
        `${fn.name}: nothing feeds ${fn.triggerType} locally; run it with POST /admin/functions/${fn.name}.`,
      );
    }
    const otherBindings = Object.entries(fn.metadata.bindings)
      .filter(
        ([name, binding]) =>
          name !== fn.triggerBindingName && !(name === "$return" && binding.type === "http"),
      )
      .map(([name, binding]) => `${name} (${binding.type})`);
    if (otherBindings.length > 0) {
      log(
        "warning",
        "Host",
        `${fn.name}: the local host provides no input/output bindings; ignored: ${otherBindings.join(", ")}.`,
      );
    }
  }
}
