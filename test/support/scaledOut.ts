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
import { type StallingProxy, startStallingProxy } from "./stallingProxy";

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
  /**
   * This instance's Service Bus traffic arrives `ms` late from now on (0: on time), as with a
   * slow network path: each of its publishes takes that much longer, the other instances' do not.
   */
  delayServiceBus(ms: number): void;
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
    WEBHOOK_SECRETS: TEST_SECRET,
    ...options.env,
  };
  const instances: Instance[] = [];
  const proxies: StallingProxy[] = [];
  try {
    const count = options.instances ?? 2;
    for (let index = 0; index < count; index++) {
      // Each instance reaches the namespace through a proxy of its own, which can slow it alone.
      const proxy = await startStallingProxy(brokerPort);
      proxies.push(proxy);
      const connection = broker.connectionString.replace(`:${brokerPort};`, `:${proxy.port};`);
      const name = String.fromCharCode(65 + index);
      const instance = new Instance(name, { ...env, SERVICEBUS_CONNECTION: connection }, proxy);
      instances.push(instance);
      await instance.start(await freePort());
    }
  } catch (error) {
    await Promise.all(instances.map((instance) => instance.stop("SIGKILL")));
    await Promise.all(proxies.map((proxy) => proxy.stop()));
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
      await Promise.all(proxies.map((proxy) => proxy.stop()));
      await broker.stop();
      await azurite.stop();
    },
  };
}

class Instance implements BridgeInstance {
  private readonly lines: string[] = [];
  private host?: HostProcess;
  private port?: number;

  constructor(
    readonly name: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly serviceBus: StallingProxy,
  ) {}

  get url(): string {
    if (this.port === undefined) throw new Error(`instance ${this.name} was never started`);
    return `http://127.0.0.1:${this.port}`;
  }

  get webhookUrl(): string {
    return `${this.url}/api/acr/webhook`;
  }

  output(): string {
    return this.lines.join("");
  }

  /** Starts the process, on `port` the first time and on the same port after. */
  async start(port = this.port): Promise<void> {
    if (port === undefined) throw new Error(`instance ${this.name} needs a port`);
    this.port = port;
    const env = { ...this.env, PORT: String(port) };
    this.host = await startHostProcess(env, port, this.lines, APP_ROOT);
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.host) throw new Error(`instance ${this.name} is not running`);
    this.host.child.kill(signal);
  }

  delayServiceBus(ms: number): void {
    this.serviceBus.delay(ms);
  }

  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const host = this.host;
    this.host = undefined;
    await host?.stop(signal);
  }
}
