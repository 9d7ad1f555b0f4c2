import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ADMIN_FUNCTIONS_PATH, handleAdminInvoke } from "./adminInvoke";
import { EVENT_GRID_WEBHOOK_PATH, handleEventGridDelivery } from "./eventGridWebhook";
import type { RegisteredFunction } from "./functionsCoreStandIn";
import type { HostLog } from "./hostLog";
import { writeError } from "./httpResponses";
import { HttpRouteTable } from "./httpRoutes";
import { httpTriggerData, writeHttpResult } from "./httpTrigger";
import type { InFlight } from "./inFlight";
import type { Invoke } from "./invoke";
import type { Timers } from "./timers";

export interface HostServerOptions {
  readonly host: string;
  readonly port: number;
  readonly functions: readonly RegisteredFunction[];
  readonly invoke: Invoke;
  readonly timers: Timers;
  readonly inFlight: InFlight;
  readonly log: HostLog;
}

export interface HostServer {
  readonly url: string;
  readonly port: number;
  /** Stops accepting requests, lets the running ones finish (at most `timeoutMs`), then closes. */
  close(timeoutMs: number): Promise<void>;
}

/**
 * The host's HTTP front: HTTP-trigger routes under /api, the Event Grid webhook and the admin
 * invocation endpoint. Function auth levels are not enforced: like Core Tools, every function is
 * callable without a key locally.
 */
export async function startHttpServer(options: HostServerOptions): Promise<HostServer> {
  const { functions, invoke, timers, inFlight, log } = options;
  const routes = new HttpRouteTable(functions);
  let stopping = false;
  let url = "";

  const dispatch = async (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const requestUrl = new URL(
      req.url ?? "/",
      req.headers.host ? `http://${req.headers.host}` : url,
    );
    const path = requestUrl.pathname.toLowerCase();

    if (path === EVENT_GRID_WEBHOOK_PATH) {
      const name = requestUrl.searchParams.get("functionName") ?? "";
      const fn = findFunction(functions, name, "eventGridTrigger");
      if (!fn) return notFound(res, `cannot find function: '${name}'`);
      return handleEventGridDelivery(req, res, body, fn, invoke, log);
    }

    if (path.startsWith(ADMIN_FUNCTIONS_PATH)) {
      const name = safeDecode(requestUrl.pathname.slice(ADMIN_FUNCTIONS_PATH.length));
      const fn = name === undefined ? undefined : findFunction(functions, name);
      if (!fn) return notFound(res, `No function named "${name}".`);
      if (req.method !== "POST") {
        return writeError(res, 405, "method_not_allowed", "Use POST.", { allow: "POST" });
      }
      return handleAdminInvoke(res, body, fn, invoke, timers);
    }

    const route = routes.match(req.method ?? "GET", requestUrl.pathname);
    if (route.kind === "none") {
      return notFound(res, `No function answers ${req.method} ${requestUrl.pathname}.`);
    }
    let result: Awaited<ReturnType<Invoke>>;
    try {
      result = await invoke(route.fn, {
        data: httpTriggerData(req, requestUrl.href, body, route.params),
        reason: "This function was programmatically called via the host APIs.",
      });
    } catch {
      // The invoker logged the error with its stack; the caller learns nothing more than the host tells.
      return writeError(
        res,
        500,
        "internal_error",
        `Exception while executing function: Functions.${route.fn.name}`,
      );
    }
    writeHttpResult(res, result);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    try {
      if (stopping) {
        return writeError(res, 503, "host_stopping", "The functions host is stopping.", {
          connection: "close",
        });
      }
      await dispatch(req, res, await readBody(req));
    } catch (error) {
      log("error", "Host", `${req.method} ${req.url} failed: ${(error as Error).stack ?? error}`);
      if (res.headersSent) res.destroy();
      else
        writeError(res, 500, "internal_error", "The functions host failed to handle the request.");
    }
  };

  const server = createServer((req, res) => {
    // Tracked until the response is gone, so that stop() can wait for it.
    void inFlight.track(Promise.all([handle(req, res), once(res, "close")]));
  });
  server.listen(options.port, options.host);
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  url = `http://${options.host.includes(":") ? `[${options.host}]` : options.host}:${port}`;

  return {
    url,
    port,
    close: async (timeoutMs) => {
      stopping = true;
      const closed = new Promise((resolve) => server.close(resolve));
      if (await inFlight.drain(timeoutMs)) {
        server.closeIdleConnections();
      } else {
        log("warning", "Host", `Stopped waiting for running invocations after ${timeoutMs} ms.`);
        server.closeAllConnections();
      }
      await closed;
    },
  };
}

function findFunction(
  functions: readonly RegisteredFunction[],
  name: string,
  triggerType?: string,
): RegisteredFunction | undefined {
  return functions.find(
    (fn) =>
      fn.name.toLowerCase() === name.toLowerCase() &&
      (triggerType === undefined || fn.triggerType.toLowerCase() === triggerType.toLowerCase()),
  );
}

function notFound(res: ServerResponse, message: string): void {
  writeError(res, 404, "not_found", message);
}

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
