import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse, STATUS_CODES } from "node:http";
import { type AddressInfo, Server as NetServer, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { acceptQueueLength } from "./acceptQueue";
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
  /** Every function: each can be run by name at /admin/functions. */
  readonly functions: readonly RegisteredFunction[];
  /** Those that answer HTTP and Event Grid requests (all but the disabled ones). */
  readonly triggered: readonly RegisteredFunction[];
  readonly invoke: Invoke;
  readonly timers: Timers;
  readonly inFlight: InFlight;
  readonly log: HostLog;
}

export interface HostServer {
  readonly url: string;
  readonly port: number;
  /**
   * Stops accepting connections, serves the requests already sent on open ones and lets the
   * running ones finish (at most `timeoutMs` in all), then closes.
   */
  close(timeoutMs: number): Promise<void>;
}

/**
 * How long a stop keeps accepting the connections the OS queued before it, and waits for the
 * first request of those accepted just before it.
 */
const STOP_GRACE_MS = 1000;

/**
 * The host's HTTP front: HTTP-trigger routes under /api, the Event Grid webhook and the admin
 * invocation endpoint. Function auth levels are not enforced: like Core Tools, every function is
 * callable without a key locally.
 */
export async function startHttpServer(options: HostServerOptions): Promise<HostServer> {
  const { functions, triggered, invoke, timers, inFlight, log } = options;
  const routes = new HttpRouteTable(triggered);
  let stopping = false;
  let url = "";

  const dispatch = async (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const requestUrl = requestUrlOf(req, url);
    if (!requestUrl) {
      return writeError(
        res,
        400,
        "bad_request",
        "The request target and Host header make no valid URL without credentials.",
      );
    }
    const path = requestUrl.pathname.toLowerCase();

    if (path === EVENT_GRID_WEBHOOK_PATH) {
      const name = requestUrl.searchParams.get("functionName") ?? "";
      const fn = findFunction(triggered, name, "eventGridTrigger");
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
      // A request on a connection accepted before the stop was sent before it, or as it began: it
      // is served (a webhook sender does not retry), and the connection serves nothing more.
      if (stopping) res.setHeader("connection", "close");
      await dispatch(req, res, await readBody(req));
    } catch (error) {
      // The path only: the query may carry a function key (`?code=`) or an endpoint secret.
      const path = (req.url ?? "").split("?")[0];
      if (req.destroyed && !req.complete) {
        // The client went away before its body was complete: nothing to answer, nothing failed.
        log("warning", "Host", `${req.method} ${path}: the client closed the request early.`);
        res.destroy();
        return;
      }
      log("error", "Host", `${req.method} ${path} failed: ${(error as Error).stack ?? error}`);
      if (res.headersSent) res.destroy();
      else
        writeError(res, 500, "internal_error", "The functions host failed to handle the request.");
    }
  };

  // Connections accepted so far, and those whose first request has not been read yet.
  let accepted = 0;
  const awaitingFirstRequest = new Set<Socket>();
  const server = createServer((req, res) => {
    awaitingFirstRequest.delete(req.socket);
    // Tracked until the response is gone, so that stop() can wait for it.
    void inFlight.track(Promise.all([handle(req, res), once(res, "close")]));
  });
  server.on("clientError", answerClientError);
  server.on("connection", (socket: Socket) => {
    accepted++;
    awaitingFirstRequest.add(socket);
    socket.once("close", () => awaitingFirstRequest.delete(socket));
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
      const deadline = Date.now() + timeoutMs;
      const graceEnd = Math.min(deadline, Date.now() + STOP_GRACE_MS);
      // Connections the OS completed before the stop, requests sent, wait in its accept queue:
      // closing the listener would reset them. Accept those first (Node takes one per turn of the
      // event loop), then refuse new ones.
      const queuedBefore = accepted + acceptQueueLength(port);
      while (accepted < queuedBefore && Date.now() < graceEnd) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      // Then stop accepting, only: http.Server#close would also destroy the idle connections, and
      // one whose request is not read yet counts as idle: that request, already sent, would be
      // reset. Those get a moment to deliver it.
      const closed = new Promise((resolve) => NetServer.prototype.close.call(server, resolve));
      while (awaitingFirstRequest.size > 0 && Date.now() < graceEnd) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      if (await inFlight.drain(Math.max(0, deadline - Date.now()))) {
        server.closeIdleConnections();
      } else {
        log("warning", "Host", `Stopped waiting for running invocations after ${timeoutMs} ms.`);
        server.closeAllConnections();
      }
      await closed;
      // Now that nothing is left to reset, http.Server#close releases the rest (its timeout checks).
      server.close();
    },
  };
}

/** How long a connection refused for bytes Node cannot parse may still take to read its answer. */
const REFUSED_LINGER_MS = 2000;
const refusedSockets = new WeakSet<Duplex>();

/**
 * A request Node cannot parse (bad request line, a CR or LF inside a header value, a body that
 * does not match its Content-Length or chunking) gets the project's JSON error instead of Node's
 * bare `400 Bad Request`. A whole request before the unparsable bytes is answered first. The
 * connection then reads nothing more and is closed gracefully: a reset while the client is still
 * sending could discard the answer before the client reads it.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  // Node reports the error again for every later chunk: one answer is enough.
  if (refusedSockets.has(socket)) return;
  refusedSockets.add(socket);
  if (error.code === "ECONNRESET" || !socket.writable) {
    socket.destroy();
    return;
  }
  socket.pause();
  const linger = setTimeout(() => socket.destroy(), REFUSED_LINGER_MS);
  socket.once("close", () => clearTimeout(linger));
  const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse })._httpMessage;
  if (inFlight?.req?.complete && !inFlight.writableFinished) {
    inFlight.once("finish", () => socket.end());
    return;
  }
  if (!inFlight?.headersSent) {
    const status =
      error.code === "HPE_HEADER_OVERFLOW"
        ? 431
        : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
          ? 408
          : 400;
    const code =
      status === 431 ? "headers_too_large" : status === 408 ? "request_timeout" : "bad_request";
    const body = JSON.stringify({
      error: {
        code,
        message: `The request is not valid HTTP/1.1 (${error.code ?? "parse error"}).`,
      },
    });
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.end();
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

/**
 * The URL a function is handed, from the request target and the Host header; undefined when they
 * make none, or one with credentials (the library refuses to make a request of it).
 */
function requestUrlOf(req: IncomingMessage, serverUrl: string): URL | undefined {
  try {
    const requestUrl = new URL(
      req.url ?? "/",
      req.headers.host ? `http://${req.headers.host}` : serverUrl,
    );
    return requestUrl.username === "" && requestUrl.password === "" ? requestUrl : undefined;
  } catch {
    return undefined;
  }
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
