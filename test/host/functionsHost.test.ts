import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FunctionsHost, startFunctionsHost } from "../../dev/host/main";
import { waitFor, waitForLine } from "./waitFor";

// The fixture app runs in this test worker: the host hooks Node's own `require`, and the app's
// plain CommonJS files are loaded through it, outside vitest's module system.
const fixtureApp = join(__dirname, "fixture-app");
const eventGridFixtures = join(__dirname, "..", "fixtures", "eventgrid");
const readJson = (name: string) => JSON.parse(readFileSync(join(eventGridFixtures, name), "utf8"));

const hookCalls = () =>
  (globalThis as { fixtureAppHookCalls?: string[] }).fixtureAppHookCalls ?? [];

describe("the local functions host, serving the fixture app", () => {
  let host: FunctionsHost;
  const lines: string[] = [];
  const linesMatching = (pattern: RegExp) => lines.filter((line) => pattern.test(line));

  beforeAll(async () => {
    host = await startFunctionsHost({
      appRoot: fixtureApp,
      timers: false,
      log: (line) => lines.push(line),
    });
  });
  afterAll(() => host?.stop());

  it("listens on a free loopback port, with the app's settings in process.env", () => {
    expect(host.url).toBe(`http://127.0.0.1:${host.port}`);
    expect(host.port).toBeGreaterThan(0);
    expect(host.functions.map((fn) => fn.name)).toContain("echo");
    expect(process.env.FUNCTIONS_WORKER_RUNTIME).toBe("node");
    expect(hookCalls()).toContain("appStart");
  });

  describe("HTTP functions under /api", () => {
    it("hand route params, query, headers and body to the handler and write its response", async () => {
      const response = await fetch(`${host.url}/api/items/books/42?tag=a&tag=b`, {
        method: "POST",
        headers: { "x-test": "hello", "content-type": "text/plain" },
        body: "payload",
      });

      expect(response.status).toBe(201);
      expect(response.headers.get("content-type")).toBe("application/json");
      expect(response.headers.get("x-echo")).toBe("yes");
      expect(response.headers.get("set-cookie")).toBe("session=abc; HttpOnly; SameSite=Lax");
      const body = await response.json();
      expect(body).toEqual({
        method: "POST",
        url: `${host.url}/api/items/books/42?tag=a&tag=b`,
        params: { category: "books", id: "42" },
        query: ["a", "b"],
        header: "hello",
        body: "payload",
        invocationId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        functionName: "echo",
        realClasses: true,
      });
      // context.warn reaches the host's log with its level; the preInvocation hook ran.
      expect(linesMatching(/\[warning\] Function\.echo\.User: echo POST books$/)).toHaveLength(1);
      expect(hookCalls()).toContain("preInvocation:echo");
    });

    it("match literals case-insensitively and leave out an absent optional parameter", async () => {
      const response = await fetch(`${host.url}/api/ITEMS/toys/`);
      expect(response.status).toBe(201);
      const { params } = (await response.json()) as { params: unknown };
      expect(params).toEqual({ category: "toys" });
    });

    it("answer on the function name when no route is declared", async () => {
      const response = await fetch(`${host.url}/api/defaultRoute`, { method: "POST" });
      expect(response.status).toBe(200);
      expect(await response.text()).toBe("default route");
    });

    it("answer 404 in JSON for an unknown route or a method the function does not take", async () => {
      for (const [method, path] of [
        ["GET", "/api/nothing/here"],
        ["DELETE", "/api/items/books"],
        ["GET", "/items/books"],
      ]) {
        const response = await fetch(`${host.url}${path}`, { method });
        expect(response.status, `${method} ${path}`).toBe(404);
        expect(await response.json()).toMatchObject({ error: { code: "not_found" } });
      }
    });

    it("answer 500 with a generic JSON error when the handler throws, and log the error", async () => {
      const response = await fetch(`${host.url}/api/fail`);

      expect(response.status).toBe(500);
      const text = await response.text();
      expect(JSON.parse(text)).toEqual({
        error: {
          code: "internal_error",
          message: "Exception while executing function: Functions.fail",
        },
      });
      expect(text).not.toContain("secret detail");
      expect(text).not.toMatch(/\bat /);
      const logged = linesMatching(/\[error\] Function\.fail: Exception while executing/);
      expect(logged.join("\n")).toMatch(/Error: secret detail\n\s+at /);
    });
  });

  describe("the Event Grid webhook", () => {
    const webhook = (functionName: string) =>
      `${host.url}/runtime/webhooks/EventGrid?functionName=${functionName}`;
    const deliver = (eventType: string, body: unknown, functionName = "onEvent") =>
      fetch(webhook(functionName), {
        method: "POST",
        headers: { "content-type": "application/json", "aeg-event-type": eventType },
        body: JSON.stringify(body),
      });
    const executions = () => linesMatching(/Executing 'Functions\.onEvent'/).length;

    it("answers the subscription validation itself, without calling the function", async () => {
      const before = executions();
      const response = await deliver(
        "SubscriptionValidation",
        readJson("eg-subscription-validation.doc.json"),
      );

      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        validationResponse: "512d38b6-c7b8-40c8-89fe-f46f9e9622b6",
      });
      expect(executions()).toBe(before);
    });

    it("calls the function once per event of a notification and answers 202", async () => {
      const [pushed] = readJson("eg-imagepushed.doc2019.json");
      const [deleted] = readJson("eg-imagedeleted.doc2019.json");
      const response = await deliver("Notification", [pushed, deleted]);

      expect(response.status).toBe(202);
      expect(linesMatching(new RegExp(`User: event ${pushed.id} ImagePushed$`))).toHaveLength(1);
      expect(linesMatching(new RegExp(`User: event ${deleted.id} ImageDeleted$`))).toHaveLength(1);
    });

    it("takes a single CloudEvents object as well", async () => {
      const [cloudEvent] = readJson("ce-imagepushed.doc.json");
      const before = linesMatching(/ Microsoft\.ContainerRegistry\.ImagePushed$/).length;
      const response = await deliver("Notification", { ...cloudEvent, id: "ce-single" });

      expect(response.status).toBe(202);
      expect(
        linesMatching(/User: event ce-single Microsoft\.ContainerRegistry\.ImagePushed$/),
      ).toHaveLength(1);
      expect(linesMatching(/ Microsoft\.ContainerRegistry\.ImagePushed$/)).toHaveLength(before + 1);
    });

    it("answers 500 when a call fails, so that Event Grid retries, after calling for every event", async () => {
      const response = await deliver("Notification", [
        { id: "eg-fails", eventType: "Test", subject: "fail", data: {} },
        { id: "eg-passes", eventType: "Test", subject: "ok", data: {} },
      ]);

      expect(response.status).toBe(500);
      expect(await response.json()).toMatchObject({ error: { code: "internal_error" } });
      expect(linesMatching(/User: event eg-fails Test$/)).toHaveLength(1);
      expect(linesMatching(/User: event eg-passes Test$/)).toHaveLength(1);
    });

    it("answers 400 for an event nested too deeply to hand to the function, calling nothing (it was a 500)", async () => {
      const before = executions();
      for (const nested of ["[", '{"a":']) {
        const depth = 10_000;
        const event = `${nested.repeat(depth)}1${(nested === "[" ? "]" : "}").repeat(depth)}`;
        const response = await fetch(webhook("onEvent"), {
          method: "POST",
          headers: { "content-type": "application/json", "aeg-event-type": "Notification" },
          body: `[{"id":"eg-deep","eventType":"Test","subject":"ok","data":{}},${event}]`,
        });

        expect(response.status).toBe(400);
        expect(await response.json()).toMatchObject({ error: { code: "invalid_body" } });
      }
      expect(executions()).toBe(before);
    });

    it("answers the CloudEvents abuse-protection handshake", async () => {
      const response = await fetch(webhook("onEvent"), {
        method: "OPTIONS",
        headers: { "WebHook-Request-Origin": "eventgrid.azure.net" },
      });

      expect(response.status).toBe(200);
      expect(response.headers.get("webhook-allowed-origin")).toBe("eventgrid.azure.net");
    });

    it("answers 404 for an unknown or non-Event Grid function, 400 without aeg-event-type", async () => {
      expect((await deliver("Notification", [], "nothing")).status).toBe(404);
      expect((await deliver("Notification", [], "echo")).status).toBe(404);
      const response = await fetch(webhook("onEvent"), { method: "POST", body: "[]" });
      expect(response.status).toBe(400);
    });
  });

  describe("POST /admin/functions/NAME", () => {
    const invokeByName = (name: string, body: unknown = { input: "" }) =>
      fetch(`${host.url}/admin/functions/${name}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });

    it("runs a timer function with a Timer argument and answers 202", async () => {
      const response = await invokeByName("tick");
      expect(response.status).toBe(202);

      const line = await waitForLine(lines, /User: tick /);
      const timer = JSON.parse(line.slice(line.indexOf("User: tick ") + "User: tick ".length));
      expect(timer).toEqual({
        isPastDue: false,
        schedule: { adjustForDST: true },
        scheduleStatus: {
          last: expect.any(String),
          next: expect.any(String),
          lastUpdated: expect.any(String),
        },
      });
      // The fixture's sample settings schedule "tick" yearly, at midnight on January 1.
      const next = new Date(timer.scheduleStatus.next);
      expect(next.getTime()).toBeGreaterThan(Date.now());
      expect([next.getMonth(), next.getDate(), next.getHours(), next.getMinutes()]).toEqual([
        0, 1, 0, 0,
      ]);
    });

    it("hands any other trigger its input, parsed when it is JSON", async () => {
      const event = { id: "admin-event", eventType: "ByAdmin", subject: "ok", data: {} };
      expect((await invokeByName("onEvent", { input: JSON.stringify(event) })).status).toBe(202);
      await waitForLine(lines, /User: event admin-event ByAdmin$/);
    });

    it("answers 404 for an unknown function and 400 for an HTTP one or a body that is not JSON", async () => {
      expect((await invokeByName("nothing")).status).toBe(404);
      expect((await invokeByName("echo")).status).toBe(400);
      const response = await fetch(`${host.url}/admin/functions/tick`, {
        method: "POST",
        body: "x",
      });
      expect(response.status).toBe(400);
    });
  });
});

describe("timers, when the host runs them", () => {
  let host: FunctionsHost;
  const lines: string[] = [];
  const previousSchedule = process.env.TICK_SCHEDULE;

  beforeAll(async () => {
    // The environment wins over the app's local settings, as with `func start`.
    process.env.TICK_SCHEDULE = "*/1 * * * * *";
    host = await startFunctionsHost({ appRoot: fixtureApp, log: (line) => lines.push(line) });
  });
  afterAll(async () => {
    await host?.stop();
    if (previousSchedule === undefined) delete process.env.TICK_SCHEDULE;
    else process.env.TICK_SCHEDULE = previousSchedule;
  });

  it("run runOnStartup functions at once", async () => {
    await waitForLine(lines, /Function\.startupTick\.User: startupTick ran/);
    expect(lines.find((line) => /Executing 'Functions\.startupTick'/.test(line))).toMatch(
      /Reason='Timer fired at /,
    );
  });

  it("fire a %SETTING% schedule every second", async () => {
    await waitFor(
      () =>
        lines.filter((line) => /Function\.tick\.User: tick /.test(line)).length >= 2
          ? true
          : undefined,
      "two ticks",
      3_500,
    );
  });
});

describe("functions disabled by an app setting (AzureWebJobs.<name>.Disabled)", () => {
  let host: FunctionsHost;
  const lines: string[] = [];
  const settings: Record<string, string> = {
    "AzureWebJobs.echo.Disabled": "true",
    AzureWebJobs__startupTick__Disabled: "1",
    "AzureWebJobs.ONEVENT.Disabled": "True",
    "AzureWebJobs.tick.Disabled": "false",
    TICK_SCHEDULE: "*/1 * * * * *",
  };
  const previous = Object.fromEntries(
    Object.keys(settings).map((name) => [name, process.env[name]]),
  );

  beforeAll(async () => {
    Object.assign(process.env, settings);
    host = await startFunctionsHost({ appRoot: fixtureApp, log: (line) => lines.push(line) });
  });
  afterAll(async () => {
    await host?.stop();
    for (const [name, value] of Object.entries(previous)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it("are not triggered: no route, no Event Grid delivery, no schedule; the others are", async () => {
    expect((await fetch(`${host.url}/api/items/books/1`)).status).toBe(404);
    const eventGrid = await fetch(`${host.url}/runtime/webhooks/EventGrid?functionName=onEvent`, {
      method: "POST",
      headers: { "content-type": "application/json", "aeg-event-type": "Notification" },
      body: JSON.stringify([{ id: "e1", eventType: "T", subject: "s", data: {} }]),
    });
    expect(eventGrid.status).toBe(404);
    expect((await fetch(`${host.url}/api/defaultRoute`, { method: "POST" })).status).toBe(200);
    // "tick" is not disabled ("false"): it fires every second, while "startupTick" never ran.
    await waitFor(
      () => (lines.some((line) => /Function\.tick\.User: tick /.test(line)) ? true : undefined),
      "a tick",
      3_500,
    );
    expect(lines.filter((line) => /startupTick ran/.test(line))).toEqual([]);
    for (const name of ["echo", "startupTick", "onEvent"]) {
      expect(lines.filter((line) => line.includes(`Function '${name}' is disabled.`))).toHaveLength(
        1,
      );
    }
    expect(lines.filter((line) => line.includes("Function 'tick' is disabled."))).toEqual([]);
  });

  it("still run by name at /admin/functions, as with the master key on Azure", async () => {
    const response = await fetch(`${host.url}/admin/functions/startupTick`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ input: "" }),
    });
    expect(response.status).toBe(202);
    await waitForLine(lines, /Function\.startupTick\.User: startupTick ran/);
  });
});

describe("stop()", () => {
  it("stops accepting connections and waits for the request in flight", async () => {
    const lines: string[] = [];
    const host = await startFunctionsHost({
      appRoot: fixtureApp,
      timers: false,
      log: (line) => lines.push(line),
    });
    const slow = fetch(`${host.url}/api/slow?ms=300`);
    await waitForLine(lines, /slow started/);

    let stopped = false;
    const stopping = host.stop().then(() => {
      stopped = true;
    });
    await expect(fetch(`${host.url}/api/defaultRoute`)).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(stopped).toBe(false);

    const response = await slow;
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("slow done");
    await stopping;
    expect(lines.join("\n")).toMatch(/Executed 'Functions\.slow' \(Succeeded/);
    // appTerminate ran last, with the hookData appStart left.
    expect(hookCalls().at(-1)).toBe("appTerminate after appStart");
  });

  it("gives up waiting after stopTimeoutMs", async () => {
    const lines: string[] = [];
    const host = await startFunctionsHost({
      appRoot: fixtureApp,
      timers: false,
      log: (line) => lines.push(line),
      stopTimeoutMs: 50,
    });
    const slow = fetch(`${host.url}/api/slow?ms=600`);
    await waitForLine(lines, /slow started/);

    await host.stop();
    // Cut off, not waited for: an invocation let finish would have answered.
    await expect(slow).rejects.toThrow();
    expect(lines.join("\n")).toMatch(
      /\[warning\] Host: Stopped waiting for running invocations after 50 ms/,
    );
  });
});
