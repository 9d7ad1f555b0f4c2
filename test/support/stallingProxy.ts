import { connect, createServer, type Socket } from "node:net";
import { freePort } from "../../dev/freePort";

/**
 * A TCP proxy in front of a local dependency that can be made to stall: while stalled it keeps
 * every connection open, takes what is sent and forwards nothing either way, as a hung storage
 * account or namespace does. Only the caller's own timeouts end its calls.
 */
export interface StallingProxy {
  readonly port: number;
  stall(): void;
  resume(): void;
  /** Forwards everything, either way, `ms` late (in order) from now on; 0 as it comes. */
  delay(ms: number): void;
  stop(): Promise<void>;
}

export async function startStallingProxy(targetPort: number): Promise<StallingProxy> {
  const port = await freePort();
  let stalled = false;
  let delayMs = 0;
  const forward = (to: Socket, chunk: Buffer) => {
    if (stalled) return;
    if (delayMs === 0) to.write(chunk);
    // Timers of one duration fire in the order they were set: the stream stays in order.
    else setTimeout(() => to.writable && to.write(chunk), delayMs);
  };
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
  };
  const server = createServer((client) => {
    track(client);
    if (stalled) return;
    const upstream = connect(targetPort, "127.0.0.1");
    track(upstream);
    upstream.on("close", () => client.destroy());
    client.on("close", () => upstream.destroy());
    client.on("data", (chunk: Buffer) => forward(upstream, chunk));
    upstream.on("data", (chunk: Buffer) => forward(client, chunk));
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    port,
    stall: () => {
      stalled = true;
    },
    resume: () => {
      stalled = false;
    },
    delay: (ms) => {
      delayMs = ms;
    },
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
