import { describe, expect, it } from "vitest";
import {
  eventGridRetryWaitMs,
  isKept,
  KeptOutages,
  MAX_OUTAGES_KEPT,
  type StoreOutage,
  twinRetriedBy,
  withOutage,
} from "../../src/core/storeOutage";
import { MemoryPorts, T0 } from "./memoryPorts";

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const WINDOW_MS = 5 * MINUTE;

describe("eventGridRetryWaitMs: the longest wait for Event Grid's next retry after refusals that lasted so long", () => {
  it.each<{ refusedFor: number; wait: number }>([
    { refusedFor: 0, wait: 10 * SECOND },
    { refusedFor: 10 * SECOND, wait: 10 * SECOND },
    { refusedFor: 11 * SECOND, wait: 30 * SECOND },
    { refusedFor: 40 * SECOND, wait: 30 * SECOND },
    { refusedFor: 41 * SECOND, wait: MINUTE },
    // 10 s + 30 s + 1 min + 5 min: refused for 6 min 40 s, the next retry is 10 min away at most.
    { refusedFor: 6 * MINUTE + 41 * SECOND, wait: 10 * MINUTE },
    { refusedFor: 30 * MINUTE, wait: 30 * MINUTE },
    { refusedFor: HOUR, wait: HOUR },
    { refusedFor: 2 * HOUR, wait: 3 * HOUR },
    { refusedFor: 5 * HOUR, wait: 6 * HOUR },
    { refusedFor: 11 * HOUR, wait: 12 * HOUR },
    { refusedFor: 30 * HOUR, wait: 12 * HOUR },
  ])("refused for $refusedFor ms: $wait ms", ({ refusedFor, wait }) => {
    expect(eventGridRetryWaitMs(refusedFor)).toBe(wait);
  });
});

describe("twinRetriedBy: how long a window only the webhook saw waits for its twin", () => {
  // Down a minute: Event Grid's next retry is a minute away at most, and a window after it.
  const outage: StoreOutage = { from: T0 + 2 * MINUTE, to: T0 + 3 * MINUTE };
  const retried = outage.to + MINUTE + WINDOW_MS;

  it.each<{ name: string; firstSeenAt: number; windowClosesAt: number; until?: number }>([
    {
      name: "open when the outage began (recorded just before it)",
      firstSeenAt: T0,
      windowClosesAt: T0 + WINDOW_MS,
      until: retried,
    },
    {
      name: "closing as the outage began",
      firstSeenAt: T0 - WINDOW_MS + 2 * MINUTE,
      windowClosesAt: outage.from,
      until: retried,
    },
    {
      name: "opened during the outage (a journaled webhook, its window from its restore)",
      firstSeenAt: outage.from + SECOND,
      windowClosesAt: outage.to + WINDOW_MS,
      until: retried,
    },
    {
      name: "closed before the outage: its twin was not refused",
      firstSeenAt: T0 - WINDOW_MS,
      windowClosesAt: outage.from - 1,
    },
    {
      name: "opened after the outage",
      firstSeenAt: outage.to + 1,
      windowClosesAt: outage.to + 1 + WINDOW_MS,
    },
  ])("$name", ({ firstSeenAt, windowClosesAt, until }) => {
    expect(twinRetriedBy({ firstSeenAt, windowClosesAt }, [outage], WINDOW_MS)).toBe(until);
  });

  it("the latest of the outages the window overlapped", () => {
    const longer: StoreOutage = { from: T0 + 4 * MINUTE, to: T0 + 24 * MINUTE };
    const window = { firstSeenAt: T0, windowClosesAt: T0 + WINDOW_MS };
    // Down 20 min: the next retry may be 30 min away.
    expect(twinRetriedBy(window, [longer, outage], WINDOW_MS)).toBe(
      longer.to + 30 * MINUTE + WINDOW_MS,
    );
    expect(twinRetriedBy(window, [], WINDOW_MS)).toBeUndefined();
  });
});

