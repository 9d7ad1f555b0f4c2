import { ServiceBusClient, type ServiceBusReceiver } from "@azure/service-bus";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type LocalServiceBus, startLocalServiceBus } from "../../dev/servicebus/broker";
import { parseTopology } from "../../dev/servicebus/topology";
import { SET_ASIDE_REASONS, ServiceBusJournal } from "../../src/adapters/serviceBusJournal";
import { isJournaledDelivery, type JournalEntry } from "../../src/core/ports";
import { deliveryOf, registryEvent, T0 } from "../unit/memoryPorts";

/** The journal adapter (real SDK) against the local broker, each test on a queue of its own. */
const QUEUES = [
  "held-elsewhere",
  "partly-held",
  "drained",
  "outage",
  "only-entry",
  "notices",
  "refused-entry",
  "failing-entry",
  "second-outage",
];

const topology = parseTopology({
  UserConfig: {
    Namespaces: [
      {
        Name: "journal",
        Queues: QUEUES.map((Name) => ({
          Name,
          Properties: { LockDuration: "PT1M", RequiresDuplicateDetection: true },
        })),
        Topics: [],
      },
    ],
  },
});

function entry(eventId: string): JournalEntry {
  const route = { kind: "topic", topic: "acr-push" } as const;
  return { delivery: deliveryOf(registryEvent({ eventId }), route, T0), published: true };
}

