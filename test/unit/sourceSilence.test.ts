import { describe, expect, it } from "vitest";
import {
  type Arrived,
  type KeptSilenceFinding,
  type ScanMark,
  type SourceSeen,
  type SourceWatchStore,
  silenceChanges,
  silenceMessage,
  silenceOf,
  sourcePairs,
  watchSources,
} from "../../src/core/sourceSilence";
import type { TopicMessage } from "../../src/core/topicMessage";
import type { Versioned } from "../../src/core/writePlan";
import { rendezvous } from "../support/rendezvous";

const MIN = 60_000;
const THRESHOLD = 30 * MIN;
const NOW = Date.parse("2026-05-01T12:00:00Z");
const REGISTRY = "myregistry.azurecr.io";

const seen = (origin: "webhook" | "eventgrid", agoMs: number, region?: string): SourceSeen => ({
  registry: REGISTRY,
  region,
  origin,
  lastSeenAt: NOW - agoMs,
});

describe("silence rules", () => {
  it("a webhook quiet past the threshold while Event Grid delivers is webhook-silent, and the reverse", () => {
    expect(
      silenceOf(
        { registry: REGISTRY, webhookAt: NOW - 31 * MIN, eventGridAt: NOW - MIN },
        NOW,
        THRESHOLD,
      ),
    ).toBe("webhook-silent");
    expect(
      silenceOf(
        { registry: REGISTRY, webhookAt: NOW - MIN, eventGridAt: NOW - 31 * MIN },
        NOW,
        THRESHOLD,
      ),
    ).toBe("eventgrid-silent");
  });

  it("say nothing when both are quiet (idle registry), both deliver, or a side was never heard from", () => {
    const at = (webhookAgo?: number, eventGridAgo?: number) =>
      silenceOf(
        {
          registry: REGISTRY,
          webhookAt: webhookAgo === undefined ? undefined : NOW - webhookAgo,
          eventGridAt: eventGridAgo === undefined ? undefined : NOW - eventGridAgo,
        },
        NOW,
        THRESHOLD,
      );
    expect(at(40 * MIN, 50 * MIN)).toBeUndefined();
    expect(at(MIN, 2 * MIN)).toBeUndefined();
    expect(at(undefined, MIN)).toBeUndefined();
    expect(at(MIN, undefined)).toBeUndefined();
  });

  it("pair per region when webhooks tell their region, per registry when they do not", () => {
    const regional = sourcePairs([
      seen("webhook", MIN, "westeurope"),
      seen("eventgrid", 2 * MIN, "westeurope"),
      seen("eventgrid", 3 * MIN, "eastus"),
    ]);
    expect(regional).toEqual([
      {
        registry: REGISTRY,
        region: "westeurope",
        webhookAt: NOW - MIN,
        eventGridAt: NOW - 2 * MIN,
        webhookOccurredAt: NOW - MIN,
        eventGridOccurredAt: NOW - 2 * MIN,
      },
      {
        registry: REGISTRY,
        region: "eastus",
        webhookAt: undefined,
        eventGridAt: NOW - 3 * MIN,
        eventGridOccurredAt: NOW - 3 * MIN,
      },
    ]);
    const whole = sourcePairs([
      seen("webhook", 40 * MIN),
      seen("eventgrid", 5 * MIN, "eastus"),
      seen("eventgrid", MIN, "westeurope"),
    ]);
    expect(whole).toEqual([
      {
        registry: REGISTRY,
        webhookAt: NOW - 40 * MIN,
        eventGridAt: NOW - MIN,
        webhookOccurredAt: NOW - 40 * MIN,
        eventGridOccurredAt: NOW - MIN,
      },
    ]);
  });

  it("the latest webhook decides: an old region-less delivery does not stop the regional comparison", () => {
    const strayCurlLongAgo = seen("webhook", 5 * 24 * 60 * MIN);
    const silent = [
      strayCurlLongAgo,
      seen("webhook", 3 * 60 * MIN, "westeurope"),
      seen("webhook", MIN, "eastus"),
      seen("eventgrid", MIN, "westeurope"),
      seen("eventgrid", MIN, "eastus"),
    ];
    expect(silenceChanges([], silent, NOW, THRESHOLD).opened).toMatchObject([
      { kind: "webhook-silent", region: "westeurope" },
    ]);
    const replacedByRegionless = [
      seen("webhook", 3 * 60 * MIN, "westeurope"),
      seen("webhook", MIN),
      seen("eventgrid", MIN, "westeurope"),
    ];
    expect(sourcePairs(replacedByRegionless)).toEqual([
      {
        registry: REGISTRY,
        webhookAt: NOW - MIN,
        eventGridAt: NOW - MIN,
        webhookOccurredAt: NOW - MIN,
        eventGridOccurredAt: NOW - MIN,
      },
    ]);
    expect(silenceChanges([], replacedByRegionless, NOW, THRESHOLD).opened).toEqual([]);
  });

  it("open once, resolve only when the silent side delivers again", () => {
    const silent = [seen("webhook", 40 * MIN, "westeurope"), seen("eventgrid", MIN, "westeurope")];
    const first = silenceChanges([], silent, NOW, THRESHOLD);
    expect(first.opened).toEqual([
      {
        kind: "webhook-silent",
        registry: REGISTRY,
        region: "westeurope",
        silentSince: NOW - 40 * MIN,
        openedAt: NOW,
      },
    ]);
    const open = first.opened;
    expect(silenceChanges(open, silent, NOW + MIN, THRESHOLD)).toEqual({
      opened: [],
      resolved: [],
    });
    // Event Grid falls quiet too: still open, nothing resumed.
    const bothQuiet = [
      seen("webhook", 40 * MIN, "westeurope"),
      seen("eventgrid", 35 * MIN, "westeurope"),
    ];
    expect(silenceChanges(open, bothQuiet, NOW, THRESHOLD).resolved).toEqual([]);
    const resumed = [seen("webhook", 0, "westeurope"), seen("eventgrid", MIN, "westeurope")];
    expect(silenceChanges(open, resumed, NOW, THRESHOLD).resolved).toEqual([
      { ...open[0], resolvedAt: NOW },
    ]);
  });

  it("a finding opened under one comparison is resolved when its side delivers under the other", () => {
    // A region-less test delivery made the registry compared as a whole, then the webhook fell silent.
    const wholeSilent = [
      seen("webhook", 3 * 60 * MIN, "westeurope"),
      seen("webhook", 2 * 60 * MIN),
      seen("eventgrid", MIN, "westeurope"),
    ];
    const whole = silenceChanges([], wholeSilent, NOW, THRESHOLD).opened;
    expect(whole).toMatchObject([{ kind: "webhook-silent", region: undefined }]);
    // The regional webhook delivers again: the comparison is regional, the registry's webhook back.
    const regionalBack = [
      seen("webhook", 0, "westeurope"),
      seen("webhook", 2 * 60 * MIN),
      seen("eventgrid", MIN, "westeurope"),
    ];
    expect(silenceChanges(whole, regionalBack, NOW, THRESHOLD)).toEqual({
      opened: [],
      resolved: [{ ...whole[0], resolvedAt: NOW }],
    });

    // The reverse: a regional finding, then the webhook replaced by one without a region.
    const regionalSilent = [
      seen("webhook", 3 * 60 * MIN, "westeurope"),
      seen("eventgrid", MIN, "westeurope"),
    ];
    const regional = silenceChanges([], regionalSilent, NOW, THRESHOLD).opened;
    expect(regional).toMatchObject([{ kind: "webhook-silent", region: "westeurope" }]);
    const replacedByRegionless = [...regionalSilent, seen("webhook", 0)];
    expect(silenceChanges(regional, replacedByRegionless, NOW, THRESHOLD)).toEqual({
      opened: [],
      resolved: [{ ...regional[0], resolvedAt: NOW }],
    });
  });

  it("one message per change, with stable ids and the kind as property", () => {
    const finding = {
      kind: "webhook-silent" as const,
      registry: REGISTRY,
      region: "westeurope",
      silentSince: NOW - 40 * MIN,
      openedAt: NOW,
    };
    const opened = silenceMessage(finding);
    const resolved = silenceMessage({ ...finding, resolvedAt: NOW + MIN });
    expect(opened.messageId).toBe(silenceMessage(finding).messageId);
    expect(resolved.messageId).not.toBe(opened.messageId);
    expect(opened.applicationProperties).toMatchObject({
      kind: "webhook-silent",
      state: "open",
      registry: REGISTRY,
      region: "westeurope",
    });
    expect(resolved.body.type).toBe("com.azure.acr.operational.webhook-silent.resolved");
    expect(resolved.body.data).toMatchObject({
      state: "resolved",
      resolvedAt: new Date(NOW + MIN).toISOString(),
    });
  });
});

