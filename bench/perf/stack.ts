import { resolve } from "node:path";
import { TableClient } from "@azure/data-tables";
import { type LocalAzurite, startAzurite } from "../../dev/azurite";
import { freePort } from "../../dev/freePort";
import { type LocalServiceBus, startLocalServiceBus } from "../../dev/servicebus/broker";
import { defaultTopology } from "../../dev/servicebus/topology";
import { NAIVE_TABLE } from "../naive/naiveLayout";
import { APP_ROOT, type HostProcess, spawnHost, startHost } from "../support/hostProcess";
import { BENCH_SECRET } from "../support/webhookLoad";
import { type CountingTableProxy, startCountingTableProxy } from "./countingTableProxy";

export type AppName = "bridge" | "naive";

const APP_ROOTS: Record<AppName, string> = {
  bridge: APP_ROOT,
  naive: resolve(APP_ROOT, "bench", "naive"),
};

/**
 * The bridge's timer functions, disabled as on Azure (`AzureWebJobs.<name>.Disabled`): what they
 * read and write in the background would be counted as the deliveries' work. The bench runs the
 * reconcile by hand (`POST /admin/functions/reconcile`), which a disabled function still allows.
 */
const TIMERS_OFF = Object.fromEntries(
  ["reconcile", "sourceWatch", "replayRunner", "backfill", "webhookHealth"].map((name) => [
    `AzureWebJobs.${name}.Disabled`,
    "true",
  ]),
);

export interface AppOptions {
  /** Through the counting proxy, to count Table Storage round trips. */
  counted?: boolean;
  /** Another Azurite than the stack's (the reconcile phase's own, or an empty one). */
  tables?: LocalAzurite;
  /** Settings over the bench defaults. */
  env?: Record<string, string>;
}

export interface RunningApp {
  readonly name: AppName;
  /** e.g. http://127.0.0.1:PORT */
  readonly baseUrl: string;
  readonly webhookUrl: string;
  readonly host: HostProcess;
  /** The Azurite process the host's tables are on. */
  readonly tablesPid: number | undefined;
  stop(): Promise<void>;
}

export interface BenchStack {
  readonly azurite: LocalAzurite;
  readonly broker: LocalServiceBus;
  readonly proxy: CountingTableProxy;
  /** Starts the host for `app` and waits until it listens. */
  startApp(app: AppName, options?: AppOptions): Promise<RunningApp>;
  /**
   * Starts the host for `app` on an Azurite of its own, empty, stopped with it: a run at a rate
   * then starts from the state the peak was measured from, not on what earlier phases left.
   */
  startAppOnEmptyTables(app: AppName): Promise<RunningApp>;
  /** Spawns the host for `app` and returns at once (for cold starts). */
  spawnApp(app: AppName, options?: AppOptions): Promise<RunningApp>;
  stop(): Promise<void>;
  /** SIGKILLs every host still running, synchronously: the last resort when the bench exits. */
  killHosts(): void;
}

/**
 * One Azurite (in memory), the counting proxy in front of it and the local Service Bus (in this
 * process), all on free loopback ports; hosts for the bridge and the naive bridge on demand.
 */
export async function startBenchStack(): Promise<BenchStack> {
  const azurite = await startAzurite();
  const broker = await startLocalServiceBus({ topology: defaultTopology() });
  const proxy = await startCountingTableProxy(azurite.connectionString);
  await createNaiveTable(azurite.connectionString);
  const running = new Set<RunningApp>();

  const prepare = async (options: AppOptions) => {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: String(port),
      TABLES_CONNECTION:
        options.tables?.connectionString ??
        (options.counted ? proxy.connectionString : azurite.connectionString),
      SERVICEBUS_CONNECTION: broker.connectionString,
      WEBHOOK_SECRETS: BENCH_SECRET,
      WEBHOOK_AUTH_HEADER: "Authorization",
      ...TIMERS_OFF,
      APPLICATIONINSIGHTS_CONNECTION_STRING: "",
      ...options.env,
    };
    return { port, env };
  };
  const track = (
    app: AppName,
    port: number,
    host: HostProcess,
    options: AppOptions,
  ): RunningApp => {
    const baseUrl = `http://127.0.0.1:${port}`;
    const runningApp: RunningApp = {
      name: app,
      baseUrl,
      webhookUrl: `${baseUrl}/api/acr/webhook`,
      host,
      tablesPid: (options.tables ?? azurite).pid,
      stop: async () => {
        running.delete(runningApp);
        await host.stop();
      },
    };
    running.add(runningApp);
    return runningApp;
  };

  const startApp = async (app: AppName, options: AppOptions = {}) => {
    const { port, env } = await prepare(options);
    return track(app, port, await startHost(APP_ROOTS[app], env, port), options);
  };

  return {
    azurite,
    broker,
    proxy,
    startApp,
    startAppOnEmptyTables: async (app) => {
      const tables = await startAzurite();
      try {
        if (app === "naive") await createNaiveTable(tables.connectionString);
        const running = await startApp(app, { tables });
        return {
          ...running,
          stop: async () => {
            await running.stop();
            await tables.stop();
          },
        };
      } catch (error) {
        await tables.stop();
        throw error;
      }
    },
    spawnApp: async (app, options = {}) => {
      const { port, env } = await prepare(options);
      return track(app, port, spawnHost(APP_ROOTS[app], env), options);
    },
    killHosts: () => {
      for (const app of running) {
        const { child } = app.host;
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      }
    },
    stop: async () => {
      await Promise.all([...running].map((app) => app.stop()));
      await proxy.stop();
      await broker.stop();
      await azurite.stop();
    },
  };
}

/** The naive bridge writes to a table it expects to exist. */
async function createNaiveTable(connectionString: string): Promise<void> {
  await TableClient.fromConnectionString(connectionString, NAIVE_TABLE, {
    allowInsecureConnection: true,
  }).createTable();
}
