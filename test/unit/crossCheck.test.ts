import { describe, expect, it } from "vitest";
import { PUBLISHABLE_ACTIONS } from "../../src/core/actions";
import {
  awaitsResolution,
  type CrossCheckState,
  crossCheckOf,
  DISCREPANCY_KINDS,
  type DiscrepancyKind,
  differingFields,
  expectsTwin,
  GEO_COPY_HORIZON_MS,
  isOneSided,
  isQuarantined,
  keepsQuarantine,
  type LateMatch,
  type LogicalEvent,
  logicalKeyFor,
  logicalRefFor,
  publishedBy,
  type SideArrivals,
  tagsPushedFor,
  twinDelayMs,
  type Verdict,
  type VerdictPolicy,
  type WindowOutcome,
  waitsForTwin,
  windowVerdict,
  withArrival,
  withMismatches,
  withVerdict,
} from "../../src/core/crossCheck";
import { type DeliveryRecord, newRecord } from "../../src/core/deliveryRecord";
import type { RegistryEvent } from "../../src/core/registryEvent";
import { messageIdFor, topicMessageFor } from "../../src/core/topicMessage";
import { registryEvent, T0 } from "./memoryPorts";

const WINDOW_MS = 300_000;

const webhook = (overrides: Partial<RegistryEvent> = {}) =>
  registryEvent({ origin: "webhook", region: "westeurope", ...overrides });
const eventGrid = (overrides: Partial<RegistryEvent> = {}) =>
  registryEvent({ origin: "eventgrid", region: "westeurope", ...overrides });

function side(eventIds: string[], firstAt: number, regions: string[] = []): SideArrivals {
  return { eventIds, regions, firstAt, count: eventIds.length };
}

function logical(overrides: Partial<LogicalEvent> = {}): LogicalEvent {
  return {
    key: logicalKeyFor(webhook()),
    registry: "myregistry.azurecr.io",
    action: "push",
    repository: "hello-world",
    tag: "v1",
    digest: "sha256:abc",
    firstSeenAt: T0,
    windowClosesAt: T0 + WINDOW_MS,
    state: "open",
    mismatchedIds: [],
    ...overrides,
  };
}

describe("withArrival: a new logical event", () => {
  it.each([
    { origin: "webhook", arrival: webhook(), side: "webhook", other: "eventGrid" },
    { origin: "eventgrid", arrival: eventGrid(), side: "eventGrid", other: "webhook" },
  ] as const)("the first $origin arrival opens a window", ({ arrival, side, other }) => {
    const opened = withArrival(undefined, arrival, T0 + 5, WINDOW_MS);
    expect(opened).toStrictEqual({
      key: logicalKeyFor(arrival),
      occurrence: 1,
      registry: "myregistry.azurecr.io",
      action: "push",
      repository: "hello-world",
      tag: "v1",
      digest: "sha256:abc",
      firstSeenAt: T0 + 5,
      windowClosesAt: T0 + 5 + WINDOW_MS,
      state: "open",
      mismatchedIds: [],
      [side]: { eventIds: ["evt-1"], regions: ["westeurope"], firstAt: T0 + 5, count: 1 },
    });
    expect(opened[other]).toBeUndefined();
    expect(opened.publication).toBeUndefined();
  });

  it("an arrival without a region records no region", () => {
    const opened = withArrival(undefined, webhook({ region: undefined }), T0, WINDOW_MS);
    expect(opened.webhook?.regions).toEqual([]);
  });

  it("a delete without a tag keeps the tag undefined", () => {
    const event = webhook({ action: "delete", tag: undefined });
    const opened = withArrival(undefined, event, T0, WINDOW_MS);
    expect(opened).toMatchObject({ action: "delete", tag: undefined, digest: "sha256:abc" });
  });
});

