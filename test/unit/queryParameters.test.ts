import { describe, expect, it } from "vitest";
import type { Parsed } from "../../src/core/acrWebhookPayload";
import {
  decodeContinuationToken,
  encodeContinuationToken,
} from "../../src/query/continuationToken";
import {
  DEFAULT_LIMIT,
  MAX_LIMIT,
  parseDiscrepanciesQuery,
  parseEventId,
  parseEventsQuery,
  parseStatsQuery,
} from "../../src/query/queryParameters";

const NOW = Date.parse("2026-05-01T12:00:00Z");
const HOUR = 3_600_000;

const events = (query: string) => parseEventsQuery(new URLSearchParams(query), NOW);
const discrepancies = (query: string) => parseDiscrepanciesQuery(new URLSearchParams(query), NOW);
const stats = (query: string) => parseStatsQuery(new URLSearchParams(query), NOW);

function issuePaths(parsed: Parsed<unknown>): string[] {
  return parsed.ok ? [] : parsed.failure.map((issue) => issue.path);
}

describe("query parameters", () => {
  it("defaults to the last 24 hours, 50 items, no filter", () => {
    const parsed = events("");
    if (!parsed.ok) throw new Error("refused");
    expect(parsed.value.window).toEqual({ from: NOW - 24 * HOUR, to: NOW });
    expect(parsed.value.limit).toBe(DEFAULT_LIMIT);
    expect(parsed.value.filter).toEqual({ by: "arrived" });
    expect(parsed.value.after).toBeUndefined();
  });

  it.each([
    [
      "from=2026-04-30T00:00:00Z&to=2026-04-30T06:00:00Z",
      "2026-04-30T00:00:00Z",
      "2026-04-30T06:00:00Z",
    ],
    [
      "from=2026-04-30T02:00:00%2B02:00&to=2026-04-30",
      "2026-04-30T00:00:00Z",
      "2026-04-30T00:00:00Z",
    ],
    ["to=2026-04-30T06:00:00.1234567Z", "2026-04-29T06:00:00.123Z", "2026-04-30T06:00:00.123Z"],
    ["from=2026-05-01T11:00:00Z", "2026-05-01T11:00:00Z", "2026-05-01T12:00:00Z"],
  ])("reads the window of %s", (query, from, to) => {
    const parsed = events(query);
    expect(parsed.ok && parsed.value.window).toEqual({
      from: Date.parse(from),
      to: Date.parse(to),
    });
  });

  it.each([
    ["from=yesterday", "query.from"],
    ["to=2026-04-30T06:00:00", "query.to"],
    ["from=2026-02-30T00:00:00Z", "query.from"],
    ["from=2026-05-01T12:00:01Z", "query.from"],
    ["from=2026-04-30T00:00:00Z&to=2026-04-29T00:00:00Z", "query.from"],
    ["limit=0", "query.limit"],
    [`limit=${MAX_LIMIT + 1}`, "query.limit"],
    ["limit=ten", "query.limit"],
    ["limit=1.5", "query.limit"],
    ["limit=-1", "query.limit"],
    ["limit=1&limit=2", "query.limit"],
    ["action=PUSH", "query.action"],
    ["action=push;drop", "query.action"],
    ["state=lost", "query.state"],
    ["artifactKind=chart", "query.artifactKind"],
    ["tagged=yes", "query.tagged"],
    ["repository=a%00b", "query.repository"],
    ["registry=a%01b", "query.registry"],
    // Longer, percent-encoded, than any recorded registry: the store could not look it up.
    [`registry=${encodeURIComponent("é".repeat(255))}`, "query.registry"],
    ["registry=%20%20", "query.registry"],
    ["continuationToken=not-a-token", "query.continuationToken"],
  ])("refuses %s naming %s", (query, path) => {
    const parsed = events(query);
    expect(parsed.ok).toBe(false);
    expect(issuePaths(parsed)).toEqual([path]);
  });

  it.each([
    ["from=2026-05-01T12:00:01Z", "must not be after now"],
    ["from=2026-05-01T12:00:01Z&to=2026-05-01T12:00:00Z", "must not be after to"],
    ["from=2026-03-01", "must be at most 31 days before now"],
  ])("says of %s that from %s", (query, message) => {
    const parsed = events(query);
    expect(parsed.ok ? [] : parsed.failure).toEqual([{ path: "query.from", message }]);
  });

  it("accepts the largest limit and ignores parameters it does not know, such as the function key", () => {
    const parsed = events(`limit=${MAX_LIMIT}&code=secret-key&registry=`);
    expect(parsed.ok && parsed.value.limit).toBe(MAX_LIMIT);
    expect(parsed.ok && parsed.value.filter).toEqual({ by: "arrived" });
  });

  it("lower-cases the registry and splits state into publish state and cross-check verdict", () => {
    const published = events(
      "registry=MyRegistry.AzureCR.io&repository=team/api&action=push&state=published",
    );
    expect(published.ok && published.value.filter).toEqual({
      by: "arrived",
      registry: "myregistry.azurecr.io",
      repository: "team/api",
      action: "push",
      publishState: "published",
    });
    const verdict = events("state=webhook-only");
    expect(verdict.ok && verdict.value.filter).toEqual({
      by: "arrived",
      crossCheck: "webhook-only",
    });
    const occurred = events("by=occurred");
    expect(occurred.ok && occurred.value.filter).toEqual({ by: "occurred" });
    expect(issuePaths(events("by=received"))).toEqual(["query.by"]);
  });

  it("reads the artifact kind and tagged filters", () => {
    const parsed = events("artifactKind=index&tagged=true&state=dead");
    expect(parsed.ok && parsed.value.filter).toEqual({
      by: "arrived",
      artifactKind: "index",
      tagged: "true",
      publishState: "dead",
    });
  });

  it("reads a discrepancy kind, and refuses any other", () => {
    const parsed = discrepancies("kind=eventgrid-only&registry=r.azurecr.io");
    expect(parsed.ok && parsed.value.filter).toEqual({
      kind: "eventgrid-only",
      registry: "r.azurecr.io",
      state: "open",
    });
    const held = discrepancies("kind=quarantine-held");
    expect(held.ok && held.value.filter.kind).toBe("quarantine-held");
    expect(issuePaths(discrepancies("kind=matched"))).toEqual(["query.kind"]);
  });

  it("lists open findings unless resolved ones are asked for, and refuses any other state", () => {
    const open = discrepancies("");
    expect(open.ok && open.value.filter.state).toBe("open");
    const resolved = discrepancies("state=resolved");
    expect(resolved.ok && resolved.value.filter.state).toBe("resolved");
    expect(issuePaths(discrepancies("state=closed"))).toEqual(["query.state"]);
    expect(issuePaths(discrepancies("state=matched"))).toEqual(["query.state"]);
  });

  it.each([
    ["events", events],
    ["discrepancies", discrepancies],
  ])("limits a %s window to 31 days, so a filtered query's reads stay bounded", (_name, parse) => {
    expect(parse("from=2026-03-31T12:00:00Z").ok).toBe(true);
    expect(issuePaths(parse("from=2026-03-31T11:59:59Z"))).toEqual(["query.from"]);
    expect(issuePaths(parse("from=0001-01-01T00:00:00Z&repository=none"))).toEqual(["query.from"]);
  });

  it("limits statistics to 31 days", () => {
    const month = "from=2026-03-31T12:00:00Z&to=2026-05-01T12:00:00Z";
    expect(stats(month)).toEqual({
      ok: true,
      value: { window: { from: NOW - 31 * 24 * HOUR, to: NOW }, registry: undefined },
    });
    expect(issuePaths(stats("from=2026-03-31T11:59:59Z"))).toEqual(["query.from"]);
  });

  it("reads an event id, and refuses one the bridge would not have recorded", () => {
    expect(parseEventId("31c51664-e5bd-416a-a5df-e5206bc47ed0")).toEqual({
      ok: true,
      value: "31c51664-e5bd-416a-a5df-e5206bc47ed0",
    });
    expect(issuePaths(parseEventId(""))).toEqual(["route.id"]);
    expect(issuePaths(parseEventId("é".repeat(200)))).toEqual(["route.id"]);
    // 480 characters percent-encoded is the most an intake takes; 511 was let through.
    expect(parseEventId(`${"%".repeat(160)}`).ok).toBe(true);
    expect(issuePaths(parseEventId(`${"%".repeat(160)}a`))).toEqual(["route.id"]);
    expect(issuePaths(parseEventId(`${"%".repeat(170)}a`))).toEqual(["route.id"]);
  });
});

