import { describe, expect, it } from "vitest";
import { CLOUD_EVENT_TYPE_PREFIX } from "../../src/core/cloudEvent";
import {
  DISCREPANCY_KINDS,
  type DiscrepancyKind,
  type LogicalEvent,
} from "../../src/core/crossCheck";
import {
  type Discrepancy,
  discrepancyFor,
  discrepancyMessage,
  resolvedBy,
} from "../../src/core/discrepancy";
import { T0 } from "./memoryPorts";

const CLOSES_AT = T0 + 300_000;
const LOGICAL_KEY = "0123456789abcdef0123456789abcdef";
/** The image a logical event is about, which each of its findings names. */
const IMAGE = {
  registry: "myregistry.azurecr.io",
  action: "push",
  repository: "team/hello-world",
  tag: "v1",
  digest: "sha256:abc",
} as const;

function logical(overrides: Partial<LogicalEvent> = {}): LogicalEvent {
  return {
    key: LOGICAL_KEY,
    ...IMAGE,
    firstSeenAt: T0,
    windowClosesAt: CLOSES_AT,
    state: "open",
    mismatchedIds: [],
    ...overrides,
  };
}

function finding(overrides: Partial<Discrepancy> = {}): Discrepancy {
  return {
    kind: "eventgrid-only",
    logicalKey: LOGICAL_KEY,
    ...IMAGE,
    detectedAt: CLOSES_AT,
    state: "open",
    webhookEventIds: [],
    eventGridEventIds: ["eg-1"],
    regions: ["westeurope"],
    recovered: true,
    ...overrides,
  };
}

describe("discrepancyFor", () => {
  it.each<{
    name: string;
    logical: LogicalEvent;
    kind: DiscrepancyKind;
    recovered: boolean;
    expected: Partial<Discrepancy>;
  }>([
    {
      name: "webhook only",
      logical: logical({
        webhook: {
          eventIds: ["wh-1", "wh-2"],
          regions: ["westeurope", "eastus"],
          firstAt: T0,
          count: 3,
        },
      }),
      kind: "webhook-only",
      recovered: false,
      expected: {
        webhookEventIds: ["wh-1", "wh-2"],
        eventGridEventIds: [],
        regions: ["westeurope", "eastus"],
        recovered: false,
      },
    },
    {
      name: "Event Grid only, recovered",
      logical: logical({
        eventGrid: { eventIds: ["eg-1"], regions: ["westeurope"], firstAt: T0, count: 1 },
        publication: { by: "eventgrid", occurrence: 1 },
      }),
      kind: "eventgrid-only",
      recovered: true,
      expected: {
        webhookEventIds: [],
        eventGridEventIds: ["eg-1"],
        regions: ["westeurope"],
        recovered: true,
      },
    },
    {
      name: "mismatched, regions of both sides merged without repeats",
      logical: logical({
        webhook: { eventIds: ["same"], regions: ["westeurope", "eastus"], firstAt: T0, count: 1 },
        eventGrid: {
          eventIds: ["same"],
          regions: ["eastus", "northeurope"],
          firstAt: T0,
          count: 1,
        },
        mismatchedIds: ["same"],
      }),
      kind: "mismatched",
      recovered: false,
      expected: {
        webhookEventIds: ["same"],
        eventGridEventIds: ["same"],
        regions: ["westeurope", "eastus", "northeurope"],
        recovered: false,
      },
    },
  ])("$name", ({ logical, kind, recovered, expected }) => {
    expect(discrepancyFor(logical, kind, recovered)).toStrictEqual({
      kind,
      logicalKey: LOGICAL_KEY,
      occurrence: 1,
      ...IMAGE,
      detectedAt: CLOSES_AT,
      state: "open",
      ...expected,
    });
  });

  it("names the occurrence of content that happened again", () => {
    const found = discrepancyFor(logical({ occurrence: 3 }), "webhook-only", false);
    expect(found.occurrence).toBe(3);
  });

  it("is detected when the window closed, whenever the close ran", () => {
    const a = discrepancyFor(logical({ windowClosesAt: 1_000 }), "webhook-only", false);
    expect(a.detectedAt).toBe(1_000);
  });

  it("a delete keeps its missing tag", () => {
    const found = discrepancyFor(
      logical({ action: "delete", tag: undefined }),
      "webhook-only",
      false,
    );
    expect(found).toMatchObject({ action: "delete", tag: undefined });
  });
});