describe("withArrival: within the window", () => {
  const first = withArrival(undefined, webhook(), T0, WINDOW_MS);

  it.each<{ name: string; arrival: RegistryEvent; at: number; expected: SideArrivals }>([
    {
      name: "another regional webhook (another id and region) joins the same side",
      arrival: webhook({ eventId: "evt-2", region: "eastus" }),
      at: T0 + 1_000,
      expected: {
        eventIds: ["evt-1", "evt-2"],
        regions: ["westeurope", "eastus"],
        firstAt: T0,
        count: 2,
      },
    },
    {
      name: "a repeat of the same id and region is counted, not listed twice",
      arrival: webhook(),
      at: T0 + 1_000,
      expected: { eventIds: ["evt-1"], regions: ["westeurope"], firstAt: T0, count: 2 },
    },
    {
      name: "another id without a region keeps the regions seen",
      arrival: webhook({ eventId: "evt-2", region: undefined }),
      at: T0 + 1_000,
      expected: { eventIds: ["evt-1", "evt-2"], regions: ["westeurope"], firstAt: T0, count: 2 },
    },
  ])("$name", ({ arrival, at, expected }) => {
    const updated = withArrival(first, arrival, at, WINDOW_MS);
    expect(updated.webhook).toEqual(expected);
    expect(updated).toMatchObject({
      firstSeenAt: T0,
      windowClosesAt: T0 + WINDOW_MS,
      state: "open",
    });
    expect(updated.eventGrid).toBeUndefined();
  });

  it("the other side's arrival joins without moving the window", () => {
    const updated = withArrival(first, eventGrid({ region: "eastus" }), T0 + 2_000, WINDOW_MS);
    expect(updated.webhook).toEqual(first.webhook);
    expect(updated.eventGrid).toEqual(side(["evt-1"], T0 + 2_000, ["eastus"]));
    expect(updated).toMatchObject({
      key: first.key,
      firstSeenAt: T0,
      windowClosesAt: T0 + WINDOW_MS,
      state: "open",
    });
  });

  it("a later arrival with another window length does not move the window", () => {
    const updated = withArrival(first, eventGrid(), T0 + 2_000, 10 * WINDOW_MS);
    expect(updated.windowClosesAt).toBe(T0 + WINDOW_MS);
  });

  it("does not change the logical event it was given", () => {
    const snapshot = structuredClone(first);
    withArrival(first, webhook({ eventId: "evt-2", region: "eastus" }), T0 + 1, WINDOW_MS);
    withArrival(first, eventGrid(), T0 + 1, WINDOW_MS);
    expect(first).toStrictEqual(snapshot);
  });

  it("keeps ids and regions unique and at most the 20 most recent", () => {
    let current: LogicalEvent | undefined;
    for (let i = 0; i < 25; i++) {
      const arrival = webhook({ eventId: `evt-${i}`, region: `region-${i}` });
      current = withArrival(current, arrival, T0 + i, WINDOW_MS);
      current = withArrival(current, arrival, T0 + i, WINDOW_MS);
    }
    const expected = Array.from({ length: 20 }, (_, i) => i + 5);
    expect(current?.webhook).toEqual({
      eventIds: expected.map((i) => `evt-${i}`),
      regions: expected.map((i) => `region-${i}`),
      firstAt: T0,
      count: 50,
    });
  });
});

