import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ArmStandIn, type ArmStandInOptions, type StandInWebhook } from "../../dev/arm/armStandIn";
import { freePort } from "../../dev/freePort";
import { LOCAL_ARM_TOKEN } from "../../src/adapters/armRegistryWebhooks";
import type { BackfillReport } from "../../src/backfill/runBackfill";
import { registryEventFromWebhook } from "../../src/core/registryEvent";
import { messageIdFor } from "../../src/core/topicMessage";
import { servedCatalogChecker } from "../support/catalogConformance";
import { type LocalStack, startLocalStack, TEST_SECRET } from "../support/localStack";
import { startNpmStart } from "../support/npmStart";
import { sleep } from "../support/reconcile";

const SUBSCRIPTION = "00000000-0000-0000-0000-000000000000";
const registryId = (name: string) =>
  `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-e2e/providers/Microsoft.ContainerRegistry/registries/${name}`;
const BACKFILL_REGISTRY = registryId("backfillreg");
const HEALTH_REGISTRY = registryId("healthreg");
const LOGIN_SERVER = "backfillreg.azurecr.io";
const ACTIONS = ["push", "delete", "chart_push", "chart_delete", "quarantine"];

describe("registry side: backfill from ACR's delivery log and webhook health, real SDK against the ARM stand-in", () => {
  let arm: ArmStandIn;
  let stack: LocalStack;
  let bridgeUrl: string;

  const webhook = (name: string, overrides: Partial<StandInWebhook> = {}) =>
    bridgeWebhook(bridgeUrl, name, overrides);

  beforeAll(async () => {
    ({ arm, stack, bridgeUrl } = await startRegistrySide(
      { pageSize: 2, deliveryTimeoutMs: 4000 },
      {
        ACR_RESOURCE_IDS: `${BACKFILL_REGISTRY},${HEALTH_REGISTRY}`,
        WEBHOOK_PING_TIMEOUT_SECONDS: "1",
        BACKFILL_MAX_PAGES: "3",
      },
    ));
    arm.addRegistry(BACKFILL_REGISTRY);
    arm.addRegistry(HEALTH_REGISTRY);
    arm.setWebhook(BACKFILL_REGISTRY, webhook("bridgewesteurope"));
  });

  afterAll(async () => {
    await stack?.stop();
    await arm?.stop();
  });

  afterEach(() => arm.clearFaults());

  async function backfill(query = ""): Promise<BackfillReport> {
    const response = await fetch(`${stack.url}/api/backfill${query}`, { method: "POST" });
    expect(response.status).toBe(200);
    return (await response.json()) as BackfillReport;
  }

  function push(repository: string, tag: string, extra: Record<string, unknown> = {}) {
    const digest = `sha256:${randomUUID().replaceAll("-", "")}${randomUUID().replaceAll("-", "")}`;
    return {
      id: randomUUID(),
      timestamp: "2026-05-01T09:12:44.123456789Z",
      action: "push",
      target: {
        mediaType: "application/vnd.docker.distribution.manifest.v2+json",
        size: 708,
        digest,
        length: 708,
        repository,
        tag,
      },
      request: { id: randomUUID(), host: LOGIN_SERVER, method: "PUT", useragent: "docker/27" },
      unknownField: { kept: true },
      ...extra,
    };
  }

  function logMissed(content: Record<string, unknown>, status?: number) {
    arm.logEvent(BACKFILL_REGISTRY, "bridgewesteurope", {
      id: randomUUID(),
      eventRequestMessage: {
        content,
        headers: { "Content-Type": "application/json", Authorization: "******" },
        method: "POST",
        requestUri: webhook("bridgewesteurope").serviceUri,
        version: "1.1",
      },
      eventResponseMessage:
        status === undefined
          ? undefined
          : { headers: {}, statusCode: String(status), version: "1.1" },
    });
  }

  function messagesOn(topic: string) {
    return stack.broker().messages(topic, "all");
  }

  const expectedMessageId = (payload: Record<string, unknown>) =>
    messageIdFor(
      registryEventFromWebhook(payload as never, {
        registry: LOGIN_SERVER,
        region: "westeurope",
        receivedAt: 0,
        fallbackEventId: "unused",
      }),
    );

  it("imports exactly the deliveries the bridge missed, once, whether runs overlap or repeat; reads on from its cursor", async () => {
    const hook = "bridgewesteurope";
    const delivered = push("team/api", "v1");
    expect(
      (await arm.deliver(BACKFILL_REGISTRY, hook, delivered)).eventResponseMessage?.statusCode,
    ).toBe("200");

    // A rotated secret: ACR's attempts get 401 and are never retried.
    arm.setWebhook(
      BACKFILL_REGISTRY,
      webhook(hook, { customHeaders: { Authorization: "Bearer old-secret" } }),
    );
    const refused = push("team/api", "v2");
    const quarantine = { ...push("team/api", "v3"), action: "quarantine" };
    expect(
      (await arm.deliver(BACKFILL_REGISTRY, hook, refused)).eventResponseMessage?.statusCode,
    ).toBe("401");
    expect(
      (await arm.deliver(BACKFILL_REGISTRY, hook, quarantine)).eventResponseMessage?.statusCode,
    ).toBe("401");
    arm.setWebhook(BACKFILL_REGISTRY, webhook(hook));
    const timedOut = push("team/web", "v1");
    const failed = push("team/web", "v2");
    logMissed(timedOut);
    logMissed(failed, 503);
    logMissed({ hello: "world" }, 400);
    logMissed({ ...push("team/web", "v3"), timestamp: undefined }, 500);
    const [noTimestampEntry, notAnEventEntry] = arm.log(BACKFILL_REGISTRY, hook);

    // 7 entries, 2 a page, at most 3 pages a run: both concurrent runs stop at the limit.
    const [first, second] = await Promise.all([backfill(), backfill()]);
    for (const run of [first, second]) {
      expect(run.webhooks).toContainEqual({
        registryId: BACKFILL_REGISTRY,
        webhook: hook,
        pages: 3,
        complete: false,
      });
      expect(run.seen).toBe(4);
      expect(run.unusable.map((entry) => entry.id).sort()).toEqual(
        [noTimestampEntry.id, notAnEventEntry.id].sort(),
      );
      expect(run.unusableCount).toBe(2);
    }
    expect(first.imported + second.imported).toBe(4);
    expect(first.alreadyRecorded + second.alreadyRecorded).toBe(4);
    expect(first.unusable.find((entry) => entry.id === noTimestampEntry.id)?.why).toMatch(
      /timestamp/,
    );

    // The next run goes on where the limit stopped them (the delivered push), then reaches the top.
    const third = await backfill();
    expect(third).toMatchObject({
      seen: 1,
      alreadyRecorded: 1,
      imported: 0,
      unusable: [],
      unusableCount: 0,
    });
    expect(third.webhooks.find((w) => w.webhook === hook)).toMatchObject({ complete: true });
    const fourth = await backfill();
    expect(fourth).toMatchObject({ seen: 0, imported: 0, unusable: [] });
    expect(fourth.webhooks.find((w) => w.webhook === hook)?.pages).toBe(1);

    const later = push("team/web", "v4");
    logMissed(later, 500);
    const fifth = await backfill();
    expect(fifth).toMatchObject({ seen: 1, alreadyRecorded: 0, imported: 1 });

    // Published once each, with the message id the webhook would have had.
    const pushes = messagesOn("acr-push");
    expect(pushes.map((message) => message.messageId).sort()).toEqual(
      [delivered, refused, timedOut, failed, later].map(expectedMessageId).sort(),
    );
    const imported = pushes.filter((message) => message.applicationProperties.origin === "acr-log");
    expect(imported).toHaveLength(4);
    const importedBody = imported.find((m) => m.messageId === expectedMessageId(failed))?.body as {
      data: Record<string, unknown>;
    };
    // The logged body as ACR sent it: unknown fields and all nine fractional digits kept.
    expect(importedBody.data).toEqual(failed);
    expect(messagesOn("acr-quarantine").map((m) => m.messageId)).toEqual([
      expectedMessageId(quarantine),
    ]);

    // Recorded with origin acr-log and the status ACR logged.
    const events = (await (
      await fetch(
        `${stack.url}/api/events?registry=${LOGIN_SERVER}&by=occurred&from=2026-05-01&to=2026-05-02&limit=100`,
      )
    ).json()) as {
      items: { id: string; origin: string; request: { loggedResponse?: { status?: number } } }[];
    };
    const byId = new Map(events.items.map((item) => [`${item.id}|${item.origin}`, item]));
    expect(byId.get(`${refused.id}|acr-log`)?.request.loggedResponse).toEqual({ status: 401 });
    expect(byId.get(`${failed.id}|acr-log`)?.request.loggedResponse).toEqual({ status: 503 });
    expect(byId.get(`${timedOut.id}|acr-log`)?.request.loggedResponse).toEqual({});
    expect(byId.has(`${delivered.id}|acr-log`)).toBe(false);
    expect(events.items.filter((item) => item.origin === "acr-log")).toHaveLength(5);

    // Found by its id like any arrival.
    const byEventId = (await (await fetch(`${stack.url}/api/events/${failed.id}`)).json()) as {
      deliveries: { origin: string }[];
    };
    expect(byEventId.deliveries.map((delivery) => delivery.origin)).toEqual(["acr-log"]);

    // The webhook arriving after its import is covered: no second message.
    const late = await arm.deliver(BACKFILL_REGISTRY, hook, refused);
    expect(late.eventResponseMessage?.statusCode).toBe("200");
    expect(messagesOn("acr-push")).toHaveLength(5);
  }, 60_000);

  it("a window re-reads the log without the cursor and finds everything recorded", async () => {
    const answer = await backfill("?from=2026-05-01&to=2026-05-02");
    expect(answer.imported).toBe(0);
    // The page limit (3 pages of 2) holds for a window too; a window leaves no cursor behind.
    expect(answer).toMatchObject({ seen: 4, alreadyRecorded: 4 });
    expect(answer.webhooks.find((w) => w.webhook === "bridgewesteurope")?.complete).toBe(false);
    // What is new since: the late webhook of the first test, answered 200 and logged by ACR.
    expect(await backfill()).toMatchObject({ seen: 1, alreadyRecorded: 1, imported: 0 });
    const bad = await fetch(`${stack.url}/api/backfill?from=yesterday`, { method: "POST" });
    expect(bad.status).toBe(400);
    // As every query route's 400 (README, Query API): the message names the parameter.
    expect(await bad.json()).toMatchObject({
      error: { code: "invalid_query", message: "invalid parameter: from" },
    });
  });

  it("ARM errors (403, 429 with Retry-After, 5xx) are reported, never a crash of the route or the timers", async () => {
    arm.fail({ operation: "list", status: 403, times: 1 });
    const forbidden = await backfill();
    expect(forbidden.errors.join("\n")).toContain(
      `${BACKFILL_REGISTRY}: webhooks.list: forbidden 403`,
    );

    arm.fail({ operation: "listEvents", status: 429, retryAfterSeconds: 1, times: 20 });
    const throttled = await backfill();
    expect(throttled.errors.join("\n")).toMatch(
      /webhooks\.listEvents: throttled 429 \(retry after 1s\)/,
    );
    arm.clearFaults();

    arm.fail({ operation: "list", status: 500, times: 20 });
    for (const timer of ["backfill", "webhookHealth"]) await runTimer(stack, timer);
    expect(stack.output()).toMatch(/backfill: .*webhooks\.list: unavailable 500/);
    expect(stack.output()).toMatch(/webhookHealth: .*webhooks\.list: unavailable 500/);
    arm.clearFaults();
    const health = await fetch(`${stack.url}/api/health`);
    expect(health.status).toBe(200);
    expect(stack.hostProcess().exitCode).toBeNull();
  }, 120_000);

  it("an oversized or malformed logged entry is cut to fit or reported unusable: never fails the run, another entry, or the cursor", async () => {
    const hook = "bridgehostile";
    arm.setWebhook(BACKFILL_REGISTRY, webhook(hook));
    const uri = webhook(hook).serviceUri;
    const logRaw = (entry: Record<string, unknown>) => {
      arm.logEvent(BACKFILL_REGISTRY, hook, entry as never);
      return entry;
    };
    const request = (content: unknown, headers: unknown = {}, requestUri: unknown = uri) => ({
      content,
      headers,
      method: "POST",
      requestUri,
      version: "1.1",
    });
    const failed = { headers: {}, statusCode: "500", version: "1.1" };
    const cut = (text: string) => `${text.slice(0, 1024)}…[cut from ${text.length} characters]`;

    // Headers past what a record holds: a huge value ACR's own header keeps, a huge name, a
    // huge secret, and thousands of headers.
    const hugeHeaders = push("team/hostile", "headers");
    const userAgent = "u".repeat(100_000);
    const longName = `X-${"n".repeat(70_000)}`;
    const headers: Record<string, string> = {
      "Content-Type": "application/json",
      "User-Agent": userAgent,
      [longName]: "v",
      "X-Api-Key": `hostile-key-${"k".repeat(50_000)}`,
    };
    for (let n = 0; n < 5000; n++) headers[`X-Pad-${n}`] = "p";
    logRaw({ id: randomUUID(), eventRequestMessage: request(hugeHeaders, headers) });
    // A URI past what a record holds, a signature in it.
    const hugeUri = push("team/hostile", "uri");
    const longUri = `${bridgeUrl}/${"p".repeat(70_000)}/api/acr/webhook?region=westeurope&registry=${LOGIN_SERVER}&sig=uri-secret-4d1`;
    logRaw({ id: randomUUID(), eventRequestMessage: request(hugeUri, {}, longUri) });
    // Names at the limits of what keys hold, and an event id past them.
    const longNames = {
      ...push(`team/${"é".repeat(507)}`, "t".repeat(128)),
      id: "é".repeat(80),
    };
    logRaw({
      id: randomUUID(),
      eventRequestMessage: request(longNames),
      eventResponseMessage: failed,
    });
    // Malformed: headers that are not text (under a log id longer than any position is kept
    // for), a URI that is not text, no request at all.
    const badHeaders = logRaw({
      id: `L${"i".repeat(40_000)}`,
      eventRequestMessage: request(push("team/hostile", "badheaders"), {
        "Content-Length": 708,
      }),
    });
    const idTooLong = logRaw({
      id: randomUUID(),
      eventRequestMessage: request({ ...push("team/hostile", "id"), id: "é".repeat(81) }),
    });
    const badUri = logRaw({
      id: randomUUID(),
      eventRequestMessage: request(push("team/hostile", "baduri"), {}, { href: uri }),
    });
    const noRequest = logRaw({ id: randomUUID(), eventRequestMessage: null });
    const plain = push("team/hostile", "plain");
    logRaw({ id: randomUUID(), eventRequestMessage: request(plain), eventResponseMessage: failed });
    // The newest entry's log id is too long to be where the next run stops: imported all the same.
    const hugeLogId = push("team/hostile", "logid");
    logRaw({ id: `L${"d".repeat(40_000)}`, eventRequestMessage: request(hugeLogId) });

    // 9 entries, 2 a page, 3 pages a run: the read goes on over runs, none of them failing.
    const unusable = new Map<string, string>();
    let complete = false;
    for (let run = 0; run < 5 && !complete; run++) {
      const report = await backfill();
      expect(report.errors).toEqual([]);
      for (const entry of report.unusable.filter((u) => u.webhook === hook)) {
        unusable.set(entry.id, entry.why);
      }
      complete = report.webhooks.find((w) => w.webhook === hook)?.complete ?? false;
    }
    expect(complete).toBe(true);
    expect([...unusable.keys()].sort()).toEqual(
      [cut(badHeaders.id as string), badUri.id, noRequest.id, idTooLong.id].sort(),
    );
    expect(unusable.get(cut(badHeaders.id as string))).toBe(
      "the logged request headers are not names with text values",
    );
    expect(unusable.get(badUri.id as string)).toBe("the logged request URI is not a URL");
    expect(unusable.get(noRequest.id as string)).toBe("the log entry has no request body");
    expect(unusable.get(idTooLong.id as string)).toMatch(
      /^not an ACR event \(id: must be at most 480/,
    );
    // The cursor was written: the next run reads again only the entry above its newest position,
    // until a newer entry is one.
    const after = await backfill();
    expect(after).toMatchObject({ seen: 1, alreadyRecorded: 1, imported: 0, errors: [] });
    expect(after.unusable).toEqual([]);
    const later = push("team/hostile", "later");
    logRaw({ id: randomUUID(), eventRequestMessage: request(later), eventResponseMessage: failed });
    expect(await backfill()).toMatchObject({ seen: 2, imported: 1, errors: [] });
    expect(await backfill()).toMatchObject({ seen: 0, imported: 0, errors: [] });

    const imported = [hugeHeaders, hugeUri, longNames, hugeLogId, plain, later];
    const published = messagesOn("acr-push").map((message) => message.messageId);
    for (const payload of imported) expect(published).toContain(expectedMessageId(payload));
    const recorded = async (id: string) => {
      const response = await fetch(`${stack.url}/api/events/${encodeURIComponent(id)}`);
      expect(response.status).toBe(200);
      const body = (await response.json()) as {
        deliveries: {
          origin: string;
          region?: string;
          repository?: string;
          tag?: string;
          request: { uri: string; headers: Record<string, string>; headersLeftOut?: number };
        }[];
      };
      const delivery = body.deliveries.find((d) => d.origin === "acr-log");
      if (!delivery) throw new Error(`no import of ${id}`);
      return delivery;
    };
    // Cut with the marker, masked before it was cut, as many headers as a record holds.
    const withHeaders = (await recorded(hugeHeaders.id)).request;
    expect(withHeaders.headers["Content-Type"]).toBe("application/json");
    expect(withHeaders.headers["User-Agent"]).toBe(cut(userAgent));
    expect(withHeaders.headers[cut(longName)]).toBe("******");
    expect(withHeaders.headers["X-Api-Key"]).toBe("******");
    expect(withHeaders.headersLeftOut).toBeGreaterThan(0);
    expect(Object.keys(withHeaders.headers).length + (withHeaders.headersLeftOut ?? 0)).toBe(5004);
    expect(JSON.stringify(withHeaders).length).toBeLessThanOrEqual(32 * 1024);
    const withUri = await recorded(hugeUri.id);
    expect(withUri.region).toBe("westeurope");
    expect(withUri.request.uri).toMatch(/…\[cut from 70\d{3} characters\]$/);
    expect(withUri.request.uri.startsWith(`${bridgeUrl}/ppp`)).toBe(true);
    expect((await recorded(longNames.id)).repository).toBe(longNames.target.repository);
    expect((await recorded(longNames.id)).tag).toBe("t".repeat(128));
    await recorded(hugeLogId.id);
    const everything = JSON.stringify([withHeaders, withUri, stack.output()]);
    expect(everything).not.toContain("hostile-key");
    expect(everything).not.toContain("uri-secret-4d1");
    expect(stack.hostProcess().exitCode).toBeNull();
  }, 120_000);

  it("webhook health: a disabled webhook, a wrong URI, missing headers and a ping that never arrives are findings; resolved when healthy", async () => {
    const good = webhook("healthgood", {
      serviceUri: `${bridgeUrl}/api/acr/webhook?region=westeurope`,
    });
    arm.setWebhook(HEALTH_REGISTRY, good);
    arm.setWebhook(HEALTH_REGISTRY, webhook("healthdisabled", { status: "disabled" }));
    arm.setWebhook(
      HEALTH_REGISTRY,
      webhook("healthwronguri", {
        // Loopback only: a port nothing listens on.
        serviceUri: "http://127.0.0.1:1/hook?region=westeurope&code=fn-key-123",
      }),
    );
    arm.setWebhook(
      HEALTH_REGISTRY,
      webhook("healthnoauth", {
        customHeaders: {},
        serviceUri: `${bridgeUrl}/api/acr/webhook`,
        actions: ["push"],
        scope: "team/*",
      }),
    );
    // Right URI, stale secret: the bridge refuses the ping, so it never reaches its records.
    arm.setWebhook(
      HEALTH_REGISTRY,
      webhook("healthlostping", { customHeaders: { Authorization: "Bearer stale-secret" } }),
    );

    await runWebhookHealth();
    await waitFor(() => pingAnswered("healthgood") && pingAnswered("healthlostping"));
    await sleep(1100); // past WEBHOOK_PING_TIMEOUT_SECONDS
    await runWebhookHealth();

    const findings = messagesOn("acr-discrepancies").filter(
      (message) => message.applicationProperties.kind === "webhook-unhealthy",
    );
    const reasonsOf = (name: string) =>
      findings
        .filter((m) => m.applicationProperties.webhook === name)
        .flatMap((m) => (m.body as { data: { reasons: string[] } }).data.reasons);
    expect(reasonsOf("healthgood")).toEqual([]);
    expect(reasonsOf("healthdisabled")).toContain("status is disabled");
    expect(reasonsOf("healthwronguri").join("\n")).toContain(
      `service URI points at http://127.0.0.1:1/…, not at this bridge (${bridgeUrl}/api/acr/webhook)`,
    );
    expect(reasonsOf("healthnoauth")).toEqual(
      expect.arrayContaining([
        "actions missing: delete, chart_push, chart_delete, quarantine",
        "scope is 'team/*', expected everything",
        "service URI has no region parameter (expected region=westeurope)",
        "custom headers carry no Authorization header",
      ]),
    );
    expect(reasonsOf("healthlostping").join("\n")).toMatch(
      /^a ping was not recorded by the bridge within 1 s$/m,
    );

    const health = (await (await fetch(`${stack.url}/api/health`)).json()) as {
      details: { webhooks: { webhook: string; status: string; reasons: string[] }[] };
    };
    const state = (name: string) => health.details.webhooks.find((w) => w.webhook === name);
    expect(state("healthgood")).toMatchObject({ status: "healthy", reasons: [] });
    expect(state("healthlostping")?.status).toBe("unhealthy");
    expect(state("healthdisabled")?.reasons).toEqual(["status is disabled"]);

    // Never a secret: not the webhook's header value, not the function key in its URI.
    const everything = JSON.stringify([health, findings, stack.output()]);
    expect(everything).not.toContain(TEST_SECRET);
    expect(everything).not.toContain("stale-secret");
    expect(everything).not.toContain("fn-key-123");

    // Enabled again: one resolution, and the next check publishes nothing new for it.
    arm.setWebhook(HEALTH_REGISTRY, webhook("healthdisabled"));
    await runWebhookHealth();
    const resolutions = () =>
      messagesOn("acr-discrepancies").filter(
        (m) =>
          m.applicationProperties.webhook === "healthdisabled" &&
          m.applicationProperties.resolved === "true",
      );
    expect(resolutions()).toHaveLength(1);
    // The event catalog the bridge serves describes the findings and the resolution.
    const { mismatches } = await servedCatalogChecker(stack.url);
    const published = [...findings, ...resolutions()];
    expect(published.map(mismatches)).toEqual(published.map(() => []));
    const count = messagesOn("acr-discrepancies").length;
    await waitFor(() => pingAnswered("healthdisabled"));
    await runWebhookHealth();
    expect(resolutions()).toHaveLength(1);
    expect(messagesOn("acr-discrepancies").length).toBe(count);
  }, 60_000);

  it("webhook health: a webhook deleted from the registry leaves /api/health, and its open finding is resolved", async () => {
    arm.setWebhook(HEALTH_REGISTRY, webhook("healthdeleted", { status: "disabled" }));
    await runWebhookHealth();
    const about = () =>
      messagesOn("acr-discrepancies").filter(
        (m) => m.applicationProperties.webhook === "healthdeleted",
      );
    expect(about().map((m) => m.applicationProperties.resolved)).toEqual(["false"]);
    const listed = async () =>
      (
        (await (await fetch(`${stack.url}/api/health`)).json()) as {
          details: { webhooks: { webhook: string }[] };
        }
      ).details.webhooks.map((w) => w.webhook);
    expect(await listed()).toContain("healthdeleted");

    arm.removeWebhook(HEALTH_REGISTRY, "healthdeleted");
    await runWebhookHealth();
    expect(await listed()).not.toContain("healthdeleted");
    expect(about().map((m) => m.applicationProperties.resolved)).toEqual(["false", "true"]);
    expect(stack.output()).toContain(`${HEALTH_REGISTRY}/webhooks/healthdeleted: deleted`);

    // The registry's list failing says nothing about its webhooks: their verdicts stay.
    arm.setWebhook(HEALTH_REGISTRY, webhook("healthkept", { status: "disabled" }));
    await runWebhookHealth();
    arm.fail({ operation: "list", status: 503, times: 20 });
    await runWebhookHealth();
    arm.clearFaults();
    expect(await listed()).toContain("healthkept");
    await runWebhookHealth();
    expect(about()).toHaveLength(2);
  }, 60_000);

  function pingAnswered(name: string): boolean {
    return arm
      .log(HEALTH_REGISTRY, name)
      .some((entry) => entry.eventRequestMessage.content.action === "ping");
  }

  const runWebhookHealth = () => runTimer(stack, "webhookHealth");
});

describe("webhook health of a registry as a whole, real SDK against the ARM stand-in", () => {
  const UNCOVERED_REGISTRY = registryId("uncoveredreg");
  const DELETED_REGISTRY = registryId("deletedreg");
  const CONCURRENT_REGISTRY = registryId("concurrentreg");
  const HUNG_REGISTRY = registryId("hungreg");
  let arm: ArmStandIn;
  let stack: LocalStack;
  let bridgeUrl: string;

  beforeAll(async () => {
    ({ arm, stack, bridgeUrl } = await startRegistrySide(
      {},
      // ARM answers 404 for both until a test creates them.
      {
        ACR_RESOURCE_IDS: [
          UNCOVERED_REGISTRY,
          DELETED_REGISTRY,
          CONCURRENT_REGISTRY,
          HUNG_REGISTRY,
        ].join(","),
        ARM_TIMEOUT_SECONDS: "1",
      },
    ));
  });

  afterAll(async () => {
    await stack?.stop();
    await arm?.stop();
  });

  afterEach(() => arm.clearFaults());

  const webhook = (name: string, overrides: Partial<StandInWebhook> = {}) =>
    bridgeWebhook(bridgeUrl, name, overrides);

  /** The findings and resolutions published about one registry, of one kind or every kind. */
  const findingsAbout = (loginServer: string, kind?: string) =>
    stack
      .broker()
      .messages("acr-discrepancies", "all")
      .filter(
        (message) =>
          message.applicationProperties.registry === loginServer &&
          (kind === undefined || message.applicationProperties.kind === kind),
      );
  const reasonsOf = (message: { body: unknown }) =>
    (message.body as { data: { reasons: string[] } }).data.reasons;

  interface HealthDetails {
    webhooks?: { registryId: string; webhook: string; status: string; reasons: string[] }[];
    registries?: {
      registryId: string;
      status: string;
      reasons: string[];
      since?: string;
      unreachable?: { reason: string; since: string; checkedAt: string };
    }[];
  }
  async function healthDetails(): Promise<HealthDetails> {
    const response = await fetch(`${stack.url}/api/health`);
    expect(response.status).toBe(200);
    return ((await response.json()) as { details: HealthDetails }).details;
  }
  const registryIn = (details: HealthDetails, id: string) =>
    details.registries?.find((registry) => registry.registryId === id);

  it("a registry with no webhook delivering to the bridge is a webhook-missing finding, published once by concurrent runs, resolved once one delivers", async () => {
    const loginServer = "uncoveredreg.azurecr.io";
    const about = () => findingsAbout(loginServer, "webhook-missing");
    arm.addRegistry(UNCOVERED_REGISTRY);
    arm.setWebhook(
      UNCOVERED_REGISTRY,
      webhook("otherconsumer", {
        serviceUri: "http://127.0.0.1:1/hook?region=westeurope&code=fn-key-456",
      }),
    );

    await runTimer(stack, "webhookHealth", 2);
    expect(about()).toHaveLength(1);
    expect(about()[0].applicationProperties).toEqual({
      kind: "webhook-missing",
      registry: loginServer,
      resolved: "false",
      operational: "true",
    });
    const noneCalls = `no webhook calls this bridge (${bridgeUrl}/api/acr/webhook); the registry's webhooks: otherconsumer`;
    expect(reasonsOf(about()[0])).toEqual([noneCalls]);
    expect(registryIn(await healthDetails(), UNCOVERED_REGISTRY)).toMatchObject({
      status: "unhealthy",
      reasons: [noneCalls],
    });

    // Calling the bridge, but disabled, then without every action: the reasons say why.
    arm.setWebhook(UNCOVERED_REGISTRY, webhook("bridgehook", { status: "disabled" }));
    await runTimer(stack, "webhookHealth");
    const notDelivering = "no webhook calling this bridge is enabled with every expected action";
    expect(reasonsOf(about()[1])).toEqual([notDelivering, "bridgehook: status is disabled"]);
    arm.setWebhook(UNCOVERED_REGISTRY, webhook("bridgehook", { actions: ["push", "delete"] }));
    await runTimer(stack, "webhookHealth");
    expect(reasonsOf(about()[2])).toEqual([
      notDelivering,
      "bridgehook: actions missing: chart_push, chart_delete, quarantine",
    ]);

    // One that delivers: a single resolution from concurrent runs, nothing more after.
    arm.setWebhook(UNCOVERED_REGISTRY, webhook("bridgehook"));
    await runTimer(stack, "webhookHealth", 2);
    expect(about().map((m) => m.applicationProperties.resolved)).toEqual([
      "false",
      "false",
      "false",
      "true",
    ]);
    expect(reasonsOf(about()[3])).toEqual([]);
    const details = await healthDetails();
    expect(registryIn(details, UNCOVERED_REGISTRY)).toMatchObject({
      status: "healthy",
      reasons: [],
    });
    await runTimer(stack, "webhookHealth");
    expect(about()).toHaveLength(4);

    // The event catalog the bridge serves describes the finding and its resolution.
    const { mismatches } = await servedCatalogChecker(stack.url);
    expect(about().map(mismatches)).toEqual(about().map(() => []));
    const everything = JSON.stringify([details, about(), stack.output()]);
    expect(everything).not.toContain("fn-key-456");
    expect(everything).not.toContain(TEST_SECRET);
  }, 60_000);

  it("each change of a webhook's verdict is published once by concurrent runs, its opening before its resolution, a deleted webhook's too", async () => {
    const published = (name: string) =>
      findingsAbout("concurrentreg.azurecr.io", "webhook-unhealthy")
        .filter((m) => m.applicationProperties.webhook === name)
        .map((m) => m.applicationProperties.resolved);
    arm.addRegistry(CONCURRENT_REGISTRY);
    arm.setWebhook(CONCURRENT_REGISTRY, webhook("delivering"));
    arm.setWebhook(CONCURRENT_REGISTRY, webhook("fixed", { status: "disabled" }));
    arm.setWebhook(CONCURRENT_REGISTRY, webhook("removed", { status: "disabled" }));

    await runTimer(stack, "webhookHealth", 2);
    expect(published("fixed")).toEqual(["false"]);
    expect(published("removed")).toEqual(["false"]);

    arm.setWebhook(CONCURRENT_REGISTRY, webhook("fixed"));
    arm.removeWebhook(CONCURRENT_REGISTRY, "removed");
    await runTimer(stack, "webhookHealth", 2);
    expect(published("fixed")).toEqual(["false", "true"]);
    expect(published("removed")).toEqual(["false", "true"]);
    expect(published("delivering")).toEqual([]);

    await runTimer(stack, "webhookHealth", 2);
    expect(published("fixed")).toHaveLength(2);
    expect(published("removed")).toHaveLength(2);
  }, 60_000);

  it("a registry ARM cannot be asked about keeps its verdicts, reported unreachable; a deleted one (404) leaves /api/health and its open findings are resolved", async () => {
    const loginServer = "deletedreg.azurecr.io";
    const published = () =>
      findingsAbout(loginServer).map(
        (m) => `${m.applicationProperties.kind} resolved=${m.applicationProperties.resolved}`,
      );
    arm.addRegistry(DELETED_REGISTRY);
    arm.setWebhook(DELETED_REGISTRY, webhook("gonehook", { status: "disabled" }));
    await runTimer(stack, "webhookHealth");
    expect(published().sort()).toEqual([
      "webhook-missing resolved=false",
      "webhook-unhealthy resolved=false",
    ]);
    const before = await healthDetails();
    const verdict = registryIn(before, DELETED_REGISTRY);
    expect(verdict).toMatchObject({ status: "unhealthy" });
    expect(verdict?.unreachable).toBeUndefined();
    const gonehook = (details: HealthDetails) =>
      details.webhooks?.find((w) => w.registryId === DELETED_REGISTRY && w.webhook === "gonehook");
    expect(gonehook(before)).toMatchObject({ status: "unhealthy" });

    for (const [status, kind] of [
      [403, "forbidden"],
      [503, "unavailable"],
    ] as const) {
      arm.fail({ operation: "list", registryId: DELETED_REGISTRY, status, times: 20 });
      await runTimer(stack, "webhookHealth");
      arm.clearFaults();
      const during = await healthDetails();
      expect(registryIn(during, DELETED_REGISTRY)).toMatchObject({
        status: "unhealthy",
        reasons: verdict?.reasons,
        since: verdict?.since,
        // The failed call, not ARM's message (it names the caller): /api/health is anonymous.
        unreachable: { reason: `webhooks.list: ${kind} ${status}` },
      });
      expect(gonehook(during)).toEqual(gonehook(before));
      expect(published()).toHaveLength(2);
    }
    // Answered again: reachable, the verdict as it was.
    await runTimer(stack, "webhookHealth");
    const again = registryIn(await healthDetails(), DELETED_REGISTRY);
    expect(again).toMatchObject({
      status: "unhealthy",
      reasons: verdict?.reasons,
      since: verdict?.since,
    });
    expect(again?.unreachable).toBeUndefined();

    arm.removeRegistry(DELETED_REGISTRY);
    await runTimer(stack, "webhookHealth");
    const after = await healthDetails();
    expect(registryIn(after, DELETED_REGISTRY)).toBeUndefined();
    expect(gonehook(after)).toBeUndefined();
    expect(published().sort()).toEqual([
      "webhook-missing resolved=false",
      "webhook-missing resolved=true",
      "webhook-unhealthy resolved=false",
      "webhook-unhealthy resolved=true",
    ]);
    expect(stack.output()).toContain(`${DELETED_REGISTRY}: not found by ARM`);
    await runTimer(stack, "webhookHealth");
    expect(published()).toHaveLength(4);
  }, 90_000);
  it("a hung ARM (the call accepted, never answered) is reported unreachable after ARM_TIMEOUT_SECONDS, the run bounded, the verdicts kept", async () => {
    arm.addRegistry(HUNG_REGISTRY);
    arm.setWebhook(HUNG_REGISTRY, webhook("hunghook", { status: "disabled" }));
    arm.setWebhook(HUNG_REGISTRY, webhook("hungother", { status: "disabled" }));
    await runTimer(stack, "webhookHealth");
    const verdict = registryIn(await healthDetails(), HUNG_REGISTRY);
    expect(verdict).toMatchObject({ status: "unhealthy" });
    const published = () => findingsAbout("hungreg.azurecr.io").length;
    const findings = published();

    for (const operation of ["list", "get"] as const) {
      arm.fail({ operation, registryId: HUNG_REGISTRY, status: "hang", times: 20 });
      const hungCalls = () =>
        arm
          .calls()
          .filter((call) => call.operation === operation && call.registryId === HUNG_REGISTRY)
          .length;
      const callsBefore = hungCalls();
      const started = Date.now();
      await runTimer(stack, "webhookHealth");
      // One call waited out (1 s), not each webhook's, nor the function's 2 minutes.
      expect(Date.now() - started).toBeLessThan(5000);
      expect(hungCalls() - callsBefore).toBe(1);
      arm.clearFaults();
      expect(registryIn(await healthDetails(), HUNG_REGISTRY)).toMatchObject({
        status: "unhealthy",
        reasons: verdict?.reasons,
        since: verdict?.since,
        unreachable: { reason: `webhooks.${operation}: timed-out` },
      });
      expect(published()).toBe(findings);
    }
    expect(stack.output()).toContain(
      `${HUNG_REGISTRY}: webhooks.list: timed-out: ARM did not answer within 1 s`,
    );
    await runTimer(stack, "webhookHealth");
    expect(registryIn(await healthDetails(), HUNG_REGISTRY)?.unreachable).toBeUndefined();

    // Pings ARM never answers: the first is waited out, the registry's others not sent this run.
    arm.setWebhook(HUNG_REGISTRY, webhook("hunghook"));
    arm.setWebhook(HUNG_REGISTRY, webhook("hungother"));
    arm.fail({ operation: "ping", registryId: HUNG_REGISTRY, status: "hang", times: 20 });
    const pings = () =>
      arm.calls().filter((call) => call.operation === "ping" && call.registryId === HUNG_REGISTRY)
        .length;
    const started = Date.now();
    await runTimer(stack, "webhookHealth");
    expect(Date.now() - started).toBeLessThan(5000);
    expect(pings()).toBe(1);
    expect(stack.output()).toContain("webhooks.ping: timed-out");
  }, 60_000);
});

describe("webhook health of a registry removed from ACR_RESOURCE_IDS", () => {
  it.each([
    ["another registry still configured", true],
    ["no registry left", false],
  ])(
    "resolves its open findings at the next run of a bridge no longer configured with it (%s), and forgets it",
    async (_, keepAnother) => {
      const name = `droppedreg${randomUUID().slice(0, 8)}`;
      const dropped = registryId(name);
      const about = (stack: LocalStack) =>
        stack
          .broker()
          .messages("acr-discrepancies", "all")
          .filter((m) => m.applicationProperties.registry === `${name}.azurecr.io`)
          .map(
            (m) => `${m.applicationProperties.kind} resolved=${m.applicationProperties.resolved}`,
          )
          .sort();

      const before = await startRegistrySide({}, { ACR_RESOURCE_IDS: dropped });
      try {
        before.arm.addRegistry(dropped);
        before.arm.setWebhook(
          dropped,
          bridgeWebhook(before.bridgeUrl, "droppedhook", { status: "disabled" }),
        );
        await runTimer(before.stack, "webhookHealth");
        expect(about(before.stack)).toEqual([
          "webhook-missing resolved=false",
          "webhook-unhealthy resolved=false",
        ]);
      } finally {
        await before.stack.stop();
        await before.arm.stop();
      }

      // The same tables: the dropped registry is not asked about.
      const kept = registryId(`keptreg${randomUUID().slice(0, 8)}`);
      const after = await startRegistrySide({}, { ACR_RESOURCE_IDS: keepAnother ? kept : "" });
      try {
        if (keepAnother) {
          after.arm.addRegistry(kept);
          after.arm.setWebhook(kept, bridgeWebhook(after.bridgeUrl, "kepthook"));
        }
        await runTimer(after.stack, "webhookHealth");
        expect(about(after.stack)).toEqual([
          "webhook-missing resolved=true",
          "webhook-unhealthy resolved=true",
        ]);
        expect(after.stack.output()).toContain(`${dropped}: no longer in ACR_RESOURCE_IDS`);
        expect(after.arm.calls().every((call) => call.registryId === kept)).toBe(true);
        await runTimer(after.stack, "webhookHealth");
        expect(about(after.stack)).toHaveLength(2);
        const health = (await (await fetch(`${after.stack.url}/api/health`)).json()) as {
          details: { webhooks?: { registryId: string }[]; registries?: { registryId: string }[] };
        };
        const listed = [...(health.details.webhooks ?? []), ...(health.details.registries ?? [])];
        expect(listed.map((entry) => entry.registryId)).not.toContain(dropped);
      } finally {
        await after.stack.stop();
        await after.arm.stop();
      }
    },
    90_000,
  );
});

describe("registry side under npm start", () => {
  it("the ARM stand-in's webhook calls the bridge on its PORT, and the health check finds it healthy there", async () => {
    const npmStart = await startNpmStart({
      ACR_RESOURCE_IDS: registryId(`npmstart${randomUUID().slice(0, 8)}`),
      // Registered, run by hand through the admin route.
      WEBHOOK_PING_SCHEDULE: "0 0 0 1 1 *",
    });
    const bridgeUrl = npmStart.url;
    let exitCode: number | null;
    try {
      await waitFor(() => npmStart.output().includes("Press Ctrl-C to stop."));
      const invoked = await fetch(`${bridgeUrl}/admin/functions/webhookHealth`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ input: "" }),
      });
      expect(invoked.status).toBe(202);
      await waitFor(() => npmStart.output().includes("webhookHealth: {"));
      const health = (await (await fetch(`${bridgeUrl}/api/health`)).json()) as {
        details: {
          webhooks: { webhook: string; status: string; reasons: string[] }[];
          registries: { status: string; reasons: string[] }[];
        };
      };
      expect(health.details.webhooks).toEqual([
        expect.objectContaining({ webhook: "bridgelocal", status: "healthy", reasons: [] }),
      ]);
      // Its registry has a webhook delivering to the bridge.
      expect(health.details.registries).toEqual([
        expect.objectContaining({ status: "healthy", reasons: [] }),
      ]);
    } finally {
      exitCode = await npmStart.stop();
    }
    expect(exitCode).toBe(0);
  }, 60_000);
});

