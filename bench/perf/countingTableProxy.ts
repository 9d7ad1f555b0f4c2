import { Agent, createServer, type IncomingMessage, request, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** Requests that reached Table Storage: in all, and by table (`$batch` and `Tables` by name). */
export interface RoundTripCounts {
  total: number;
  byTable: Record<string, number>;
}

export interface CountingTableProxy {
  /** The connection string given, its table endpoint replaced by the proxy's. */
  readonly connectionString: string;
  /** Every request forwarded since the proxy started; subtract two snapshots for a span. */
  counts(): RoundTripCounts;
  /** Requests forwarded and not yet answered. */
  inFlight(): number;
  /** performance.now() of the latest request or answer. */
  lastActivityAt(): number;
  stop(): Promise<void>;
}

/**
 * An HTTP proxy in front of Azurite's table endpoint that counts round trips: each request is one,
 * whatever it carries (a transaction of 100 entities is one `$batch`). Point a client's connection
 * string at it to count what the client costs Table Storage.
 */
export async function startCountingTableProxy(
  connectionString: string,
): Promise<CountingTableProxy> {
  const endpoint = /TableEndpoint=(http:\/\/[^;]+)/i.exec(connectionString)?.[1];
  if (!endpoint) throw new Error("the connection string has no http:// TableEndpoint");
  const upstream = new URL(endpoint);
  const agent = new Agent({ keepAlive: true, maxSockets: 512 });
  const counts: RoundTripCounts = { total: 0, byTable: {} };
  let inFlight = 0;
  let lastActivity = performance.now();

  const forward = (req: IncomingMessage, res: ServerResponse) => {
    counts.total += 1;
    const table = tableOf(req.url ?? "/");
    counts.byTable[table] = (counts.byTable[table] ?? 0) + 1;
    inFlight += 1;
    lastActivity = performance.now();
    res.once("close", () => {
      inFlight -= 1;
      lastActivity = performance.now();
    });
    const outgoing = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host },
        agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    outgoing.once("error", (error) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end(`table proxy: ${error.message}`);
    });
    req.pipe(outgoing);
  };

  const server = createServer(forward);
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const proxied = new URL(endpoint);
  proxied.host = `127.0.0.1:${port}`;
  const proxiedEndpoint = proxied.toString().replace(/\/$/, "");

  return {
    connectionString: connectionString.replace(endpoint, proxiedEndpoint),
    counts: () => ({ total: counts.total, byTable: { ...counts.byTable } }),
    inFlight: () => inFlight,
    lastActivityAt: () => lastActivity,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        agent.destroy();
      }),
  };
}

/** `later - earlier`, table by table. */
export function countsBetween(earlier: RoundTripCounts, later: RoundTripCounts): RoundTripCounts {
  const byTable: Record<string, number> = {};
  for (const [table, count] of Object.entries(later.byTable)) {
    const delta = count - (earlier.byTable[table] ?? 0);
    if (delta !== 0) byTable[table] = delta;
  }
  return { total: later.total - earlier.total, byTable };
}

/** `/devstoreaccount1/AcrDeliveries(PartitionKey='…',RowKey='…')?…` -> `AcrDeliveries`. */
function tableOf(url: string): string {
  const path = url.split("?")[0];
  const afterAccount = path.split("/").filter(Boolean)[1] ?? "";
  return decodeURIComponent(afterAccount.split("(")[0]) || "(account)";
}