describe("withArrival: after the window closed", () => {
  const CLOSED: Exclude<CrossCheckState, "open">[] = [
    "matched",
    "webhook-only",
    "eventgrid-only",
    "mismatched",
  ];
  const later = T0 + 3 * WINDOW_MS;

  it.each(CLOSED)(
    "a new occurrence on a side already seen (%s) starts a new logical event",
    (state) => {
      const closed = logical({
        state,
        webhook: side(["evt-1"], T0, ["westeurope"]),
        eventGrid: side(["evt-1"], T0 + 10, ["westeurope"]),
        publication: { by: "webhook", occurrence: 1 },
        mismatchedIds: state === "mismatched" ? ["evt-1"] : [],
      });
      const pushedAgain = webhook({ eventId: "evt-2", region: "westeurope" });
      const recurrence = withArrival(closed, pushedAgain, later, WINDOW_MS);
      expect(recurrence).toStrictEqual({
        ...logical(),
        occurrence: 2,
        firstSeenAt: later,
        windowClosesAt: later + WINDOW_MS,
        webhook: side(["evt-2"], later, ["westeurope"]),
      });
      expect(recurrence.publication).toBeUndefined();
      expect(publishedBy(recurrence)).toBeUndefined();
      expect(recurrence.eventGrid).toBeUndefined();
    },
  );

  it("another region's copy is the same occurrence, also after the close, within the horizon of replication", () => {
    const closed = logical({
      state: "matched",
      webhook: side(["evt-1"], T0, ["westeurope"]),
      eventGrid: side(["evt-1"], T0 + 10, ["westeurope"]),
      publication: { by: "webhook", occurrence: 1 },
    });
    const replicated = webhook({ eventId: "evt-2", region: "eastus" });
    const copy = withArrival(closed, replicated, later, WINDOW_MS);
    expect(copy).toStrictEqual({
      ...closed,
      webhook: {
        eventIds: ["evt-1", "evt-2"],
        regions: ["westeurope", "eastus"],
        firstAt: T0,
        count: 2,
      },
    });
    expect(publishedBy(copy)).toBe("webhook");

    const pastHorizon = T0 + GEO_COPY_HORIZON_MS + 1;
    const pushedAgain = withArrival(closed, replicated, pastHorizon, WINDOW_MS);
    expect(pushedAgain).toMatchObject({ occurrence: 2, firstSeenAt: pastHorizon, state: "open" });
    expect(publishedBy(pushedAgain)).toBeUndefined();

    // Without regions told apart, a new id is the content happening again.
    const unregional = logical({ state: "matched", webhook: side(["evt-1"], T0) });
    expect(withArrival(unregional, webhook({ eventId: "evt-2" }), later, WINDOW_MS)).toMatchObject({
      occurrence: 2,
    });
  });

  it.each<{
    name: string;
    closed: LogicalEvent;
    arrival: RegistryEvent;
    attached: "webhook" | "eventGrid";
  }>([
    {
      name: "a late Event Grid twin of a webhook-only event",
      closed: logical({
        state: "webhook-only",
        webhook: side(["evt-1"], T0),
        publication: { by: "webhook", occurrence: 1 },
      }),
      arrival: eventGrid(),
      attached: "eventGrid",
    },
    {
      name: "a late webhook of a recovered eventgrid-only event",
      closed: logical({
        state: "eventgrid-only",
        eventGrid: side(["evt-1"], T0),
        publication: { by: "eventgrid", occurrence: 1 },
      }),
      arrival: webhook(),
      attached: "webhook",
    },
    {
      name: "a late webhook of a quarantine-held push (the scan passed after the hold)",
      closed: logical({ state: "quarantine-held", eventGrid: side(["evt-1"], T0) }),
      arrival: webhook(),
      attached: "webhook",
    },
  ])(
    "$name attaches to it: matched after all, late, its finding still to resolve",
    ({ closed, arrival, attached }) => {
      const updated = withArrival(closed, arrival, later, WINDOW_MS);
      const finding = closed.state as DiscrepancyKind;
      expect(updated).toStrictEqual({
        ...closed,
        [attached]: side(["evt-1"], later, ["westeurope"]),
        state: "matched",
        late: {
          finding,
          at: later,
          delayMs: attached === "eventGrid" ? later - T0 : T0 - later,
          findingResolved: false,
        },
      });
      expect(awaitsResolution(updated)).toBe(true);
      expect(twinDelayMs(updated)).toBe(updated.late?.delayMs);
    },
  );

  it("a late twin of a mismatched event attaches to it and stays mismatched, not late", () => {
    const closed = logical({
      state: "mismatched",
      webhook: side(["evt-1"], T0),
      mismatchedIds: ["evt-1"],
      publication: { by: "webhook", occurrence: 1 },
    });
    const updated = withArrival(closed, eventGrid({ eventId: "eg-9" }), later, WINDOW_MS);
    expect(updated).toStrictEqual({
      ...closed,
      eventGrid: side(["eg-9"], later, ["westeurope"]),
    });
    expect(awaitsResolution(updated)).toBe(false);
  });

  it("a repeat of a late twin keeps the late match as it was", () => {
    const closed = logical({ state: "webhook-only", webhook: side(["evt-1"], T0) });
    const late = withArrival(closed, eventGrid(), later, WINDOW_MS);
    const settled = { ...late, late: { ...(late.late as LateMatch), findingResolved: true } };
    const retried = withArrival(settled, eventGrid(), later + 500, WINDOW_MS);
    expect(retried.late).toEqual(settled.late);
    expect(retried.state).toBe("matched");
    expect(retried.eventGrid).toMatchObject({ count: 2, firstAt: later });
    expect(awaitsResolution(retried)).toBe(false);
  });

  it.each<{ name: string; arrival: RegistryEvent }>([
    { name: "an Event Grid retry", arrival: eventGrid() },
    { name: "a webhook repeat", arrival: webhook() },
  ])("$name of an id already seen is the same occurrence, not a new one", ({ arrival }) => {
    const closed = logical({
      state: "matched",
      webhook: side(["evt-1"], T0, ["westeurope"]),
      eventGrid: side(["evt-1"], T0 + 10, ["westeurope"]),
      publication: { by: "webhook", occurrence: 1 },
    });
    const updated = withArrival(closed, arrival, later, WINDOW_MS);
    expect(updated).toMatchObject({
      state: "matched",
      publication: { by: "webhook", occurrence: 1 },
      firstSeenAt: T0,
      windowClosesAt: T0 + WINDOW_MS,
    });
    const sideName = arrival.origin === "webhook" ? "webhook" : "eventGrid";
    expect(updated[sideName]).toMatchObject({ eventIds: ["evt-1"], count: 2 });
  });
});

