import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ArmStandIn } from "../../dev/arm/armStandIn";
import {
  ArmRegistryWebhooks,
  type ArmRegistryWebhooksOptions,
  LOCAL_ARM_TOKEN,
  staticTokenCredential,
} from "../../src/adapters/armRegistryWebhooks";
import type { LogPage } from "../../src/core/registryWebhooks";

const REGISTRY =
  "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/adapterreg";

describe("ArmRegistryWebhooks: @azure/arm-containerregistry against the ARM stand-in", () => {
  const arm = new ArmStandIn({ token: LOCAL_ARM_TOKEN, pageSize: 3 });
  let webhooks: ArmRegistryWebhooks;
  /** A client of the stand-in: no retries, 10 s a call, unless `options` say otherwise. */
  const client = (options: Partial<ArmRegistryWebhooksOptions> = {}) =>
    new ArmRegistryWebhooks({
      endpoint: arm.url,
      credential: staticTokenCredential(LOCAL_ARM_TOKEN),
      maxRetries: 0,
      callTimeoutMs: 10_000,
      ...options,
    });

  beforeAll(async () => {
    await arm.start();
    arm.addRegistry(REGISTRY);
    arm.setWebhook(REGISTRY, {
      name: "hook1",
      location: "westeurope",
      status: "enabled",
      scope: "app:*",
      actions: ["push"],
      // Nothing listens there: ACR logs the attempt without a response.
      serviceUri: "http://127.0.0.1:1/api/acr/webhook?region=westeurope",
      customHeaders: { Authorization: "Bearer adapter-secret-9c1" },
    });
    webhooks = client();
  });

  afterAll(() => arm.stop());

  it("lists webhooks and reads their configuration, header names only", async () => {
    expect(await webhooks.list(REGISTRY)).toEqual({
      ok: true,
      value: [{ registryId: REGISTRY, name: "hook1" }],
    });
    const config = await webhooks.configuration({ registryId: REGISTRY, name: "hook1" });
    expect(config).toEqual({
      ok: true,
      value: {
        ref: { registryId: REGISTRY, name: "hook1" },
        location: "westeurope",
        status: "enabled",
        scope: "app:*",
        actions: ["push"],
        serviceUri: "http://127.0.0.1:1/api/acr/webhook?region=westeurope",
        customHeaderNames: ["Authorization"],
      },
    });
    expect(JSON.stringify(config)).not.toContain("adapter-secret-9c1");
    expect(arm.calls().every((call) => call.authorized)).toBe(true);
  });

  it("pages the log through nextLink, newest first, with the raw bodies and no response on a failed attempt", async () => {
    const ref = { registryId: REGISTRY, name: "hook1" };
    for (let n = 1; n <= 7; n++) {
      await arm.deliver(REGISTRY, "hook1", {
        id: `e${n}`,
        timestamp: "2026-05-01T09:00:00.123456789Z",
        action: "push",
        extra: n,
      });
    }
    const pages: LogPage[] = [];
    for await (const page of webhooks.logPages(ref)) {
      if (!page.ok) throw new Error(page.failure.message);
      pages.push(page.value);
    }
    expect(pages.map((page) => page.entries.length)).toEqual([3, 3, 1]);
    const contents = pages.flatMap((page) => page.entries.map((entry) => entry.content));
    expect(contents.map((content) => (content as { id: string }).id)).toEqual([
      "e7",
      "e6",
      "e5",
      "e4",
      "e3",
      "e2",
      "e1",
    ]);
    expect(contents[0]).toEqual({
      id: "e7",
      timestamp: "2026-05-01T09:00:00.123456789Z",
      action: "push",
      extra: 7,
    });
    expect(pages[0].entries[0].responseStatus).toBeUndefined();
    expect(pages[0].entries[0].requestHeaders).toMatchObject({ Authorization: "******" });

    // Resuming from a page's nextLink reads on from there.
    const resumed: string[] = [];
    for await (const page of webhooks.logPages(ref, pages[1].nextLink)) {
      if (page.ok)
        resumed.push(...page.value.entries.map((entry) => (entry.content as { id: string }).id));
    }
    expect(resumed).toEqual(["e1"]);
  });

  it("keeps the raw body of a log entry that has no id, or the id of another", async () => {
    arm.setWebhook(REGISTRY, { ...arm.webhook(REGISTRY, "hook1"), name: "oddlog" });
    const logged = (id: string | undefined, eventId: string) => {
      const entry = {
        id,
        eventRequestMessage: {
          content: { id: eventId, timestamp: "2026-05-01T09:00:00.123456789Z", action: "push" },
          headers: {},
          method: "POST",
          requestUri: "https://bridge.example/api/acr/webhook?region=westeurope",
          version: "1.1",
        },
      };
      arm.logEvent(REGISTRY, "oddlog", entry as Parameters<ArmStandIn["logEvent"]>[2]);
    };
    logged(undefined, "first");
    logged("twin", "second");
    logged("twin", "third");
    const contents: unknown[] = [];
    for await (const page of webhooks.logPages({ registryId: REGISTRY, name: "oddlog" })) {
      if (!page.ok) throw new Error(page.failure.message);
      contents.push(...page.value.entries.map((entry) => entry.content));
    }
    expect(contents).toEqual(
      ["third", "second", "first"].map((id) => ({
        id,
        timestamp: "2026-05-01T09:00:00.123456789Z",
        action: "push",
      })),
    );
  });

  it("hands on a corrupt entry's fields as the log holds them, for the import to check", async () => {
    arm.setWebhook(REGISTRY, { ...arm.webhook(REGISTRY, "hook1"), name: "corruptlog" });
    const corrupt: unknown[] = [
      "not an entry",
      { id: "no-request", eventRequestMessage: null },
      {
        id: 42,
        eventRequestMessage: {
          content: "text",
          headers: "Content-Type: text/plain",
          requestUri: 7,
        },
        eventResponseMessage: { statusCode: { code: 200 } },
      },
      {
        id: "odd-headers",
        eventRequestMessage: { headers: { "Content-Length": 708, "X-Trace": null } },
      },
    ];
    for (const entry of corrupt) arm.logEvent(REGISTRY, "corruptlog", entry as never);
    const entries: unknown[] = [];
    for await (const page of webhooks.logPages({ registryId: REGISTRY, name: "corruptlog" })) {
      if (!page.ok) throw new Error(page.failure.message);
      entries.push(...page.value.entries);
    }
    // Newest first. The SDK's model would have made the text of headers its characters.
    expect(entries).toEqual([
      {
        logId: "odd-headers",
        requestHeaders: { "Content-Length": 708, "X-Trace": null },
      },
      { logId: "", content: "text", requestUri: 7, requestHeaders: "Content-Type: text/plain" },
      { logId: "no-request" },
      { logId: "" },
    ]);
  });

  it("answers failures as typed values: a wrong token, a missing webhook, throttling", async () => {
    const wrongToken = client({ credential: staticTokenCredential("not-the-token") });
    expect(await wrongToken.list(REGISTRY)).toMatchObject({
      ok: false,
      failure: { kind: "unauthorized", status: 401 },
    });
    expect(await webhooks.ping({ registryId: REGISTRY, name: "nohook" })).toMatchObject({
      ok: false,
      failure: { kind: "not-found", status: 404, operation: "webhooks.ping" },
    });
    arm.fail({ operation: "getCallbackConfig", status: 429, retryAfterSeconds: 7, times: 1 });
    expect(await webhooks.configuration({ registryId: REGISTRY, name: "hook1" })).toMatchObject({
      ok: false,
      failure: {
        kind: "throttled",
        status: 429,
        retryAfterSeconds: 7,
        operation: "webhooks.getCallbackConfig",
      },
    });
  });

  it("waits out a short Retry-After with the SDK's retries, and fails at once on a long one", async () => {
    const retrying = client({ maxRetries: 3, maxRetryAfterSeconds: 1 });
    const pings = () => arm.calls().filter((call) => call.operation === "ping").length;

    arm.fail({ operation: "ping", status: 429, retryAfterSeconds: 1, times: 1 });
    const before = pings();
    expect(await retrying.ping({ registryId: REGISTRY, name: "hook1" })).toMatchObject({
      ok: true,
    });
    expect(pings() - before).toBe(2);

    // ARM's throttling can ask for minutes; three retries would sit out each of them.
    arm.fail({ operation: "ping", status: 429, retryAfterSeconds: 300, times: 4 });
    const throttledFrom = pings();
    expect(await retrying.ping({ registryId: REGISTRY, name: "hook1" })).toMatchObject({
      ok: false,
      failure: {
        kind: "throttled",
        status: 429,
        retryAfterSeconds: 300,
        operation: "webhooks.ping",
      },
    });
    expect(pings() - throttledFrom).toBe(1);
    arm.clearFaults();
  });

  it("gives up on a call ARM never answers after its time, retries and their waits included", async () => {
    const bounded = client({ maxRetries: 3, callTimeoutMs: 500 });
    const ref = { registryId: REGISTRY, name: "hook1" };
    const timed = async <T>(call: () => Promise<T>) => {
      const started = Date.now();
      const result = await call();
      return { result, ms: Date.now() - started };
    };

    arm.fail({ operation: "list", status: "hang", times: 1 });
    const hung = await timed(() => bounded.list(REGISTRY));
    expect(hung.result).toEqual({
      ok: false,
      failure: {
        kind: "timed-out",
        operation: "webhooks.list",
        message: "ARM did not answer within 0.5 s",
      },
    });
    expect(hung.ms).toBeLessThan(2000);

    // A retry's wait counts too: a 503 asking for 1 s fails the call at its time, as the 503.
    arm.fail({ operation: "get", status: 503, retryAfterSeconds: 1, times: 1 });
    const waiting = await timed(() => bounded.configuration(ref));
    expect(waiting.result).toEqual({
      ok: false,
      failure: {
        kind: "unavailable",
        status: 503,
        retryAfterSeconds: 1,
        operation: "webhooks.get",
        message: "ARM answered 503, retried for the call's 0.5 s",
      },
    });
    expect(waiting.ms).toBeLessThan(1000);

    // A hang after an answer: the answer.
    arm.fail({ operation: "ping", status: 500, times: 1 });
    arm.fail({ operation: "ping", status: "hang", times: 1 });
    expect(await bounded.ping(ref)).toMatchObject({
      ok: false,
      failure: { kind: "unavailable", status: 500, operation: "webhooks.ping" },
    });

    // Each page of the log has its own time: a hung page ends the read, typed.
    arm.fail({ operation: "listEvents", status: "hang", times: 1 });
    const pages: unknown[] = [];
    for await (const page of bounded.logPages(ref)) pages.push(page);
    expect(pages).toMatchObject([{ ok: false, failure: { kind: "timed-out" } }]);

    // Answered again, the same client works.
    expect(await bounded.list(REGISTRY)).toMatchObject({ ok: true });
  });
});