describe("ServiceBusJournal", () => {
  let bus: LocalServiceBus;
  let client: ServiceBusClient;
  const otherRuns: ServiceBusReceiver[] = [];

  beforeAll(async () => {
    bus = await startLocalServiceBus({ topology });
    client = new ServiceBusClient(bus.connectionString);
  });

  afterEach(async () => {
    await Promise.all(otherRuns.splice(0).map((receiver) => receiver.close()));
  });

  afterAll(async () => {
    await client?.close();
    await bus?.stop();
  });

  /** Another reconcile run has taken `count` entries and is restoring them (they are locked). */
  async function takenByAnotherRun(queue: string, count: number): Promise<void> {
    const receiver = client.createReceiver(queue);
    otherRuns.push(receiver);
    const taken = await receiver.receiveMessages(count, { maxWaitTimeInMs: 2_000 });
    expect(taken).toHaveLength(count);
  }

  it.each([
    { queue: "outage", entries: 3 },
    { queue: "only-entry", entries: 1 },
  ])(
    "entries whose restores failed run after run (storage still down) are restored once it is back ($queue)",
    async ({ queue, entries }) => {
      const journal = new ServiceBusJournal(client, queue, 2_000);
      for (let index = 0; index < entries; index++) await journal.append(entry(`evt-${index}`));
      const failedRuns = entries + 1;
      for (let run = 0; run < failedRuns; run++) {
        const failedBefore: number[] = [];
        const failed = await journal.drain(async (_, before) => {
          failedBefore.push(before);
          throw new Error("table-storage unavailable");
        }, 100);
        expect(failed).toMatchObject({ restored: 0, more: true });
        // The first entry is taken alone, and counts each run it failed in.
        expect(failedBefore).toEqual([run]);
      }
      const seen: string[] = [];
      const drained = await journal.drain(async (taken, before) => {
        const eventId = isJournaledDelivery(taken) ? taken.delivery.event.eventId : "notice";
        seen.push(`${eventId} after ${before}`);
        return undefined;
      }, 100);
      expect(drained).toEqual({ restored: entries, setAside: 0, more: false });
      expect(seen).toEqual(
        Array.from({ length: entries }, (_, index) =>
          index === 0 ? `evt-0 after ${failedRuns}` : `evt-${index} after 0`,
        ),
      );
      await journal.close();
    },
  );

  it.each([
    { cause: "refused", queue: "refused-entry" },
    { cause: "failing", queue: "failing-entry" },
  ] as const)(
    "an entry set aside ($cause) goes to the dead-letter queue with its reason, and the entries after it are restored in the same run",
    async ({ cause, queue }) => {
      const journal = new ServiceBusJournal(client, queue, 2_000);
      for (const eventId of ["evt-before", "evt-refused", "evt-after"]) {
        await journal.append(entry(eventId));
      }
      const restored: string[] = [];
      const drained = await journal.drain(async (taken) => {
        const eventId = isJournaledDelivery(taken) ? taken.delivery.event.eventId : "notice";
        if (eventId === "evt-refused")
          return { cause, setAside: "table-storage refused: 0:bad value" };
        restored.push(eventId);
        return undefined;
      }, 100);
      expect(drained).toEqual({ restored: 2, setAside: 1, more: false });
      expect(restored).toEqual(["evt-before", "evt-after"]);
      const [deadLettered, ...others] = bus.deadLetterMessages(queue);
      expect(others).toEqual([]);
      expect(deadLettered?.applicationProperties).toMatchObject({
        DeadLetterReason: SET_ASIDE_REASONS[cause],
        DeadLetterErrorDescription: "table-storage refused: 0:bad value",
      });
      const setAside = deadLettered?.body as JournalEntry;
      expect(isJournaledDelivery(setAside) && setAside.delivery.event.eventId).toBe("evt-refused");
      const again = await journal.drain(async () => undefined, 100);
      expect(again).toEqual({ restored: 0, setAside: 0, more: false });
      await journal.close();
    },
  );

  it("Event Grid's refusals are one notice a minute per process", async () => {
    const journal = new ServiceBusJournal(client, "notices", 2_000);
    const otherProcess = new ServiceBusJournal(client, "notices", 2_000);
    const minute = Math.floor(T0 / 60_000) * 60_000;
    await journal.append({ refusedAt: minute + 1_000 });
    await journal.append({ refusedAt: minute + 2_000 });
    await otherProcess.append({ refusedAt: minute + 3_000 });
    await otherProcess.append({ refusedAt: minute + 4_000 });
    await otherProcess.append({ refusedAt: minute + 60_000 });
    const seen: JournalEntry[] = [];
    const drained = await journal.drain(async (taken) => {
      seen.push(taken);
      return undefined;
    }, 100);
    expect(drained).toEqual({ restored: 3, setAside: 0, more: false });
    expect(seen).toEqual([
      { refusedAt: minute + 1_000 },
      { refusedAt: minute + 3_000 },
      { refusedAt: minute + 60_000 },
    ]);
    await Promise.all([journal.close(), otherProcess.close()]);
  });

  it("an outage that begins in the minute of a notice restored is noted, by the restoring process or another", async () => {
    const journal = new ServiceBusJournal(client, "second-outage", 2_000);
    const otherProcess = new ServiceBusJournal(client, "second-outage", 2_000);
    const minute = Math.floor(T0 / 60_000) * 60_000;
    const restored = async () => {
      const seen: JournalEntry[] = [];
      await journal.drain(async (taken) => {
        seen.push(taken);
        return undefined;
      }, 100);
      return seen;
    };
    await journal.append({ refusedAt: minute + 1_000 });
    expect(await restored()).toEqual([{ refusedAt: minute + 1_000 }]);
    await journal.append({ refusedAt: minute + 20_000 });
    await otherProcess.append({ refusedAt: minute + 21_000 });
    expect(await restored()).toEqual([
      { refusedAt: minute + 20_000 },
      { refusedAt: minute + 21_000 },
    ]);
    await Promise.all([journal.close(), otherProcess.close()]);
  });

  it.each([
    { queue: "drained", entries: 2, takenElsewhere: 0, restored: 2, more: false },
    { queue: "held-elsewhere", entries: 1, takenElsewhere: 1, restored: 0, more: true },
    { queue: "partly-held", entries: 3, takenElsewhere: 1, restored: 2, more: true },
  ])(
    "the journal is drained only when no entry is left, also none another run is restoring ($queue)",
    async ({ queue, entries, takenElsewhere, restored, more }) => {
      const journal = new ServiceBusJournal(client, queue, 2_000);
      for (let index = 0; index < entries; index++) await journal.append(entry(`evt-${index}`));
      if (takenElsewhere > 0) await takenByAnotherRun(queue, takenElsewhere);
      const seen: string[] = [];
      const drained = await journal.drain(async (taken) => {
        seen.push(isJournaledDelivery(taken) ? taken.delivery.event.eventId : "notice");
        return undefined;
      }, 100);
      expect(drained).toEqual({ restored, setAside: 0, more });
      expect(seen).toHaveLength(restored);
      await journal.close();
    },
  );
});