describe("windowVerdict", () => {
  const wh = side(["evt-1"], T0);
  const eg = side(["evt-1"], T0 + 10);

  it.each<{
    name: string;
    logical: LogicalEvent;
    recoveryEnabled: boolean;
    state: Exclude<CrossCheckState, "open">;
    recover: boolean;
  }>([
    {
      name: "both sides",
      logical: logical({ webhook: wh, eventGrid: eg }),
      recoveryEnabled: true,
      state: "matched",
      recover: false,
    },
    {
      name: "both sides, recovery off",
      logical: logical({ webhook: wh, eventGrid: eg }),
      recoveryEnabled: false,
      state: "matched",
      recover: false,
    },
    {
      name: "webhook only",
      logical: logical({ webhook: wh, publication: { by: "webhook", occurrence: 1 } }),
      recoveryEnabled: true,
      state: "webhook-only",
      recover: false,
    },
    {
      name: "webhook only, unpublished",
      logical: logical({ webhook: wh }),
      recoveryEnabled: true,
      state: "webhook-only",
      recover: false,
    },
    {
      name: "Event Grid only, recovery on",
      logical: logical({ eventGrid: eg }),
      recoveryEnabled: true,
      state: "eventgrid-only",
      recover: true,
    },
    {
      name: "Event Grid only, recovery off",
      logical: logical({ eventGrid: eg }),
      recoveryEnabled: false,
      state: "eventgrid-only",
      recover: false,
    },
    {
      name: "Event Grid only, already published",
      logical: logical({ eventGrid: eg, publication: { by: "eventgrid", occurrence: 1 } }),
      recoveryEnabled: true,
      state: "eventgrid-only",
      recover: false,
    },
    {
      name: "Event Grid only, published for an earlier occurrence only",
      logical: logical({
        eventGrid: eg,
        occurrence: 2,
        publication: { by: "webhook", occurrence: 1 },
      }),
      recoveryEnabled: true,
      state: "eventgrid-only",
      recover: true,
    },
    {
      name: "a mismatched id on both sides",
      logical: logical({ webhook: wh, eventGrid: eg, mismatchedIds: ["evt-1"] }),
      recoveryEnabled: true,
      state: "mismatched",
      recover: false,
    },
    {
      name: "a mismatched id on an Event Grid only event (mismatch wins, no recovery)",
      logical: logical({ eventGrid: eg, mismatchedIds: ["evt-1"] }),
      recoveryEnabled: true,
      state: "mismatched",
      recover: false,
    },
    {
      name: "a mismatched id on a webhook only event",
      logical: logical({ webhook: wh, mismatchedIds: ["evt-1"] }),
      recoveryEnabled: false,
      state: "mismatched",
      recover: false,
    },
  ])("$name -> $state (recover: $recover)", ({ logical, recoveryEnabled, state, recover }) => {
    expect(windowVerdict(logical, { recoveryEnabled })).toStrictEqual({ state, recover });
  });

  it("every discrepancy kind is a closed state other than matched", () => {
    expect([...DISCREPANCY_KINDS].sort()).toEqual([
      "eventgrid-only",
      "mismatched",
      "quarantine-held",
      "webhook-only",
    ]);
  });

  const HOLD_MS = 4 * WINDOW_MS;
  const egOnly = logical({ eventGrid: eg });

  it.each<{
    name: string;
    logical: LogicalEvent;
    policy: VerdictPolicy;
    quarantined: boolean;
    now?: number;
    outcome: WindowOutcome;
  }>([
    {
      name: "a quarantined Event Grid push at its window's close: held until the hold ends",
      logical: egOnly,
      policy: { recoveryEnabled: true, quarantineHoldMs: HOLD_MS },
      quarantined: true,
      outcome: { state: "awaiting-release", recover: false, until: T0 + HOLD_MS },
    },
    {
      name: "a quarantined Event Grid push just before the hold ends: still held",
      logical: egOnly,
      policy: { recoveryEnabled: true, quarantineHoldMs: HOLD_MS },
      quarantined: true,
      now: T0 + HOLD_MS - 1,
      outcome: { state: "awaiting-release", recover: false, until: T0 + HOLD_MS },
    },
    {
      name: "a quarantined Event Grid push when the hold ends: a quarantine-held finding, never recovered",
      logical: egOnly,
      policy: { recoveryEnabled: true, quarantineHoldMs: HOLD_MS },
      quarantined: true,
      now: T0 + HOLD_MS,
      outcome: { state: "quarantine-held", recover: false },
    },
    {
      name: "quarantine hold off: a quarantined Event Grid push is recovered as before",
      logical: egOnly,
      policy: { recoveryEnabled: true },
      quarantined: true,
      outcome: { state: "eventgrid-only", recover: true },
    },
    {
      name: "an Event Grid push of a digest not in quarantine is recovered",
      logical: egOnly,
      policy: { recoveryEnabled: true, quarantineHoldMs: HOLD_MS },
      quarantined: false,
      outcome: { state: "eventgrid-only", recover: true },
    },
    {
      name: "a quarantined push whose webhook came is matched",
      logical: logical({ webhook: wh, eventGrid: eg }),
      policy: { recoveryEnabled: true, quarantineHoldMs: HOLD_MS },
      quarantined: true,
      outcome: { state: "matched", recover: false },
    },
    {
      name: "only a push is held: an Event Grid delete of a quarantined digest is recovered",
      logical: logical({ action: "delete", tag: undefined, eventGrid: eg }),
      policy: { recoveryEnabled: true, quarantineHoldMs: HOLD_MS },
      quarantined: true,
      outcome: { state: "eventgrid-only", recover: true },
    },
  ])("$name", ({ logical, policy, quarantined, now, outcome }) => {
    expect(windowVerdict(logical, policy, { quarantined, now })).toStrictEqual(outcome);
  });

  // Event Grid's retries of deliveries refused during an outage the window was open in are due then.
  const twinRetried = T0 + 3 * WINDOW_MS;

  it.each<{ name: string; logical: LogicalEvent; now: number; outcome: WindowOutcome }>([
    {
      name: "only the webhook, before Event Grid's retries are due: it waits for its twin until then",
      logical: logical({ webhook: wh }),
      now: twinRetried - 1,
      outcome: { state: "open", recover: false, until: twinRetried },
    },
    {
      name: "only the webhook, once Event Grid's retries are due: a webhook-only finding",
      logical: logical({ webhook: wh }),
      now: twinRetried,
      outcome: { state: "webhook-only", recover: false },
    },
    {
      name: "both sides: matched, nothing to wait for",
      logical: logical({ webhook: wh, eventGrid: eg }),
      now: T0 + WINDOW_MS,
      outcome: { state: "matched", recover: false },
    },
    {
      name: "only Event Grid: recovered, its webhook is not retried",
      logical: egOnly,
      now: T0 + WINDOW_MS,
      outcome: { state: "eventgrid-only", recover: true },
    },
    {
      name: "a mismatch: final, whatever is retried",
      logical: logical({ webhook: wh, mismatchedIds: ["evt-1"] }),
      now: T0 + WINDOW_MS,
      outcome: { state: "mismatched", recover: false },
    },
  ])("after an outage, $name", ({ logical, now, outcome }) => {
    expect(windowVerdict(logical, { recoveryEnabled: true }, { twinRetried, now })).toStrictEqual(
      outcome,
    );
  });
});