describe("discrepancyMessage", () => {
  it("is a CloudEvent of the discrepancy type carrying the finding", () => {
    const message = discrepancyMessage(finding());
    expect(message).toStrictEqual({
      messageId: message.messageId,
      contentType: "application/cloudevents+json",
      subject: "team/hello-world:v1",
      body: {
        specversion: "1.0",
        id: message.messageId,
        source: "https://myregistry.azurecr.io",
        type: `${CLOUD_EVENT_TYPE_PREFIX}discrepancy.eventgrid-only`,
        subject: "team/hello-world:v1",
        time: new Date(CLOSES_AT).toISOString(),
        datacontenttype: "application/json",
        data: { ...finding() },
      },
      applicationProperties: {
        kind: "eventgrid-only",
        ...IMAGE,
        recovered: "true",
        logicalKey: LOGICAL_KEY,
        state: "open",
      },
    });
    expect(message.messageId).toMatch(/^[0-9a-f]{32}$/);
    expect(JSON.parse(JSON.stringify(message.body))).toEqual(message.body);
  });

  it.each(DISCREPANCY_KINDS)("the %s type is com.azure.acr.discrepancy.<kind>", (kind) => {
    expect(discrepancyMessage(finding({ kind })).body.type).toBe(
      `com.azure.acr.discrepancy.${kind}`,
    );
  });

  it.each<{
    name: string;
    overrides: Partial<Discrepancy>;
    subject: string | undefined;
    absent: string[];
  }>([
    {
      name: "a delete without a tag",
      overrides: { action: "delete", tag: undefined },
      subject: "team/hello-world",
      absent: ["tag"],
    },
    {
      name: "no repository or digest",
      overrides: { repository: undefined, tag: undefined, digest: undefined },
      subject: undefined,
      absent: ["repository", "tag", "digest"],
    },
    {
      name: "a tag but no repository",
      overrides: { repository: undefined },
      subject: undefined,
      absent: ["repository"],
    },
    {
      name: "not recovered",
      overrides: { recovered: false },
      subject: "team/hello-world:v1",
      absent: [],
    },
  ])("$name: only the defined properties", ({ overrides, subject, absent }) => {
    const message = discrepancyMessage(finding(overrides));
    expect(message.subject).toBe(subject);
    expect(message.body.subject).toBe(subject);
    // CloudEvents: a subject, when there is one, is never empty.
    if (subject === undefined) expect(message.body).not.toHaveProperty("subject");
    for (const name of absent) expect(message.applicationProperties).not.toHaveProperty(name);
    expect(
      Object.values(message.applicationProperties).every((value) => typeof value === "string"),
    ).toBe(true);
    expect(message.applicationProperties.recovered).toBe(String(finding(overrides).recovered));
  });

  it.each<{ name: string; other: Partial<Discrepancy>; same: boolean }>([
    {
      name: "a re-run close (other ids, regions, recovery)",
      other: { eventGridEventIds: ["eg-2"], regions: [], recovered: false, detectedAt: 1 },
      same: true,
    },
    { name: "another kind of the same logical event", other: { kind: "mismatched" }, same: false },
    {
      name: "another logical event",
      other: { logicalKey: "fedcba9876543210fedcba9876543210" },
      same: false,
    },
    { name: "the first occurrence named", other: { occurrence: 1 }, same: true },
    {
      name: "the same content happening again (its own window, its own finding)",
      other: { occurrence: 2, detectedAt: CLOSES_AT + 600_000 },
      same: false,
    },
  ])(
    "the id is stable per logical key, occurrence and kind: $name -> same $same",
    ({ other, same }) => {
      const a = discrepancyMessage(finding());
      const b = discrepancyMessage(finding(other));
      expect(a.messageId === b.messageId).toBe(same);
      expect(b.body.id).toBe(b.messageId);
    },
  );

  it("a finding's id never equals its event's topic message id (the logical key)", () => {
    const message = discrepancyMessage(finding());
    expect(message.messageId).not.toBe(finding().logicalKey);
  });
});

describe("a finding resolved by a late twin", () => {
  const LATE_AT = CLOSES_AT + 120_000;

  it.each<{ name: string; delayMs: number }>([
    { name: "Event Grid came late", delayMs: LATE_AT - T0 },
    { name: "the webhook came late (negative delay)", delayMs: T0 - LATE_AT },
  ])("$name: the same finding, resolved, with how late it was", ({ delayMs }) => {
    const open = finding();
    const late = { finding: open.kind, at: LATE_AT, delayMs, findingResolved: false };
    expect(resolvedBy(open, late)).toStrictEqual({
      ...open,
      state: "resolved",
      resolution: "late-twin",
      resolvedAt: LATE_AT,
      lateByMs: LATE_AT - T0,
    });
  });

  it("its message has its own stable id and carries the logical key, state and resolution", () => {
    const late = {
      finding: "eventgrid-only" as const,
      at: LATE_AT,
      delayMs: 1,
      findingResolved: false,
    };
    const resolved = resolvedBy(finding(), late);
    const message = discrepancyMessage(resolved);
    expect(message.messageId).not.toBe(discrepancyMessage(finding()).messageId);
    expect(discrepancyMessage(resolvedBy(finding({ regions: [] }), late)).messageId).toBe(
      message.messageId,
    );
    expect(message.body.type).toBe(`${CLOUD_EVENT_TYPE_PREFIX}discrepancy.eventgrid-only`);
    expect(message.body.data).toEqual(resolved);
    expect(message.applicationProperties).toMatchObject({
      kind: "eventgrid-only",
      logicalKey: LOGICAL_KEY,
      state: "resolved",
      resolution: "late-twin",
    });
  });

  it("an open finding's message has no resolution property", () => {
    expect(discrepancyMessage(finding()).applicationProperties).not.toHaveProperty("resolution");
  });
});
