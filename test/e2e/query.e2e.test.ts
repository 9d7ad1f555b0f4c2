import { randomUUID } from "node:crypto";
import { TableClient } from "@azure/data-tables";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TableFindingStore } from "../../src/adapters/tableFindingStore";
import { DISCREPANCIES_TABLE } from "../../src/adapters/tableLayout";
import { MOST_RECORDS_PASSED } from "../../src/adapters/tableQueries";
import type { Parsed } from "../../src/core/acrWebhookPayload";
import { registryEventFromWebhook } from "../../src/core/registryEvent";
import { encodeContinuationToken } from "../../src/query/continuationToken";
import {
  type PagedQuery,
  parseDiscrepanciesQuery,
  parseEventsQuery,
} from "../../src/query/queryParameters";
import { eventGridEvent, postEventGrid, RESOURCE_ID } from "../support/eventGridEvents";
import { type LocalStack, startLocalStack } from "../support/localStack";
import { runReconcile, sleep } from "../support/reconcile";
import { eventTables, recordEntity } from "../support/records";
import { deliverWebhook } from "../support/webhookClient";

const WINDOW_SECONDS = 2;
const MINUTE = 60_000;

type AcrEvent = {
  id: string;
  timestamp: string;
  action: string;
  target: { mediaType: string; repository: string; digest: string; tag?: string };
  request: { id: string; host: string; method: string };
};

function uniqueRegistry(): string {
  return `myregistry.r${randomUUID().replaceAll("-", "").slice(0, 16)}.data.azurecr.io`;
}

/** An ACR event, the same as a webhook body and as Event Grid's `data`. */
function acrEvent(
  registry: string,
  at: number,
  fields: { action?: string; repository?: string; tag?: string; id?: string; digest?: string } = {},
): AcrEvent {
  const action = fields.action ?? "push";
  return {
    id: fields.id ?? randomUUID(),
    timestamp: new Date(at).toISOString(),
    action,
    target: {
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      repository: fields.repository ?? "team/api",
      digest: fields.digest ?? `sha256:${randomUUID().replaceAll("-", "")}`,
      ...(action === "push" ? { tag: fields.tag ?? "v1" } : {}),
    },
    request: { id: randomUUID(), host: registry, method: action === "delete" ? "DELETE" : "PUT" },
  };
}

interface Item {
  id: string;
  registry: string;
  occurredAt: string;
  [field: string]: unknown;
}

interface Listing {
  items: Item[];
  continuationToken?: string;
}

interface ErrorBody {
  error: { code: string; message: string; details?: { issues: { path: string }[] } };
}

async function getJson<T>(stack: LocalStack, path: string, status: number): Promise<T> {
  const response = await fetch(`${stack.url}/api/${path}`);
  const body = await response.json();
  expect(response.status, JSON.stringify(body)).toBe(status);
  return body as T;
}