describe("withVerdict: a close's verdict on the logical event as it is now", () => {
  const wh = side(["evt-1"], T0);
  const eg = side(["evt-1"], T0 + 10);
  const joinedAt = T0 + WINDOW_MS + 5_000;

  it.each<{ name: string; current: LogicalEvent; verdict: Verdict; late?: LateMatch }>([
    {
      name: "a webhook-only close, no twin: the verdict",
      current: logical({ webhook: wh }),
      verdict: "webhook-only",
    },
    {
      name: "a webhook-only close the Event Grid twin joined: a late match",
      current: logical({ webhook: wh, eventGrid: side(["evt-1"], joinedAt) }),
      verdict: "webhook-only",
      late: {
        finding: "webhook-only",
        at: joinedAt,
        delayMs: joinedAt - T0,
        findingResolved: false,
      },
    },
    {
      name: "an eventgrid-only close the webhook joined: a late match",
      current: logical({ eventGrid: eg, webhook: side(["evt-1"], joinedAt) }),
      verdict: "eventgrid-only",
      late: {
        finding: "eventgrid-only",
        at: joinedAt,
        delayMs: T0 + 10 - joinedAt,
        findingResolved: false,
      },
    },
    {
      name: "a quarantine-held close, no webhook: the verdict",
      current: logical({ eventGrid: eg }),
      verdict: "quarantine-held",
    },
    {
      name: "a quarantine-held close the released webhook joined: a late match",
      current: logical({ eventGrid: eg, webhook: side(["evt-1"], joinedAt) }),
      verdict: "quarantine-held",
      late: {
        finding: "quarantine-held",
        at: joinedAt,
        delayMs: T0 + 10 - joinedAt,
        findingResolved: false,
      },
    },
    {
      name: "a matched close: the verdict",
      current: logical({ webhook: wh, eventGrid: eg }),
      verdict: "matched",
    },
    {
      name: "a mismatched close the twin joined: the verdict, not late",
      current: logical({ webhook: wh, eventGrid: eg, mismatchedIds: ["evt-1"] }),
      verdict: "mismatched",
    },
  ])("$name", ({ current, verdict, late }) => {
    const settled = withVerdict(current, verdict);
    expect(settled).toStrictEqual(
      late ? { ...current, state: "matched", late } : { ...current, state: verdict },
    );
    expect(awaitsResolution(settled)).toBe(late !== undefined);
  });
});