class MemoryWatch implements SourceWatchStore {
  kept: SourceSeen[] = [];
  scan?: ScanMark;
  /** Each finding with the write that last changed it, its version. */
  findingsKept = new Map<string, Versioned<KeptSilenceFinding>>();
  private writes = 0;
  async seen() {
    return this.kept;
  }
  async saveSeen(seen: readonly SourceSeen[]) {
    this.kept = [...seen];
  }
  async lastScan() {
    return this.scan;
  }
  async setLastScan(scan: ScanMark) {
    this.scan = scan;
  }
  async findings() {
    return [...this.findingsKept.values()];
  }
  async writeFinding(finding: KeptSilenceFinding, version: string | undefined) {
    if (this.findingsKept.get(keyOf(finding))?.version !== version) {
      return { ok: false, failure: "changed" } as const;
    }
    const written = String(++this.writes);
    this.findingsKept.set(keyOf(finding), { value: finding, version: written });
    return { ok: true, value: written } as const;
  }
}

const keyOf = (finding: KeptSilenceFinding) =>
  `${finding.registry}|${finding.region}|${finding.kind}`;

/** Runs two at a time, each having read the findings before either writes one. */
class OverlappingRuns extends MemoryWatch {
  private readonly bothRead = rendezvous(2);
  override async findings() {
    const findings = await super.findings();
    await this.bothRead();
    return findings;
  }
}

