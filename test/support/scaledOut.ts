import { startAzurite } from "../../dev/azurite";
import { freePort } from "../../dev/freePort";
import { type LocalServiceBus, startLocalServiceBus } from "../../dev/servicebus/broker";
import { defaultTopology } from "../../dev/servicebus/topology";
import {
  APP_ROOT,
  type HostProcess,
  type LocalStack,
  startHostProcess,
  TEST_SECRET,
} from "./localStack";

/**
 * One instance of a scaled-out bridge: its own host process (its own group commit queues, lazy
 * marks, registry set and Service Bus links), reached on its own port. It has what the HTTP
 * helpers (`deliverWebhook`, `postEventGrid`, `runReconcile`) need of a stack.
 */
export interface BridgeInstance extends Pick<LocalStack, "url" | "webhookUrl" | "output"> {
  readonly name: string;
  /** Stops this instance's process (SIGTERM: graceful, SIGKILL: a crash); the others go on. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts this instance again with the same settings and port. */
  start(): Promise<void>;
  /**
   * Sends a signal to the running process without waiting for anything: SIGSTOP freezes it with
   * whatever it holds in memory (a long pause, as a starved instance has), SIGCONT lets it go on.
   */
  signal(signal: NodeJS.Signals): void;
}

/** The bridge as Flex Consumption scales it out: several instances, one storage account, one namespace. */
export interface ScaledOutBridge {
  readonly instances: readonly BridgeInstance[];
  readonly tablesConnection: string;
  broker(): LocalServiceBus;
  /** Restarts the namespace on its port: the topics come back empty, as after an outage. */
  stopBroker(): Promise<void>;
  startBroker(): Promise<void>;
  stop(): Promise<void>;
}

export interface ScaledOutOptions {
  /** How many host processes; 2 unless said. */
  instances?: number;
  /** Settings of every instance, over the test defaults. */
  env?: Record<string, string>;
  /**
   * Turns Service Bus duplicate detection off, so a test sees every message the instances send,
   * including a second send of one message id that Azure would silently drop.
   */
  withoutDuplicateDetection?: boolean;
}

/**
 * Starts `instances` local hosts, each in its own process on its own port, on one Azurite and one
 * local Service Bus of their own: what users get once the platform runs the app on several
 * instances. The Azurite is not the shared one, so a reconcile run sees this bridge's open items
 * only (and closes no other test file's windows onto this broker).
 */
export async function startScaledOut(options: ScaledOutOptions = {}): Promise<ScaledOutBridge> {
  const azurite = await startAzurite();
  const tablesConnection = azurite.connectionString;
  const topology = defaultTopology();
  if (options.withoutDuplicateDetection) {
    for (const topic of topology.topics) topic.duplicateDetectionWindowMs = undefined;
  }
  let broker: LocalServiceBus;
  try {
    broker = await startLocalServiceBus({ topology });
  } catch (error) {
    await azurite.stop();
    throw error;
  }
  const brokerPort = broker.port;
  const env = {
    ...process.env,
    TABLES_CONNECTION: tablesConnection,
    SERVICEBUS_CONNECTION: broker.connectionString,
    WEBHOOK_SECRETS: TEST_SECRET,
    ...options.env,
  };
  const instances: Instance[] = [];
  try {
    const count = options.instances ?? 2;
    for (let index = 0; index < count; index++) {
      const instance = new Instance(String.fromCharCode(65 + index), env, await freePort());
      instances.push(instance);
      await instance.start();
    }
  } catch (error) {
    await Promise.all(instances.map((instance) => instance.stop("SIGKILL")));
    await broker.stop();
    await azurite.stop();
    throw error;
  }
  return {
    instances,
    tablesConnection,
    broker: () => broker,
    stopBroker: () => broker.stop(),
    startBroker: async () => {
      broker = await startLocalServiceBus({ topology, port: brokerPort });
    },
    stop: async () => {
      await Promise.all(instances.map((instance) => instance.stop("SIGTERM")));
      await broker.stop();
      await azurite.stop();
    },
  };
}

class Instance implements BridgeInstance {
  readonly url: string;
  readonly webhookUrl: string;
  private readonly lines: string[] = [];
  private host?: HostProcess;

  constructor(
    readonly name: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly port: number,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    this.webhookUrl = `${this.url}/api/acr/webhook`;
  }

  output(): string {
    return this.lines.join("");
  }

  async start(): Promise<void> {
    const env = { ...this.env, PORT: String(this.port) };
    this.host = await startHostProcess(env, this.port, this.lines, APP_ROOT);
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.host) throw new Error(`instance ${this.name} is not running`);
    this.host.child.kill(signal);
  }

  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const host = this.host;
    this.host = undefined;
    await host?.stop(signal);
  }
}