describe("differingFields", () => {
  it.each<{ name: string; b: Partial<RegistryEvent>; fields: string[] }>([
    { name: "identical", b: {}, fields: [] },
    {
      name: "another id, region, time and origin",
      b: {
        eventId: "x",
        region: "eastus",
        occurredAt: 1,
        timestamp: "t",
        origin: "eventgrid",
        mediaType: "m",
      },
      fields: [],
    },
    { name: "another tag", b: { tag: "v2" }, fields: ["tag"] },
    { name: "a missing tag", b: { tag: undefined }, fields: ["tag"] },
    { name: "an empty tag", b: { tag: "" }, fields: ["tag"] },
    { name: "another registry", b: { registry: "other.azurecr.io" }, fields: ["registry"] },
    {
      name: "several fields, in a fixed order",
      b: { tag: "v2", digest: "sha256:def", repository: "other", action: "delete" },
      fields: ["action", "repository", "digest", "tag"],
    },
  ])("$name -> $fields", ({ b, fields }) => {
    expect(differingFields(webhook(), eventGrid(b))).toEqual(fields);
    expect(differingFields(eventGrid(b), webhook())).toEqual(fields);
  });

  it("treats undefined and empty as the same", () => {
    expect(differingFields(webhook({ tag: undefined }), eventGrid({ tag: "" }))).toEqual([]);
  });
});

describe("twinDelayMs", () => {
  it.each<{ name: string; logical: LogicalEvent; delay: number | undefined }>([
    {
      name: "Event Grid after the webhook",
      logical: logical({ webhook: side(["a"], T0), eventGrid: side(["a"], T0 + 750) }),
      delay: 750,
    },
    {
      name: "Event Grid before the webhook",
      logical: logical({ webhook: side(["a"], T0 + 750), eventGrid: side(["a"], T0) }),
      delay: -750,
    },
    { name: "webhook only", logical: logical({ webhook: side(["a"], T0) }), delay: undefined },
    { name: "Event Grid only", logical: logical({ eventGrid: side(["a"], T0) }), delay: undefined },
  ])("$name -> $delay", ({ logical, delay }) => {
    expect(twinDelayMs(logical)).toBe(delay);
  });

  it("measures from each side's first arrival", () => {
    let current = withArrival(undefined, webhook(), T0, WINDOW_MS);
    current = withArrival(current, eventGrid(), T0 + 200, WINDOW_MS);
    // Other regions' arrivals of the same push.
    current = withArrival(
      current,
      webhook({ eventId: "evt-2", region: "eastus" }),
      T0 + 900,
      WINDOW_MS,
    );
    current = withArrival(
      current,
      eventGrid({ eventId: "evt-2", region: "eastus" }),
      T0 + 1_000,
      WINDOW_MS,
    );
    expect(twinDelayMs(current)).toBe(200);
  });
});

describe("occurrences while the window is open", () => {
  it("the same region sending a new id is the content happening again: a new occurrence", () => {
    const first = withArrival(undefined, webhook({ region: "westeurope" }), T0, WINDOW_MS);
    const again = withArrival(
      first,
      webhook({ eventId: "evt-9", region: "westeurope" }),
      T0 + 60_000,
      WINDOW_MS,
    );
    expect(again.occurrence).toBe(2);
    expect(again.webhook?.eventIds).toEqual(["evt-9"]);
    expect(again.windowClosesAt).toBe(T0 + 60_000 + WINDOW_MS);
  });

  it("with no regions told apart, a new id on the same side is a new occurrence", () => {
    const first = withArrival(undefined, webhook(), T0, WINDOW_MS);
    expect(withArrival(first, webhook({ eventId: "evt-9" }), T0 + 1, WINDOW_MS).occurrence).toBe(2);
  });

  it("another region's arrival, a repeated id, or the other side's twin stay in the occurrence", () => {
    const first = withArrival(undefined, webhook({ region: "westeurope" }), T0, WINDOW_MS);
    for (const arrival of [
      webhook({ eventId: "evt-9", region: "eastus" }),
      webhook({ region: "westeurope" }),
      eventGrid({ eventId: "evt-7", region: "westeurope" }),
    ]) {
      expect(withArrival(first, arrival, T0 + 1, WINDOW_MS).occurrence).toBe(1);
    }
  });

  it("a recurrence has a message id of its own; the first keeps the plain content id", () => {
    const event = webhook();
    expect(messageIdFor(event, 1)).toBe(messageIdFor(event));
    expect(messageIdFor(event, 2)).not.toBe(messageIdFor(event));
    expect(messageIdFor(event, 2)).not.toBe(messageIdFor(event, 3));
  });
});

describe("expectsTwin", () => {
  it.each([
    ["push", true],
    ["delete", true],
    ["chart_push", true],
    ["chart_delete", true],
    ["quarantine", false],
    ["ping", false],
    ["untag", false],
    ["PUSH", false],
    ["", false],
  ])("%s -> %s", (action, expected) => {
    expect(expectsTwin(action)).toBe(expected);
  });

  it("covers every publishable action but quarantine", () => {
    expect(PUBLISHABLE_ACTIONS.filter(expectsTwin)).toEqual([
      "push",
      "delete",
      "chart_push",
      "chart_delete",
    ]);
  });
});