/** An arrival on time: received as it happened. */
const at = (time: number) => ({ receivedAt: time, occurredAt: time });

/** One region whose webhook was last heard 40 minutes ago, while Event Grid goes on. */
const webhookGoneSilent = (): Arrived[] => [
  { registry: REGISTRY, region: "westeurope", origin: "webhook", ...at(NOW - 40 * MIN) },
  { registry: REGISTRY, region: "westeurope", origin: "eventgrid", ...at(NOW - MIN) },
];

describe("watchSources", () => {
  it("fold arrivals in, publish the opening and the resolution once each, retry a failed publish", async () => {
    const store = new MemoryWatch();
    const published: TopicMessage[] = [];
    let failing = false;
    let arrivals: Arrived[] = webhookGoneSilent();
    const windows: [number, number][] = [];
    const ports = {
      store,
      arrivals: async (from: number, to: number) => {
        windows.push([from, to]);
        return arrivals;
      },
      publish: async (message: TopicMessage) => {
        if (failing) throw new Error("bus down");
        published.push(message);
      },
    };
    failing = true;
    const first = await watchSources(ports, THRESHOLD, NOW);
    expect(first).toMatchObject({ opened: 1, published: 0 });
    expect(first.errors[0]).toContain("bus down");
    failing = false;
    const second = await watchSources(ports, THRESHOLD, NOW + MIN);
    expect(second).toMatchObject({ opened: 0, published: 1 });
    expect(published.map((m) => m.applicationProperties.state)).toEqual(["open"]);
    // The second run reads from a little before where the first stopped.
    expect(windows[1][0]).toBeLessThan(NOW);
    expect(windows[1][1]).toBe(NOW + MIN);
    await watchSources(ports, THRESHOLD, NOW + 2 * MIN);
    expect(published).toHaveLength(1);

    arrivals = [
      { registry: REGISTRY, region: "westeurope", origin: "webhook", ...at(NOW + 2 * MIN) },
    ];
    const resumed = await watchSources(ports, THRESHOLD, NOW + 3 * MIN);
    expect(resumed).toMatchObject({ resolved: 1, published: 1 });
    expect(published.map((m) => m.applicationProperties.state)).toEqual(["open", "resolved"]);
    const [kept] = await store.findings();
    expect(kept?.value).toMatchObject({
      kind: "webhook-silent",
      resolvedAt: NOW + 3 * MIN,
      published: true,
    });
  });

  it("an opening whose publish failed goes out before its resolution, never a resolution alone", async () => {
    const store = new MemoryWatch();
    const published: TopicMessage[] = [];
    let failing = true;
    let arrivals: Arrived[] = webhookGoneSilent();
    const ports = {
      store,
      arrivals: async () => arrivals,
      publish: async (message: TopicMessage) => {
        if (failing) throw new Error("bus down");
        published.push(message);
      },
    };
    expect(await watchSources(ports, THRESHOLD, NOW)).toMatchObject({ opened: 1, published: 0 });

    // The webhook delivers again before the bus is back: nothing goes out yet.
    arrivals = [{ registry: REGISTRY, region: "westeurope", origin: "webhook", ...at(NOW + MIN) }];
    const stillDown = await watchSources(ports, THRESHOLD, NOW + 2 * MIN);
    expect(stillDown).toMatchObject({ resolved: 1, published: 0 });
    expect(published).toEqual([]);

    failing = false;
    await watchSources(ports, THRESHOLD, NOW + 3 * MIN);
    expect(published.map((m) => m.applicationProperties.state)).toEqual(["open", "resolved"]);
    expect(published.map((m) => m.body.data)).toMatchObject([
      { state: "open", openedAt: new Date(NOW).toISOString() },
      { state: "resolved", openedAt: new Date(NOW).toISOString() },
    ]);
    await watchSources(ports, THRESHOLD, NOW + 4 * MIN);
    expect(published).toHaveLength(2);
  });

  it("publish only the changes the run claimed: an opening and its resolution once each, across two overlapping runs", async () => {
    const store = new OverlappingRuns();
    const published: TopicMessage[] = [];
    let arrivals: Arrived[] = webhookGoneSilent();
    const ports = {
      store,
      arrivals: async () => arrivals,
      publish: async (message: TopicMessage) => {
        published.push(message);
      },
    };
    // A millisecond apart: the same silence, opened at two times, would go out under two ids.
    const twoRunsAt = (now: number) =>
      Promise.all([now, now + 1].map((at) => watchSources(ports, THRESHOLD, at)));
    const opening = await twoRunsAt(NOW);
    expect(opening.map((report) => [report.opened, report.notClaimed])).toEqual([
      [1, 0],
      [1, 1],
    ]);
    expect(published.map((m) => m.applicationProperties.state)).toEqual(["open"]);

    arrivals = [
      { registry: REGISTRY, region: "westeurope", origin: "webhook", ...at(NOW + 2 * MIN) },
    ];
    await twoRunsAt(NOW + 3 * MIN);
    expect(published.map((m) => m.applicationProperties.state)).toEqual(["open", "resolved"]);
    expect([...store.findingsKept.values()].map((entry) => entry.value)).toMatchObject([
      { openedAt: NOW, resolvedAt: NOW + 3 * MIN, published: true },
    ]);
  });
});