describe("withOutage: the outages kept", () => {
  const now = T0 + 10 * MINUTE;

  it("merges those that overlap, keeps the others apart, oldest first", () => {
    const kept = [
      { from: T0 + 5 * MINUTE, to: T0 + 6 * MINUTE },
      { from: T0, to: T0 + 2 * MINUTE },
    ];
    expect(withOutage(kept, { from: T0 + MINUTE, to: T0 + 3 * MINUTE }, now, WINDOW_MS)).toEqual([
      { from: T0, to: T0 + 3 * MINUTE },
      { from: T0 + 5 * MINUTE, to: T0 + 6 * MINUTE },
    ]);
  });

  it("drops those no window waits for any more", () => {
    const old = { from: T0 - 2 * HOUR, to: T0 - 2 * HOUR + MINUTE };
    const added = { from: T0 + 9 * MINUTE, to: now };
    expect(withOutage([old], added, now, WINDOW_MS)).toEqual([added]);
  });

  it("keeps at most MAX_OUTAGES_KEPT, the oldest taken together: they wait at least as long", () => {
    const kept = Array.from({ length: MAX_OUTAGES_KEPT }, (_, index) => ({
      from: T0 + index * 2 * SECOND,
      to: T0 + index * 2 * SECOND + SECOND,
    }));
    // Just after them all, while every one of them is still waited for.
    const added = { from: T0 + 4 * MINUTE, to: T0 + 5 * MINUTE };
    const result = withOutage(kept, added, added.to, WINDOW_MS);
    expect(result).toHaveLength(MAX_OUTAGES_KEPT);
    expect(result[0]).toEqual({ from: T0, to: T0 + 3 * SECOND });
    expect(result.at(-1)).toEqual(added);
  });

  it("a refusal within an outage kept is kept already", () => {
    const kept = [{ from: T0, to: T0 + MINUTE }];
    expect(isKept(kept, T0 + MINUTE)).toBe(true);
    expect(isKept(kept, T0 + MINUTE + 1)).toBe(false);
  });
});

describe("KeptOutages: a reconcile run's view of the outages kept", () => {
  it("reads them once, at the first need, and keeps a refusal's outage from the refusal to its restore", async () => {
    const memory = new MemoryPorts();
    const outages = new KeptOutages(memory.outages, WINDOW_MS);
    expect(await outages.current()).toEqual([]);
    await outages.keep({ refusedAt: T0 }, T0 + MINUTE);
    // A refusal the outage kept covers writes nothing.
    await outages.keep({ refusedAt: T0 + 30 * SECOND }, T0 + MINUTE + SECOND);
    expect(await outages.current()).toEqual([{ from: T0, to: T0 + MINUTE }]);
    expect(memory.calls()).toEqual(["outages.read", "outages.write"]);
    expect(memory.outagesKept?.value).toEqual([{ from: T0, to: T0 + MINUTE }]);
  });

  it("two runs keeping outages at once: the one that lost reads again, and both are kept", async () => {
    const memory = new MemoryPorts();
    const first = new KeptOutages(memory.outages, WINDOW_MS);
    const second = new KeptOutages(memory.outages, WINDOW_MS);
    await Promise.all([first.current(), second.current()]);
    await first.keep({ refusedAt: T0 }, T0 + MINUTE);
    await second.keep({ refusedAt: T0 + 2 * MINUTE }, T0 + 3 * MINUTE);
    expect(memory.outagesKept?.value).toEqual([
      { from: T0, to: T0 + MINUTE },
      { from: T0 + 2 * MINUTE, to: T0 + 3 * MINUTE },
    ]);
  });

  it("a read that failed is read again at the next need", async () => {
    const memory = new MemoryPorts({ "outages.read": () => new Error("table down") });
    const outages = new KeptOutages(memory.outages, WINDOW_MS);
    await expect(outages.current()).rejects.toThrow("table down");
    memory.faults["outages.read"] = undefined;
    expect(await outages.current()).toEqual([]);
  });
});
