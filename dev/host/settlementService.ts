import { dirname } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

/** What a message settled by the function (SDK binding) asks of the host. */
export type SettlementRequest =
  | { action: "complete" }
  | { action: "abandon" }
  | { action: "deadLetter"; reason?: string; description?: string };

/** Settles one locked message; rejects when the lock is unknown or lost. */
export type Settle = (request: SettlementRequest) => Promise<void>;

const INSTANCE_KEY = Symbol.for("acr-event-bridge/settlement-service");
const MAX_MESSAGE_LENGTH = 2 ** 31 - 1;

/**
 * The host's gRPC `Settlement` service, which `@azure/functions-extensions-servicebus` calls when a
 * function with `sdkBinding: true` completes, abandons or dead-letters its message. The worker
 * learns the address from its command line (`--host`, `--port`,
 * `--functions-grpc-max-message-length`), as the real host starts it; here the arguments are
 * added to this process's own, once. One service per process (the extension keeps one client),
 * shared by every local host in it: each registers the lock tokens it hands out.
 */
export class SettlementService {
  readonly #locks = new Map<string, Settle>();

  private constructor(readonly port: number) {}

  /** Starts the service on a free loopback port, once per process. */
  static async shared(): Promise<SettlementService> {
    const globals = globalThis as { [INSTANCE_KEY]?: Promise<SettlementService> };
    globals[INSTANCE_KEY] ??= SettlementService.#start();
    return globals[INSTANCE_KEY];
  }

  /** Lets the function settle the message of `lockToken` until `release` is called. */
  register(lockToken: string, settle: Settle): { release(): void } {
    this.#locks.set(lockToken, settle);
    return { release: () => this.#locks.delete(lockToken) };
  }

  static async #start(): Promise<SettlementService> {
    const protoPath = require.resolve(
      "@azure/functions-extensions-servicebus/dist/proto/settlement.proto",
    );
    const definition = protoLoader.loadSync(protoPath, {
      keepCase: false,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
      includeDirs: [dirname(protoPath)],
    });
    const proto = grpc.loadPackageDefinition(definition) as unknown as {
      Settlement: grpc.ServiceClientConstructor;
    };
    const server = new grpc.Server();
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    const service = new SettlementService(port);
    server.addService(proto.Settlement.service, service.#handlers());
    // The service lives as long as the process, like the host's; it must not keep it alive.
    unrefServer(server);
    process.argv.push(
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--functions-grpc-max-message-length",
      String(MAX_MESSAGE_LENGTH),
    );
    return service;
  }

  #handlers(): grpc.UntypedServiceImplementation {
    const handle =
      (
        toRequest: (call: Record<string, unknown>) => SettlementRequest,
      ): grpc.handleUnaryCall<Record<string, unknown>, Record<string, never>> =>
      (call, callback) => {
        const lockToken = String(call.request.locktoken ?? "");
        const settle = this.#locks.get(lockToken);
        if (!settle) {
          callback({
            code: grpc.status.NOT_FOUND,
            details: `no message is locked with token ${lockToken}`,
          });
          return;
        }
        settle(toRequest(call.request)).then(
          () => callback(null, {}),
          (error: unknown) =>
            callback({
              code: grpc.status.FAILED_PRECONDITION,
              details: error instanceof Error ? error.message : String(error),
            }),
        );
      };
    const notSupported: grpc.handleUnaryCall<unknown, unknown> = (_call, callback) =>
      callback({
        code: grpc.status.UNIMPLEMENTED,
        details: "not supported by the local host (no deferral, no sessions)",
      });
    return {
      Complete: handle(() => ({ action: "complete" })),
      Abandon: handle(() => ({ action: "abandon" })),
      Deadletter: handle((request) => ({
        action: "deadLetter",
        reason: stringValue(request.deadletterReason),
        description: stringValue(request.deadletterErrorDescription),
      })),
      Defer: notSupported,
      RenewMessageLock: notSupported,
      GetSessionState: notSupported,
      SetSessionState: notSupported,
      ReleaseSession: notSupported,
      RenewSessionLock: notSupported,
    };
  }
}

/** `google.protobuf.StringValue`, which the extension fills with a plain string or `{ value }`. */
function stringValue(field: unknown): string | undefined {
  if (typeof field === "string") return field;
  if (typeof field === "object" && field !== null && "value" in field) {
    return typeof field.value === "string" ? field.value : undefined;
  }
  return undefined;
}

function unrefServer(server: grpc.Server): void {
  // grpc-js keeps its listening sockets in an internal map; unref them so an idle service lets
  // the process exit.
  const internals = server as unknown as {
    http2Servers?: Map<{ unref?: () => void }, unknown>;
  };
  for (const listener of internals.http2Servers?.keys() ?? []) listener.unref?.();
}