describe("continuation token", () => {
  const cursor = {
    window: { from: NOW - HOUR, to: NOW },
    after: { rowKey: "8222222222222|evt-1|webhook", sourceKey: "r.azurecr.io" },
  };

  it("is base64url JSON of the position and comes back whole", () => {
    const token = encodeContinuationToken(cursor, "fingerprint");
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(JSON.parse(Buffer.from(token, "base64url").toString())).toMatchObject({
      from: cursor.window.from,
      to: cursor.window.to,
      rowKey: cursor.after.rowKey,
    });
    expect(decodeContinuationToken(token, "fingerprint")).toEqual(cursor);
  });

  it.each<[string, (token: string) => string]>([
    ["an edited position", (token) => edit(token, { rowKey: "0000000000000|x|webhook" })],
    ["an edited window", (token) => edit(token, { from: 0 })],
    ["an unknown field", (token) => edit(token, { extra: 1 })],
    ["a truncated token", (token) => token.slice(0, -5)],
    ["not base64url JSON", () => "%%%"],
    ["JSON of another shape", () => Buffer.from("[1,2]").toString("base64url")],
  ])("refuses %s", (_name, tamper) => {
    expect(
      decodeContinuationToken(
        tamper(encodeContinuationToken(cursor, "fingerprint")),
        "fingerprint",
      ),
    ).toBeUndefined();
  });

  it("pages on with the window it started with, refusing it for another query", () => {
    const first = events("registry=r.azurecr.io&limit=2");
    if (!first.ok) throw new Error("refused");
    const token = encodeContinuationToken(
      { window: first.value.window, after: cursor.after },
      first.value.fingerprint,
    );
    const later = parseEventsQuery(
      new URLSearchParams(`registry=r.azurecr.io&limit=5&continuationToken=${token}`),
      NOW + HOUR,
    );
    expect(later).toEqual({
      ok: true,
      value: expect.objectContaining({ window: first.value.window, after: cursor.after, limit: 5 }),
    });
    for (const other of [
      `registry=s.azurecr.io&continuationToken=${token}`,
      `registry=r.azurecr.io&action=push&continuationToken=${token}`,
      `registry=r.azurecr.io&to=2026-05-01T00:00:00Z&continuationToken=${token}`,
    ]) {
      expect(issuePaths(events(other))).toEqual(["query.continuationToken"]);
    }
    expect(issuePaths(discrepancies(`registry=r.azurecr.io&continuationToken=${token}`))).toEqual([
      "query.continuationToken",
    ]);
  });

  it("refuses a token made by hand for a window no query may read (the check is no secret)", () => {
    const first = events("limit=2");
    if (!first.ok) throw new Error("refused");
    for (const window of [
      { from: 0, to: NOW },
      { from: NOW, to: NOW - HOUR },
    ]) {
      const forged = encodeContinuationToken(
        { window, after: cursor.after },
        first.value.fingerprint,
      );
      expect(issuePaths(events(`limit=2&continuationToken=${forged}`))).toEqual([
        "query.continuationToken",
      ]);
    }
  });
});

function edit(token: string, change: Record<string, unknown>): string {
  const body = JSON.parse(Buffer.from(token, "base64url").toString());
  return Buffer.from(JSON.stringify({ ...body, ...change })).toString("base64url");
}