/**
 * The ARM stand-in, and a local stack reading its registries (`ACR_RESOURCE_IDS` in `env`) at its
 * own URL, with both registry-side timers registered but run by hand through the admin route.
 */
async function startRegistrySide(
  armOptions: Partial<ArmStandInOptions>,
  env: Record<string, string>,
): Promise<{ arm: ArmStandIn; stack: LocalStack; bridgeUrl: string }> {
  const arm = new ArmStandIn({ token: LOCAL_ARM_TOKEN, ...armOptions });
  await arm.start();
  const port = await freePort();
  const bridgeUrl = `http://127.0.0.1:${port}`;
  const stack = await startLocalStack({
    port,
    // Every publish is visible: nothing here relies on Service Bus dropping a duplicate.
    withoutDuplicateDetection: true,
    env: {
      ARM_ENDPOINT: arm.url,
      BRIDGE_PUBLIC_URL: bridgeUrl,
      BACKFILL_SCHEDULE: "0 0 0 1 1 *",
      WEBHOOK_PING_SCHEDULE: "0 0 0 1 1 *",
      ...env,
    },
  });
  return { arm, stack, bridgeUrl };
}

/** A webhook as infra creates it: calling the bridge with every action and the secret. */
function bridgeWebhook(
  bridgeUrl: string,
  name: string,
  overrides: Partial<StandInWebhook> = {},
): StandInWebhook {
  return {
    name,
    location: "westeurope",
    status: "enabled",
    scope: "",
    actions: ACTIONS,
    serviceUri: `${bridgeUrl}/api/acr/webhook?region=westeurope&registry=${LOGIN_SERVER}`,
    customHeaders: { Authorization: `Bearer ${TEST_SECRET}` },
    ...overrides,
  };
}

/** Runs a timer function `runs` times at once through the admin route and waits for each report. */
async function runTimer(stack: LocalStack, timer: string, runs = 1): Promise<void> {
  const reports = () => stack.output().split(`${timer}: {`).length;
  const before = reports();
  const invoked = await Promise.all(
    Array.from({ length: runs }, () =>
      fetch(`${stack.url}/admin/functions/${timer}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ input: "" }),
      }),
    ),
  );
  expect(invoked.map((response) => response.status)).toEqual(invoked.map(() => 202));
  await waitFor(() => reports() >= before + runs);
}

async function waitFor(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(50);
  }
}
