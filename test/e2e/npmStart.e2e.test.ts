import { randomUUID } from "node:crypto";
import { connect, createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { freePort, isListening } from "../../dev/freePort";
import {
  DEFAULT_SAS_KEY,
  type LocalServiceBus,
  startLocalServiceBus,
} from "../../dev/servicebus/broker";
import { defaultTopology } from "../../dev/servicebus/topology";
import { acrPush } from "../support/eventGridEvents";
import { startNpmStart } from "../support/npmStart";
import { postWebhookJson } from "../support/webhookClient";

/**
 * A TCP relay to the broker that can stop relaying while keeping every connection open: a Service
 * Bus that no longer answers, as when its host hangs or the network drops packets.
 */
async function hangingRelay(
  target: number,
): Promise<{ port: number; hang(): void; close(): void }> {
  const sockets = new Set<Socket>();
  let hung = false;
  const keep = (socket: Socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.once("close", () => sockets.delete(socket));
  };
  const server: Server = createServer((client) => {
    const upstream = connect(target, "127.0.0.1");
    keep(client);
    keep(upstream);
    client.on("data", (chunk) => hung || upstream.write(chunk));
    upstream.on("data", (chunk) => hung || client.write(chunk));
    client.once("close", () => upstream.destroy());
    upstream.once("close", () => client.destroy());
  });
  const port = await freePort();
  await new Promise<void>((done) => server.listen(port, "127.0.0.1", done));
  return {
    port,
    hang: () => {
      hung = true;
    },
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

describe("npm start, stopped while Service Bus hangs", () => {
  let broker: LocalServiceBus;

  beforeAll(async () => {
    broker = await startLocalServiceBus({ topology: defaultTopology() });
  });

  afterAll(async () => {
    await broker?.stop();
  });

  it("exits 0 on SIGINT within seconds, saying what it abandoned, and leaves no process or port", async () => {
    const relay = await hangingRelay(broker.port);
    const armPort = await freePort();
    const npmStart = await startNpmStart({
      SERVICEBUS_CONNECTION: `Endpoint=sb://localhost:${relay.port};SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=${DEFAULT_SAS_KEY};UseDevelopmentEmulator=true`,
      ARM_ENDPOINT: `http://127.0.0.1:${armPort}`,
      ACR_RESOURCE_IDS: `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/local/providers/Microsoft.ContainerRegistry/registries/hang${randomUUID().slice(0, 8)}`,
    });
    try {
      await vi.waitFor(() => expect(npmStart.output()).toContain("Press Ctrl-C to stop."), {
        timeout: 30_000,
      });
      // The host's Service Bus triggers hold links on the broker by now.
      await vi.waitFor(() => expect(broker.receiverCount("acr-eventgrid")).toBeGreaterThan(0), {
        timeout: 10_000,
      });
      // A published delivery: the bridge holds a publish link too.
      const delivered = await postWebhookJson(
        { ...npmStart, webhookUrl: `${npmStart.url}/api/acr/webhook` },
        acrPush("hang/app"),
      );
      expect(await delivered.json()).toMatchObject({ publishState: "published" });
      relay.hang();
      const exited = npmStart.stop("SIGINT");
      const gaveUp = new Promise((done) =>
        setTimeout(() => done("still running after 15 s"), 15_000),
      );
      expect(await Promise.race([exited, gaveUp])).toBe(0);
      const abandoned = npmStart
        .output()
        .split("\n")
        .filter((line) => line.includes("abandoned"));
      expect(abandoned).toEqual([
        expect.stringContaining("Host: Service Bus did not answer within 3 s; the triggers' links"),
        expect.stringContaining(
          "closeBridge: Service Bus did not answer within 3 s; its publish links",
        ),
      ]);
      expect(npmStart.anyProcessLeft()).toBe(false);
      const port = Number(new URL(npmStart.url).port);
      expect(await isListening("127.0.0.1", port)).toBe(false);
      expect(await isListening("127.0.0.1", armPort)).toBe(false);
    } finally {
      if (npmStart.anyProcessLeft()) await npmStart.stop("SIGKILL");
      relay.close();
    }
  }, 60_000);
});