describe("query API on the local stack", () => {
  let stack: LocalStack;

  beforeAll(async () => {
    stack = await startLocalStack({
      // Its own Azurite: a reconcile reads every registry it holds, and the shared one holds
      // every other file's.
      ownTables: true,
      env: {
        CROSSCHECK_WINDOW_SECONDS: String(WINDOW_SECONDS),
        // The tests run the reconcile themselves; its own schedule stays out of the way.
        RECONCILE_SCHEDULE: "0 0 0 1 1 *",
      },
    });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const postWebhook = (event: AcrEvent) => deliverWebhook(stack, event);

  async function deliverEventGrid(event: AcrEvent, topic = RESOURCE_ID): Promise<void> {
    const response = await postEventGrid(stack, [eventGridEvent(event, { topic })]);
    expect(response.status).toBe(200);
  }

  const get = <T>(path: string, status = 200) => getJson<T>(stack, path, status);

  /** Every page of a listing, following its continuation tokens. */
  async function allPages(path: string): Promise<Listing[]> {
    const pages: Listing[] = [];
    let token: string | undefined;
    do {
      const separator = path.includes("?") ? "&" : "?";
      const page = await get<Listing>(
        token ? `${path}${separator}continuationToken=${token}` : path,
      );
      pages.push(page);
      token = page.continuationToken;
    } while (token && pages.length < 50);
    return pages;
  }

  const range = (from: number, to: number) =>
    `from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`;

  it("pages one registry's deliveries newest first, across hour partitions, without duplicates or gaps", async () => {
    const registry = uniqueRegistry();
    const now = Date.now();
    const posted = Array.from({ length: 7 }, (_, index) =>
      acrEvent(registry, now - index * 25 * MINUTE),
    );
    await Promise.all(posted.map(postWebhook));

    const pages = await allPages(
      `events?registry=${registry}&by=occurred&limit=3&${range(now - 3 * 60 * MINUTE, now)}`,
    );
    expect(pages.map((page) => page.items.length)).toEqual([3, 3, 1]);
    expect(pages.map((page) => page.continuationToken !== undefined)).toEqual([true, true, false]);
    expect(pages.flatMap((page) => page.items.map((item) => item.id))).toEqual(
      posted.map((event) => event.id),
    );
  });

  it("shows what the bridge did, with the payload as received and nothing of its storage", async () => {
    const registry = uniqueRegistry();
    const event = acrEvent(registry, Date.now());
    await postWebhook(event);
    // Marked published right after the answer (the mark does not hold the answer back).
    await expect
      .poll(async () => (await get<Listing>(`events?registry=${registry}`)).items[0]?.publishState)
      .toBe("published");
    const { items } = await get<Listing>(`events?registry=${registry}`);
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({
      id: event.id,
      origin: "webhook",
      action: "push",
      registry,
      repository: "team/api",
      tag: "v1",
      digest: event.target.digest,
      timestamp: event.timestamp,
      topic: "acr-push",
      publishState: "published",
      publishedTopics: ["acr-push"],
      publishAttempts: 1,
      deliveryCount: 1,
      arrivals: [{ status: 200 }],
      request: { method: "POST", headers: { authorization: "******" } },
      payload: event,
    });
    expect(
      Object.keys(items[0] ?? {}).filter((key) =>
        /^payload\d|^payloadChunks$|^etag$|Key$/.test(key),
      ),
    ).toEqual([]);
  });

  it("answers numbers stored as Int64, which the SDK reads as BigInt", async () => {
    const registry = uniqueRegistry();
    const event = acrEvent(registry, Date.now());
    await postWebhook(event);
    const deliveries = eventTables(stack.tablesConnection);
    const record = await recordEntity(
      deliveries,
      registryEventFromWebhook(event, { registry, receivedAt: 0, fallbackEventId: "unused" }),
    );
    const keys = { partitionKey: record.partitionKey, rowKey: record.rowKey } as {
      partitionKey: string;
      rowKey: string;
    };
    await deliveries
      .of(keys.partitionKey)
      .updateEntity({ ...keys, deliveryCount: 3n, publishAttempts: 2n }, "Merge");
    const { items } = await get<Listing>(`events?registry=${registry}`);
    expect(items[0]).toMatchObject({ id: event.id, deliveryCount: 3, publishAttempts: 2 });
  });

  it("lists by arrival by default: an event ACR stamped long ago is listed as just arrived", async () => {
    const registry = uniqueRegistry();
    const old = acrEvent(registry, Date.parse("2023-01-01T10:00:00Z"));
    const recent = acrEvent(registry, Date.now() - 5 * MINUTE);
    await postWebhook(recent);
    await postWebhook(old);
    const arrived = await get<Listing>(`events?registry=${registry}`);
    expect(arrived.items.map((item) => item.id)).toEqual([old.id, recent.id]);
    const occurred = await get<Listing>(`events?registry=${registry}&by=occurred`);
    expect(occurred.items.map((item) => item.id)).toEqual([recent.id]);
    const then = await get<Listing>(
      `events?registry=${registry}&by=occurred&${range(Date.parse("2022-12-31T00:00:00Z"), Date.parse("2023-01-02T00:00:00Z"))}`,
    );
    expect(then.items.map((item) => item.id)).toEqual([old.id]);
    expect((await get(`events?by=sometime`, 400)) as unknown).toMatchObject({
      error: { code: "invalid_query" },
    });
  });

  it("filters by repository, action and state inside the registry's range", async () => {
    const registry = uniqueRegistry();
    const now = Date.now();
    const api = acrEvent(registry, now - 1000, { repository: "team/api" });
    const web = acrEvent(registry, now - 2000, { repository: "team/web" });
    const deleted = acrEvent(registry, now - 3000, { repository: "team/api", action: "delete" });
    const retag = acrEvent(registry, now - 4000, { repository: "team/api", action: "retag" });
    await Promise.all([api, web, deleted, retag].map(postWebhook));

    const ids = async (filter: string) =>
      (await get<Listing>(`events?registry=${registry}&by=occurred&${filter}`)).items.map(
        (item) => item.id,
      );
    // Each published record is marked just after its answer.
    await expect.poll(() => ids("state=published")).toHaveLength(3);
    expect(await ids("repository=team/api")).toEqual([api.id, deleted.id, retag.id]);
    expect(await ids("repository=team%2Fweb")).toEqual([web.id]);
    expect(await ids("action=delete")).toEqual([deleted.id]);
    expect(await ids("state=not-routed")).toEqual([retag.id]);
    expect(await ids("state=published&repository=team/api")).toEqual([api.id, deleted.id]);
    expect(await ids("action=push&repository=team/web&state=published")).toEqual([web.id]);
    expect(await ids("action=chart_push")).toEqual([]);
    expect(await ids(range(now - 2500, now - 1500))).toEqual([web.id]);
  });

  it("filters by artifact kind and tagged alike by arrival and by ACR's timestamp", async () => {
    const registry = uniqueRegistry();
    const now = Date.now();
    const tagged = acrEvent(registry, now - 1000, { tag: "v1" });
    const untagged = acrEvent(registry, now - 2000, { tag: "" });
    // One after the other: newest first by arrival is the same order as by ACR's timestamp.
    await postWebhook(untagged);
    await postWebhook(tagged);

    for (const by of ["arrived", "occurred"]) {
      const ids = async (filter: string) =>
        (await get<Listing>(`events?registry=${registry}&by=${by}&${filter}`)).items.map(
          (item) => item.id,
        );
      expect(await ids("tagged=true"), by).toEqual([tagged.id]);
      expect(await ids("tagged=false"), by).toEqual([untagged.id]);
      expect(await ids("artifactKind=image"), by).toEqual([tagged.id, untagged.id]);
      expect(await ids("artifactKind=index"), by).toEqual([]);
    }
  });

  it("ends a page by ACR's timestamp short, with a token, when its filter leaves many records out", async () => {
    const registry = uniqueRegistry();
    const now = Date.now();
    // The one match is the oldest: every newer record is read and left out before it is found.
    const untagged = acrEvent(registry, now - 60_000, { tag: "" });
    await postWebhook(untagged);
    const tagged = Array.from({ length: MOST_RECORDS_PASSED + 5 }, (_, index) =>
      acrEvent(registry, now - 50_000 + index, { tag: `v${index}` }),
    );
    for (const event of tagged) await postWebhook(event);

    const path = `events?registry=${registry}&by=occurred&tagged=false&limit=10`;
    const pages = await allPages(path);
    expect(pages[0]).toMatchObject({ items: [], continuationToken: expect.any(String) });
    expect(pages.flatMap((page) => page.items.map((item) => item.id))).toEqual([untagged.id]);
    expect(pages.at(-1)?.continuationToken).toBeUndefined();
  });

  it("without a registry, merges every registry newest first, ties across registries included", async () => {
    // A window of its own, far from every other test's events: the Azurite is shared.
    const base = Date.UTC(2031, 0, 1) + Math.floor(Math.random() * 300) * 24 * 60 * MINUTE;
    const [a, b] = [uniqueRegistry(), uniqueRegistry()];
    const tie = randomUUID();
    const posted = [
      acrEvent(a, base - 1000),
      acrEvent(b, base - 2000),
      acrEvent(a, base - 3 * MINUTE),
      acrEvent(a, base - 70 * MINUTE),
      acrEvent(b, base - 71 * MINUTE),
      // The same id at the same moment in both registries: the same RowKey in two sources.
      acrEvent(a, base - 90 * MINUTE, { id: tie }),
      acrEvent(b, base - 90 * MINUTE, { id: tie }),
      acrEvent(b, base - 119 * MINUTE),
    ];
    for (const event of posted) await postWebhook(event);

    for (const limit of [1, 3, 50]) {
      const pages = await allPages(
        `events?by=occurred&limit=${limit}&${range(base - 2 * 60 * MINUTE, base)}`,
      );
      const items = pages.flatMap((page) => page.items);
      expect(items.map((item) => `${item.registry}/${item.id}`).sort()).toEqual(
        posted.map((event) => `${event.request.host}/${event.id}`).sort(),
      );
      const times = items.map((item) => Date.parse(item.occurredAt));
      expect(times).toEqual([...times].sort((x, y) => y - x));
      expect(pages.length).toBe(Math.ceil(posted.length / limit));
    }
  });

  it.each([
    ["events?from=yesterday", "from"],
    ["events?to=2026-13-01T00:00:00Z", "to"],
    ["events?from=2026-05-02T00:00:00Z&to=2026-05-01T00:00:00Z", "from"],
    ["events?limit=0", "limit"],
    ["events?limit=1001", "limit"],
    ["events?limit=many", "limit"],
    ["events?action=Push!", "action"],
    ["events?state=lost", "state"],
    ["events?continuationToken=eyJ0YW1wZXJlZCI6dHJ1ZX0", "continuationToken"],
    ["discrepancies?kind=matched", "kind"],
    ["discrepancies?from=2026-05-01T00:00", "from"],
    ["discrepancies?continuationToken=x", "continuationToken"],
    ["stats?from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z", "from"],
    ["stats?to=soon", "to"],
    [`events/${"x".repeat(300)}`, "id"],
    // Short enough as it is, longer than an intake takes once percent-encoded (it was a 500).
    [`events/${"%25".repeat(170)}a`, "id"],
    [`story/${"%25".repeat(170)}a`, "id"],
    // Longer, percent-encoded, than a recorded registry can be; and blank.
    [`events?registry=${encodeURIComponent("é".repeat(255))}`, "registry"],
    [`overview?registry=${encodeURIComponent("é".repeat(255))}`, "registry"],
    [`search?q=x&registry=${encodeURIComponent("é".repeat(255))}`, "registry"],
    ["events?registry=%20", "registry"],
    ["search?q=%20%20", "q"],
  ])("GET /api/%s -> 400 naming %s", async (path, name) => {
    const body = await get<ErrorBody>(path, 400);
    expect(body.error.code).toBe("invalid_query");
    expect(body.error.message).toContain(name);
    expect(body.error.details?.issues.map((issue) => issue.path.split(".")[1])).toContain(name);
  });

  it("searches for text no event id can be by the other fields only", async () => {
    // With something recorded: the lookup by id reads each registry's partitions.
    await postWebhook(acrEvent(uniqueRegistry(), Date.now()));
    const q = `${"%".repeat(170)}a`;
    const found = await get<{ q: string; items: unknown[] }>(`search?q=${encodeURIComponent(q)}`);
    expect(found).toMatchObject({ q, items: [] });
  });

  it("search says when more deliveries matched than the 100 it lists, and when none were left out", async () => {
    const registry = uniqueRegistry();
    const repository = `team/busy-${randomUUID().slice(0, 8)}`;
    const now = Date.now();
    const events = Array.from({ length: 101 }, (_, index) =>
      acrEvent(registry, now - index, { repository, tag: `v${index}` }),
    );
    await Promise.all(events.slice(0, 100).map(postWebhook));
    type Found = { complete: boolean; truncated: boolean; items: unknown[] };
    const all = await get<Found>(`search?q=${repository}&registry=${registry}`);
    expect(all).toMatchObject({ complete: true, truncated: false });
    expect(all.items).toHaveLength(100);
    await postWebhook(events[100]);
    const more = await get<Found>(`search?q=${repository}&registry=${registry}`);
    expect(more.items).toHaveLength(100);
    expect(more.truncated).toBe(true);
  });

  it("refuses a continuation token that was edited or belongs to another query", async () => {
    const registry = uniqueRegistry();
    const now = Date.now();
    await Promise.all(
      [0, 1, 2].map((index) => postWebhook(acrEvent(registry, now - index * 1000))),
    );
    const first = await get<Listing>(`events?registry=${registry}&limit=1`);
    const token = first.continuationToken ?? "";
    const body = JSON.parse(Buffer.from(token, "base64url").toString());
    const edited = Buffer.from(JSON.stringify({ ...body, from: body.from - 1 })).toString(
      "base64url",
    );
    for (const path of [
      `events?registry=${registry}&limit=1&continuationToken=${edited}`,
      `events?registry=${uniqueRegistry()}&limit=1&continuationToken=${token}`,
      `events?limit=1&continuationToken=${token}`,
      `discrepancies?continuationToken=${token}`,
    ]) {
      const error = await get<ErrorBody>(path, 400);
      expect(error.error.message).toContain("continuationToken");
    }
    const second = await get<Listing>(
      `events?registry=${registry}&limit=1&continuationToken=${token}`,
    );
    expect(second.items).toHaveLength(1);
    expect(second.items[0]?.id).not.toBe(first.items[0]?.id);
  });

  it("reads only a query's own range with a token made by hand at any position (the check is no secret)", async () => {
    const registry = uniqueRegistry();
    const now = Date.now();
    const event = acrEvent(registry, now);
    await postWebhook(event);
    await new TableFindingStore(
      TableClient.fromConnectionString(stack.tablesConnection, DISCREPANCIES_TABLE, {
        allowInsecureConnection: true,
      }),
      5000,
    ).record({
      kind: "webhook-only",
      logicalKey: randomUUID(),
      registry,
      action: "push",
      detectedAt: now,
      webhookEventIds: [event.id],
      eventGridEventIds: [],
      regions: [],
      recovered: false,
      state: "open",
    });
    /** The page after `rowKey`, with a token made as the bridge makes them. */
    const pageAfter = (
      route: string,
      query: string,
      parse: (query: URLSearchParams, now: number) => { ok: boolean; value?: PagedQuery<unknown> },
      rowKey: string,
    ) => {
      const parsed = parse(new URLSearchParams(query), Date.now());
      if (!parsed.value) throw new Error(`${query} refused`);
      const token = encodeContinuationToken(
        { window: parsed.value.window, after: { rowKey, sourceKey: "" } },
        parsed.value.fingerprint,
      );
      return fetch(`${stack.url}/api/${route}?${query}&continuationToken=${token}`);
    };
    const hoursAgo = range(now - 3 * 60 * MINUTE, now - 2 * 60 * MINUTE);
    for (const [route, parse] of [
      ["events", parseEventsQuery],
      ["discrepancies", parseDiscrepanciesQuery],
    ] as const) {
      // Before every row of the registry: the event and the finding are newer than the window.
      const answer = await pageAfter(
        route,
        `registry=${registry}&${hoursAgo}`,
        parse,
        "0000000000000|x",
      );
      expect(answer.status, route).toBe(200);
      expect(await answer.json(), route).toEqual({ items: [] });
    }
    // A position among rows of another kind than the listing's: it was a 503.
    const occurred = await pageAfter(
      "events",
      `registry=${registry}&by=occurred`,
      parseEventsQuery,
      "d|0000000000000|x",
    );
    expect(occurred.status).toBe(200);
    expect(((await occurred.json()) as Listing).items.map((item) => item.id)).toEqual([event.id]);
  });

  type TokenParse = (query: URLSearchParams, now: number) => Parsed<PagedQuery<unknown>>;
  it.each<[string, string, TokenParse, string, string]>([
    ["events", "limit=1", parseEventsQuery, "d|0000000000000|\ud800", ""],
    ["events", "limit=1&by=occurred", parseEventsQuery, "o|0000000000000|x\udfff", ""],
    ["discrepancies", "limit=1", parseDiscrepanciesQuery, "0000000000000|\ud800", ""],
    ["events", "limit=1", parseEventsQuery, "d|0000000000000|x", "\ud800"],
  ])(
    "GET /api/%s?%s with a token made by hand holding a lone surrogate -> 400 (it was a 503)",
    async (route, query, parse, rowKey, sourceKey) => {
      const parsed = parse(new URLSearchParams(query), Date.now());
      if (!parsed.ok) throw new Error(`${query} refused`);
      const { window, fingerprint } = parsed.value;
      const token = encodeContinuationToken({ window, after: { rowKey, sourceKey } }, fingerprint);
      const body = await get<ErrorBody>(`${route}?${query}&continuationToken=${token}`, 400);
      expect(body.error.code).toBe("invalid_query");
      expect(body.error.message).toContain("continuationToken");
    },
  );

  it("shows one event with both its arrivals and its logical event; 404 for an unknown id", async () => {
    const registry = uniqueRegistry();
    const event = acrEvent(registry, Date.now());
    await postWebhook(event);
    await deliverEventGrid(event);
    const found = await get<{
      id: string;
      crossCheck: string;
      logicalEvent: Record<string, unknown>;
      deliveries: Item[];
    }>(`events/${event.id}`);
    expect(found.id).toBe(event.id);
    expect(found.crossCheck).toBe("open");
    expect(found.deliveries.map((delivery) => [delivery.origin, delivery.publishState])).toEqual([
      ["webhook", "published"],
      ["eventgrid", "held"],
    ]);
    expect(found.deliveries[1]).toMatchObject({ region: "westeurope", payload: { id: event.id } });
    expect(found.logicalEvent).toMatchObject({
      registry,
      action: "push",
      repository: "team/api",
      digest: event.target.digest,
      state: "open",
      publishedBy: "webhook",
      webhook: { eventIds: [event.id], count: 1 },
      eventGrid: { eventIds: [event.id], regions: ["westeurope"], count: 1 },
    });

    const missing = await get<ErrorBody>(`events/${randomUUID()}`, 404);
    expect(missing.error.code).toBe("not_found");
  });

  it("says where each event's cross-check stands, also for one that has no twin to wait for", async () => {
    const registry = uniqueRegistry();
    const ping = acrEvent(registry, Date.now(), { action: "ping" });
    const quarantine = acrEvent(registry, Date.now(), { action: "quarantine" });
    await postWebhook(ping);
    await postWebhook(quarantine);
    for (const [event, expected] of [
      [ping, "not cross-checked"],
      [quarantine, "not cross-checked"],
    ] as const) {
      const found = await get<{ crossCheck: string }>(`events/${event.id}`);
      expect(found.crossCheck).toBe(expected);
      const story = await get<{ crossCheck: string }>(`story/${event.id}`);
      expect(story.crossCheck).toBe(expected);
    }
    // The console's search says the same of each, where a ping showed as `open`.
    const push = acrEvent(registry, Date.now());
    await postWebhook(push);
    for (const [event, expected] of [
      [ping, "not cross-checked"],
      [quarantine, "not cross-checked"],
      [push, "open"],
    ] as const) {
      const found = await get<{ items: { id: string; crossCheck: string }[] }>(
        `search?q=${event.id}&registry=${registry}`,
      );
      expect(found.items).toEqual([
        expect.objectContaining({ id: event.id, crossCheck: expected }),
      ]);
    }
    // An id that is also its tag is found both ways, and listed once.
    const tagged = `v${randomUUID().slice(0, 8)}`;
    await postWebhook(acrEvent(registry, Date.now(), { id: tagged, tag: tagged }));
    const both = await get<{ items: { id: string }[] }>(`search?q=${tagged}&registry=${registry}`);
    expect(both.items.map((item) => item.id)).toEqual([tagged]);
    // Found by its id at any time, but only in the registry asked for.
    const elsewhere = await get<{ items: unknown[] }>(
      `search?q=${push.id}&registry=${uniqueRegistry()}`,
    );
    expect(elsewhere.items).toEqual([]);
  });

  it("lists discrepancies and counts statistics for a known set of events", async () => {
    const registry = uniqueRegistry();
    const start = Date.now() - 1000;
    // Three matched pairs, Event Grid 0, 200 and 400 ms behind the webhook.
    for (const delay of [0, 200, 400]) {
      const event = acrEvent(registry, Date.now());
      await postWebhook(event);
      await sleep(delay);
      await deliverEventGrid(event);
    }
    const webhookOnly = acrEvent(registry, Date.now(), { repository: "team/lost-twin" });
    await postWebhook(webhookOnly);
    const eventGridOnly = acrEvent(registry, Date.now(), { repository: "team/lost-webhook" });
    await deliverEventGrid(eventGridOnly);
    // One id, two contents: both logical events are mismatched.
    const mismatched = acrEvent(registry, Date.now(), { repository: "team/mixed" });
    await postWebhook(mismatched);
    await deliverEventGrid({ ...mismatched, target: { ...mismatched.target, tag: "v2" } });
    // Refused as not genuine: another subscription's registry.
    await deliverEventGrid(
      acrEvent(registry, Date.now()),
      RESOURCE_ID.replace("00000000-0000", "11111111-1111").replace("myregistry", "foreign"),
    );

    await sleep(WINDOW_SECONDS * 1000 + 200);
    await runReconcile(stack);
    const window = range(start, Date.now());

    const findings = (
      await allPages(`discrepancies?registry=${registry}&limit=1&${window}`)
    ).flatMap((page) => page.items);
    expect(findings.map((finding) => finding.kind).sort()).toEqual([
      "eventgrid-only",
      "mismatched",
      "mismatched",
      "webhook-only",
    ]);
    const detected = findings.map((finding) => Date.parse(String(finding.detectedAt)));
    expect(detected).toEqual([...detected].sort((x, y) => y - x));
    const [lostWebhook] = (
      await get<Listing>(`discrepancies?registry=${registry}&kind=eventgrid-only&${window}`)
    ).items;
    expect(lostWebhook).toMatchObject({
      registry,
      action: "push",
      repository: "team/lost-webhook",
      eventGridEventIds: [eventGridOnly.id],
      webhookEventIds: [],
      recovered: true,
    });
    const mismatches = await get<Listing>(
      `discrepancies?registry=${registry}&kind=mismatched&${window}`,
    );
    expect(mismatches.items.map((finding) => finding.repository)).toEqual([
      "team/mixed",
      "team/mixed",
    ]);

    const unmatched = await get<Listing>(`events?registry=${registry}&state=webhook-only`);
    expect(unmatched.items.map((item) => item.id)).toEqual([webhookOnly.id]);

    const stats = await get<{
      crossChecks: Record<string, unknown>;
      matchRate: number;
      delayMs: { count: number; median: number; p95: number };
      rejections: number;
    }>(`stats?registry=${registry}&${window}`);
    const counts = {
      matched: 3,
      "webhook-only": 1,
      "eventgrid-only": 1,
      mismatched: 2,
      "quarantine-held": 0,
    };
    expect(stats.crossChecks).toEqual({
      total: 7,
      ...counts,
      byAction: { push: { total: 7, ...counts } },
    });
    expect(stats.matchRate).toBeCloseTo(3 / 7);
    expect(stats.delayMs.count).toBe(3);
    expect(stats.delayMs.median).toBeGreaterThanOrEqual(200);
    expect(stats.delayMs.median).toBeLessThan(stats.delayMs.p95);
    expect(stats.delayMs.p95).toBeGreaterThanOrEqual(400);
    expect(stats.rejections).toBeGreaterThanOrEqual(1);

    const otherRegistry = await get<{ crossChecks: { total: number }; matchRate: null }>(
      `stats?registry=${uniqueRegistry()}&${window}`,
    );
    expect(otherRegistry).toMatchObject({ crossChecks: { total: 0 }, matchRate: null });
  });

  it("reports health, and Service Bus as unavailable within seconds of its broker stopping", async () => {
    expect(await get(`health`)).toEqual({
      status: "ok",
      checks: { tableStorage: "ok", serviceBus: "ok" },
      details: { operational: expect.any(Array) },
    });
    await stack.stopBroker();
    try {
      const started = Date.now();
      const down = await get<ErrorBody & { error: { details: unknown } }>("health", 503);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(down.error).toMatchObject({
        code: "dependency_unavailable",
        message: expect.stringContaining("serviceBus"),
        details: {
          status: "unavailable",
          checks: { tableStorage: "ok", serviceBus: "unavailable" },
        },
      });
    } finally {
      await stack.startBroker();
    }
    const deadline = Date.now() + 10_000;
    let status = 0;
    while (status !== 200 && Date.now() < deadline) {
      status = (await fetch(`${stack.url}/api/health`)).status;
      if (status !== 200) await sleep(200);
    }
    expect(status).toBe(200);
  });
});

describe("query API while Table Storage is down", () => {
  it("answers 503 on every query and replay route, and health names Table Storage", async () => {
    const stack = await startLocalStack({ ownTables: true });
    const unavailable = async (response: Response) => {
      const body = (await response.json()) as ErrorBody;
      expect(response.status, JSON.stringify(body)).toBe(503);
      expect(body.error).toMatchObject({
        code: "dependency_unavailable",
        details: { dependency: "table-storage" },
      });
    };
    try {
      await stack.stopTables();
      for (const path of [
        `events?registry=${uniqueRegistry()}`,
        "events",
        `events/${randomUUID()}`,
        "discrepancies",
        "stats",
        `replay/${randomUUID()}`,
      ]) {
        await unavailable(await fetch(`${stack.url}/api/${path}`));
      }
      const window = {
        from: new Date(Date.now() - 60_000).toISOString(),
        to: new Date().toISOString(),
      };
      for (const body of [{ ...window, dryRun: true }, window]) {
        await unavailable(
          await fetch(`${stack.url}/api/replay`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(body),
          }),
        );
      }
      const started = Date.now();
      const health = await getJson<ErrorBody>(stack, "health", 503);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(health.error).toMatchObject({
        message: expect.stringContaining("tableStorage"),
        details: { checks: { tableStorage: "unavailable", serviceBus: "ok" } },
      });
    } finally {
      await stack.startTables();
      await stack.stop();
    }
  });
});

describe("health when the namespace lacks an entity the bridge sends to", () => {
  it.each([
    ["TOPIC_DELETE", "the delete topic"],
    ["TOPIC_DISCREPANCIES", "the discrepancy topic"],
    ["JOURNAL_QUEUE", "the journal queue"],
  ])(
    "%s names an entity that does not exist (%s): 503, Service Bus unavailable, the log names it",
    async (setting) => {
      const missing = `acr-missing-${randomUUID().slice(0, 8)}`;
      const stack = await startLocalStack({ env: { [setting]: missing } });
      try {
        const health = await getJson<ErrorBody>(stack, "health", 503);
        expect(health.error).toMatchObject({
          code: "dependency_unavailable",
          details: { checks: { tableStorage: "ok", serviceBus: "unavailable" } },
        });
        // The route is anonymous: what is missing goes to the log only.
        expect(JSON.stringify(health)).not.toContain(missing);
        expect(stack.output()).toContain(missing);
        expect(stack.output()).not.toContain("acr-push:");
      } finally {
        await stack.stop();
      }
    },
  );
});
