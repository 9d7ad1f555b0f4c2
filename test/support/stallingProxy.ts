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
  stop(): Promise<void>;
}

export async function startStallingProxy(targetPort: number): Promise<StallingProxy> {
  const port = await freePort();
  let stalled = false;
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
    client.on("data", (chunk) => {
      if (!stalled) upstream.write(chunk);
    });
    upstream.on("data", (chunk) => {
      if (!stalled) client.write(chunk);
    });
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
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