describe("logicalKeyFor", () => {
  it.each<{ name: string; event: RegistryEvent }>([
    { name: "a webhook push", event: webhook() },
    { name: "an Event Grid push", event: eventGrid() },
    { name: "a delete", event: webhook({ action: "delete", tag: undefined }) },
    { name: "an event without a digest", event: webhook({ digest: undefined }) },
  ])("$name: equals its topic message id", ({ event }) => {
    expect(logicalKeyFor(event)).toBe(topicMessageFor(event).messageId);
  });

  it.each<{ name: string; a: RegistryEvent; b: RegistryEvent; same: boolean }>([
    {
      name: "both sides of one push, different ids and regions",
      a: webhook(),
      b: eventGrid({ eventId: "eg-9", region: "eastus" }),
      same: true,
    },
    { name: "another tag of the digest", a: webhook(), b: webhook({ tag: "v2" }), same: false },
    { name: "another digest", a: webhook(), b: webhook({ digest: "sha256:def" }), same: false },
    { name: "another action", a: webhook(), b: webhook({ action: "delete" }), same: false },
    {
      name: "another registry",
      a: webhook(),
      b: webhook({ registry: "other.azurecr.io" }),
      same: false,
    },
    {
      name: "without digest, the same id",
      a: webhook({ digest: undefined }),
      b: eventGrid({ digest: undefined }),
      same: true,
    },
    {
      name: "without digest, another id",
      a: webhook({ digest: undefined }),
      b: webhook({ digest: undefined, eventId: "evt-2" }),
      same: false,
    },
  ])("$name: same key $same", ({ a, b, same }) => {
    expect(logicalKeyFor(a) === logicalKeyFor(b)).toBe(same);
  });
});

describe("publishedBy", () => {
  it.each<{ name: string; logical: LogicalEvent | undefined; by: string | undefined }>([
    { name: "no logical event", logical: undefined, by: undefined },
    { name: "never published", logical: logical(), by: undefined },
    {
      name: "published by the webhook, first occurrence",
      logical: logical({ publication: { by: "webhook", occurrence: 1 } }),
      by: "webhook",
    },
    {
      name: "recovered from Event Grid, a row written before occurrences were counted",
      logical: logical({ occurrence: undefined, publication: { by: "eventgrid", occurrence: 1 } }),
      by: "eventgrid",
    },
    {
      name: "published for the second occurrence, which is current",
      logical: logical({ occurrence: 2, publication: { by: "webhook", occurrence: 2 } }),
      by: "webhook",
    },
    {
      name: "published for an earlier occurrence only",
      logical: logical({ occurrence: 3, publication: { by: "webhook", occurrence: 2 } }),
      by: undefined,
    },
  ])("$name -> $by", ({ logical, by }) => {
    expect(publishedBy(logical)).toBe(by);
  });
});

describe("tagsPushedFor", () => {
  const deletion = webhook({ action: "delete", tag: undefined });

  it.each<{ name: string; event: RegistryEvent; digestTags: string[]; tags: string[] }>([
    {
      name: "the digest's tags, sorted, once each",
      event: deletion,
      digestTags: ["v2", "latest", "v2"],
      tags: ["latest", "v2"],
    },
    {
      name: "nothing for a delete without a digest",
      event: webhook({ action: "delete", tag: undefined, digest: undefined }),
      digestTags: ["v1"],
      tags: [],
    },
    { name: "nothing when no push was seen", event: deletion, digestTags: [], tags: [] },
    {
      name: "nothing for a push: only deletes are enriched",
      event: webhook({ eventId: "evt-2" }),
      digestTags: ["v1", "v2"],
      tags: [],
    },
  ])("$name", ({ event, digestTags, tags }) => {
    expect(tagsPushedFor(event, digestTags)).toEqual(tags);
  });
});

describe("withMismatches", () => {
  const own = webhook({ eventId: "same" });
  const webhookOnly = logical({ webhook: side(["same"], T0) });

  it.each<{ name: string; other: RegistryEvent[]; mismatchedIds: string[] }>([
    {
      name: "the other side's arrival under the same id with another tag",
      other: [eventGrid({ eventId: "same", tag: "v2" })],
      mismatchedIds: ["same"],
    },
    {
      name: "the other side's arrival under the same id with the same fields",
      other: [eventGrid({ eventId: "same" })],
      mismatchedIds: [],
    },
    {
      name: "another id with other fields",
      other: [eventGrid({ eventId: "other", tag: "v2" })],
      mismatchedIds: [],
    },
    { name: "nothing on the other side", other: [], mismatchedIds: [] },
  ])("$name -> $mismatchedIds", ({ other, mismatchedIds }) => {
    expect(withMismatches(webhookOnly, [own], other).mismatchedIds).toEqual(mismatchedIds);
  });

  it("returns the logical event itself when nothing disagrees", () => {
    expect(withMismatches(webhookOnly, [own], [eventGrid({ eventId: "same" })])).toBe(webhookOnly);
  });

  it("adds each id once to those already flagged, changing nothing else", () => {
    const flagged = logical({ webhook: side(["a", "same"], T0), mismatchedIds: ["a"] });
    const updated = withMismatches(
      flagged,
      [webhook({ eventId: "a" }), own],
      [eventGrid({ eventId: "same", digest: "sha256:def" }), eventGrid({ eventId: "a", tag: "x" })],
    );
    expect(updated).toStrictEqual({ ...flagged, mismatchedIds: ["a", "same"] });
    expect(flagged.mismatchedIds).toEqual(["a"]);
  });
});