describe("watchSources marking what it published", () => {
  it("mark its change published only over its own claim: a change another run wrote meanwhile stays", async () => {
    const store = new MemoryWatch();
    const arrivals: Arrived[] = webhookGoneSilent();
    const resolvedMeanwhile = async () => {
      const [claimed] = await store.findings();
      if (!claimed) throw new Error("the opening was not claimed before its publish");
      const resolved = { ...claimed.value, resolvedAt: NOW + MIN, published: false };
      expect(await store.writeFinding(resolved, claimed.version)).toMatchObject({ ok: true });
    };
    const report = await watchSources(
      { store, arrivals: async () => arrivals, publish: resolvedMeanwhile },
      THRESHOLD,
      NOW,
    );
    expect(report).toMatchObject({ opened: 1, published: 1 });
    expect([...store.findingsKept.values()].map((entry) => entry.value)).toMatchObject([
      { openedAt: NOW, resolvedAt: NOW + MIN, published: false },
    ]);
  });
});

describe("watchSources after the bridge was down", () => {
  it("blame neither side for the bridge's own downtime, nor Event Grid's retries of what it missed; a side that stays silent since is still found", async () => {
    const store = new MemoryWatch();
    const published: TopicMessage[] = [];
    const log: Arrived[] = [];
    const arrive = (origin: "webhook" | "eventgrid", occurredAt: number, receivedAt: number) =>
      log.push({ registry: REGISTRY, region: "westeurope", origin, occurredAt, receivedAt });
    const ports = {
      store,
      arrivals: async (from: number, to: number) =>
        log.filter((a) => a.receivedAt >= from && a.receivedAt <= to),
      publish: async (message: TopicMessage) => {
        published.push(message);
      },
    };
    const states = () =>
      published.map((m) => `${m.applicationProperties.kind} ${m.applicationProperties.state}`);
    // Both sides deliver until the bridge stops, three hours before NOW; the watch last ran then.
    const down = NOW - 3 * 60 * MIN;
    arrive("webhook", down - MIN, down - MIN);
    arrive("eventgrid", down - MIN, down - MIN);
    await watchSources(ports, THRESHOLD, down);
    // While it is down ACR's webhooks are lost (one try); Event Grid retries once it is back, and
    // keeps retrying some of them for the next hour (its backoff grows to an hour).
    for (let minute = 0; minute <= 50; minute += 5) {
      arrive("eventgrid", down + (minute + 1) * 3 * MIN, NOW + minute * MIN);
    }
    for (let minute = 0; minute <= 50; minute++) {
      const report = await watchSources(ports, THRESHOLD, NOW + minute * MIN);
      expect(report.errors).toEqual([]);
    }
    expect(states()).toEqual([]);

    // A push after the bridge is back: Event Grid delivers it, ACR's webhook does not (it stopped).
    arrive("eventgrid", NOW + 51 * MIN, NOW + 51 * MIN);
    await watchSources(ports, THRESHOLD, NOW + 52 * MIN);
    expect(states()).toEqual(["webhook-silent open"]);
    expect(published[0].body.data).toMatchObject({
      silentSince: new Date(down - MIN).toISOString(),
    });
  });

  it("without a gap in its runs, count the silence from the last arrival as before", () => {
    const silent = [seen("webhook", 40 * MIN, "westeurope"), seen("eventgrid", MIN, "westeurope")];
    expect(silenceChanges([], silent, NOW, THRESHOLD, undefined).opened).toHaveLength(1);
    // Back 20 minutes ago after a time it may not have been listening: not yet.
    expect(silenceChanges([], silent, NOW, THRESHOLD, NOW - 20 * MIN).opened).toEqual([]);
    // Only events that happened since the bridge is back show the other side delivering.
    const retried: SourceSeen[] = [
      seen("webhook", 3 * 60 * MIN, "westeurope"),
      { ...seen("eventgrid", MIN, "westeurope"), lastOccurredAt: NOW - 2 * 60 * MIN },
    ];
    expect(silenceChanges([], retried, NOW, THRESHOLD, NOW - 40 * MIN).opened).toEqual([]);
    expect(silenceChanges([], retried, NOW, THRESHOLD, undefined).opened).toHaveLength(1);
  });
});