describe("isOneSided", () => {
  it.each<{ name: string; logical: LogicalEvent; oneSided: boolean }>([
    { name: "webhook only", logical: logical({ webhook: side(["a"], T0) }), oneSided: true },
    { name: "Event Grid only", logical: logical({ eventGrid: side(["a"], T0) }), oneSided: true },
    {
      name: "both sides",
      logical: logical({ webhook: side(["a"], T0), eventGrid: side(["a"], T0) }),
      oneSided: false,
    },
    { name: "no side", logical: logical(), oneSided: false },
  ])("$name -> $oneSided", ({ logical, oneSided }) => {
    expect(isOneSided(logical)).toBe(oneSided);
  });
});

describe("logicalRefFor", () => {
  it("names the logical event by its key, registry, repository and digest", () => {
    const event = eventGrid({ eventId: "eg-7", tag: "v3" });
    expect(logicalRefFor(event)).toStrictEqual({
      key: logicalKeyFor(event),
      registry: "myregistry.azurecr.io",
      repository: "hello-world",
      digest: "sha256:abc",
    });
  });
});

describe("waitsForTwin", () => {
  it.each<{ name: string; event: RegistryEvent; waits: boolean }>([
    { name: "a webhook push", event: webhook(), waits: true },
    { name: "an Event Grid delete", event: eventGrid({ action: "delete" }), waits: true },
    {
      name: "an Event Grid push of a connected registry (which sends no webhook)",
      event: eventGrid({ connectedRegistry: "edge01" }),
      waits: false,
    },
    { name: "a quarantine", event: webhook({ action: "quarantine" }), waits: false },
  ])("$name -> $waits", ({ event, waits }) => {
    expect(waitsForTwin(event)).toBe(waits);
  });
});

describe("quarantines", () => {
  it.each<{ name: string; event: RegistryEvent; kept: boolean }>([
    {
      name: "a quarantine of a digest is kept",
      event: webhook({ action: "quarantine" }),
      kept: true,
    },
    {
      name: "a quarantine without a digest is not",
      event: webhook({ action: "quarantine", digest: undefined }),
      kept: false,
    },
    { name: "a push is not a quarantine", event: webhook(), kept: false },
  ])("$name", ({ event, kept }) => {
    expect(keepsQuarantine(event)).toBe(kept);
  });

  it("a digest is quarantined when its logical events include a quarantine of it", () => {
    const quarantine = logical({ action: "quarantine", state: "no-twin" });
    const push = logical({ eventGrid: side(["eg-1"], T0) });
    expect(isQuarantined([push, quarantine], "sha256:abc")).toBe(true);
    expect(isQuarantined([push, quarantine], "sha256:def")).toBe(false);
    expect(isQuarantined([push], "sha256:abc")).toBe(false);
  });
});

describe("crossCheckOf: where an event's cross-check stands", () => {
  const recordOf = (event: RegistryEvent, crossCheck?: string): DeliveryRecord => ({
    ...newRecord({
      event,
      route: { kind: "topic", topic: "acr-push" },
      receivedAt: T0,
      request: { method: "POST", uri: "/api/acr/webhook", headers: {} },
    }),
    crossCheck,
  });

  it.each<[string, LogicalEvent | undefined, DeliveryRecord[], string]>([
    [
      "its logical event's state first",
      logical({ state: "matched" }),
      [recordOf(webhook(), "webhook-only")],
      "matched",
    ],
    [
      "else the verdict on its record",
      undefined,
      [recordOf(webhook(), "webhook-only")],
      "webhook-only",
    ],
    ["a push still waiting for its twin", undefined, [recordOf(webhook())], "open"],
    [
      "a quarantine, which has no twin",
      undefined,
      [recordOf(webhook({ action: "quarantine" }))],
      "not cross-checked",
    ],
    [
      "a quarantine of a digest, whose no-twin logical event only serves a held push",
      logical({ action: "quarantine", state: "no-twin" }),
      [recordOf(webhook({ action: "quarantine" }))],
      "not cross-checked",
    ],
    [
      "a connected registry's push, which has no webhook",
      undefined,
      [recordOf(eventGrid({ connectedRegistry: "edge-1" }))],
      "not cross-checked",
    ],
    ["nothing recorded", undefined, [], "not cross-checked"],
  ])("%s", (_name, logicalEvent, records, expected) => {
    expect(crossCheckOf(logicalEvent, records)).toBe(expected);
  });
});
