import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { servedCatalogChecker } from "../support/catalogConformance";
import { acrPush, eventGridEvent, postEventGrid, RESOURCE_ID } from "../support/eventGridEvents";
import { APP_ROOT, type LocalStack, startLocalStack } from "../support/localStack";
import { sleep } from "../support/reconcile";
import { runTimer } from "../support/timers";
import { deliverWebhook } from "../support/webhookClient";

const EVENTGRID_SECRET = "e2e-eventgrid-secret";
const SILENCE_SECONDS = 2;

function push(registry: string, repository: string, tag = "v1") {
  return acrPush(repository, { registry, tag });
}

const uniqueRegistry = () => `myregistry.r${randomUUID().slice(0, 12)}.data.azurecr.io`;

describe("replay and the source watch on the local stack", () => {
  let stack: LocalStack;

  beforeAll(async () => {
    // Tables of its own: replay jobs are picked up by any app on the same tables.
    stack = await startLocalStack({
      ownTables: true,
      env: {
        EVENTGRID_SECRETS: EVENTGRID_SECRET,
        ACR_RESOURCE_IDS: RESOURCE_ID,
        RECONCILE_SCHEDULE: "0 0 0 1 1 *",
        REPLAY_MAX_WINDOW_HOURS: "2",
        SOURCE_SILENCE_SECONDS: String(SILENCE_SECONDS),
      },
    });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  async function call<T>(path: string, init: RequestInit = {}, status = 200): Promise<T> {
    const response = await fetch(`${stack.url}/api/${path}`, {
      ...init,
      headers: { "content-type": "application/json" },
    });
    const body = await response.json();
    expect(response.status, JSON.stringify(body)).toBe(status);
    return body as T;
  }

  const post = <T>(path: string, body: unknown, status = 200) =>
    call<T>(path, { method: "POST", body: JSON.stringify(body) }, status);

  /** Runs the replay timer until the job has ended (the schedule may also run it meanwhile). */
  async function replayUntilDone(id: string) {
    for (let run = 0; run < 20; run++) {
      await runTimer(stack, "replayRunner", "replayRunner: {");
      const job = await call<{ state: string }>(`replay/${id}`);
      if (job.state === "completed" || job.state === "failed") return job;
    }
    throw new Error(`replay ${id} did not end`);
  }

  const onTopic = (topic: string, registry: string) =>
    stack
      .broker()
      .messages(topic, "all")
      .filter((message) => message.applicationProperties.registry === registry);

  it("replays a window as a job: own message ids, replayed=true and the job id, once per job, across a restart", async () => {
    const registry = uniqueRegistry();
    const from = new Date(Date.now() - 60_000).toISOString();
    const pushes = [
      push(registry, "team/app"),
      push(registry, "team/app", "v2"),
      push(registry, "other"),
    ];
    for (const payload of pushes) await deliverWebhook(stack, payload);
    const to = new Date(Date.now() + 1000).toISOString();
    expect(onTopic("acr-push", registry)).toHaveLength(3);

    const dry = await post("replay", { from, to, registry, repository: "team/app", dryRun: true });
    expect(dry).toEqual({ dryRun: true, records: 2, replayable: 2 });
    expect(onTopic("acr-push", registry)).toHaveLength(3);

    const started = await post<{ id: string; state: string; location: string }>(
      "replay",
      { from, to, registry, repository: "team/app" },
      202,
    );
    expect(started).toMatchObject({ state: "queued", location: `/api/replay/${started.id}` });

    // The job is kept in Table Storage: a restart of the app does not lose it.
    await stack.stopHost();
    await stack.startHost();

    const done = await replayUntilDone(started.id);
    expect(done).toMatchObject({
      state: "completed",
      progress: 1,
      counts: { scanned: 2, published: 2, skipped: 0 },
      errors: [],
    });
    const messages = onTopic("acr-push", registry);
    const replayed = messages.filter((m) => m.applicationProperties.replayed === "true");
    expect(replayed).toHaveLength(2);
    const originals = messages.filter((m) => m.applicationProperties.replayed === undefined);
    expect(originals).toHaveLength(3);
    for (const message of replayed) {
      expect(message.applicationProperties).toMatchObject({
        replayJobId: started.id,
        repository: "team/app",
      });
      const original = originals.find(
        (m) => m.messageId === message.applicationProperties.originalMessageId,
      );
      if (!original) throw new Error("a replay names no original");
      expect(message.messageId).not.toBe(original.messageId);
      expect((message.body as { data: unknown }).data).toEqual(
        (original.body as { data: unknown }).data,
      );
    }
    // The event catalog the bridge serves describes originals and replays, their ids included.
    const { mismatches } = await servedCatalogChecker(stack.url);
    expect(messages.map(mismatches)).toEqual(messages.map(() => []));

    // A finished job is not run again; a second job replays again under ids of its own.
    await runTimer(stack, "replayRunner", "replayRunner: {");
    expect(onTopic("acr-push", registry)).toHaveLength(5);
    const second = await post<{ id: string }>(
      "replay",
      { from, to, registry, topic: "acr-delete" },
      202,
    );
    await replayUntilDone(second.id);
    const toDelete = onTopic("acr-delete", registry);
    expect(toDelete).toHaveLength(3);
    const ids = new Set([...messages, ...toDelete].map((m) => m.messageId));
    expect(ids.size).toBe(8);
  });

  it("npm run replay: a dry run, a queued job, and usage on a missing window", async () => {
    const registry = uniqueRegistry();
    await deliverWebhook(stack, push(registry, "cli/app"));
    const window = [
      "--from",
      new Date(Date.now() - 60_000).toISOString(),
      "--to",
      new Date(Date.now() + 1000).toISOString(),
    ];
    const cli = (...args: string[]) =>
      spawnSync(
        process.execPath,
        [join(APP_ROOT, "dist/dev/replayCli.js"), "--url", stack.url, ...args],
        {
          encoding: "utf8",
          timeout: 20_000,
        },
      );
    const dry = cli(...window, "--registry", registry, "--dry-run");
    expect(dry.status, dry.stderr).toBe(0);
    expect(dry.stdout).toContain("dry run: 1 of 1 recorded deliveries would be replayed");
    // Without --url, the PORT of local.settings.json in the folder it runs in, as npm start.
    const folder = mkdtempSync(join(tmpdir(), "replay-cli-"));
    const { port } = new URL(stack.url);
    writeFileSync(
      join(folder, "local.settings.json"),
      JSON.stringify({ IsEncrypted: false, Values: { PORT: port } }),
    );
    const { PORT: _ignored, ...environment } = process.env;
    const local = spawnSync(
      process.execPath,
      [join(APP_ROOT, "dist/dev/replayCli.js"), ...window, "--registry", registry, "--dry-run"],
      { encoding: "utf8", timeout: 20_000, cwd: folder, env: environment },
    );
    expect(local.status, local.stderr).toBe(0);
    expect(local.stdout).toContain("dry run: 1 of 1 recorded deliveries would be replayed");
    const queued = cli(...window, "--registry", registry, "--no-wait");
    expect(queued.status, queued.stderr).toBe(0);
    const id = /replay job ([0-9a-f-]{36}) queued/.exec(queued.stdout)?.[1];
    expect(await call(`replay/${id}`)).toMatchObject({ id, selection: { registry } });
    expect(await replayUntilDone(String(id))).toMatchObject({ counts: { published: 1 } });
    const key = randomUUID();
    const keyed = cli(...window, "--registry", registry, "--no-wait", "--idempotency-key", key);
    const again = cli(...window, "--registry", registry, "--no-wait", "--idempotency-key", key);
    const keyedId = /replay job ([0-9a-f-]{36}) queued/.exec(keyed.stdout)?.[1];
    expect(keyedId).toBeDefined();
    expect(again.stdout).toContain(`replay job ${keyedId} queued`);
    const usage = cli("--to", new Date().toISOString());
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain("--from and --to are required");
    const refused = cli("--from", "yesterday", "--to", new Date().toISOString());
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("400: invalid field: from");
    expect(refused.stderr).not.toContain("--idempotency-key");
    const unanswered = spawnSync(
      process.execPath,
      [join(APP_ROOT, "dist/dev/replayCli.js"), "--url", "http://127.0.0.1:1", ...window],
      { encoding: "utf8", timeout: 20_000 },
    );
    expect(unanswered.status).toBe(1);
    expect(unanswered.stderr).toMatch(/to retry without a second job: --idempotency-key \S+/);
  });

  it("an Idempotency-Key makes a retried replay request find its job instead of starting another", async () => {
    const now = Date.now();
    const body = {
      from: new Date(now - 60_000).toISOString(),
      to: new Date(now).toISOString(),
      registry: "idempotent.azurecr.io",
    };
    const send = (key: string, sent: unknown = body) =>
      fetch(`${stack.url}/api/replay`, {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": key },
        body: JSON.stringify(sent),
      });
    const key = randomUUID();
    const first = await send(key);
    expect(first.status).toBe(202);
    const started = (await first.json()) as { id: string };
    const retried = await send(key);
    expect(retried.status).toBe(202);
    expect(((await retried.json()) as { id: string }).id).toBe(started.id);
    const reused = await send(key, { ...body, registry: "other.azurecr.io" });
    expect(reused.status).toBe(409);
    expect(await reused.json()).toMatchObject({ error: { code: "idempotency_key_reused" } });
    const bad = await send("has spaces in it");
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({
      error: { code: "invalid_request", message: "invalid header: idempotency-key" },
    });
    expect((await send(randomUUID())).status).toBe(202);
  });

  it("refuses bad replay requests naming the field, and unknown jobs", async () => {
    const now = Date.now();
    const iso = (ms: number) => new Date(ms).toISOString();
    const refused = async (body: unknown, field: string) => {
      const answer = await post<{ error: { code: string; message: string } }>("replay", body, 400);
      expect(answer.error.code).toBe("invalid_request");
      expect(answer.error.message).toContain(field);
    };
    await refused({ to: iso(now) }, "from");
    await refused({ from: iso(now - 1000), to: "tomorrow" }, "to");
    await refused({ from: iso(now - 3 * 3_600_000), to: iso(now) }, "from");
    await refused({ from: iso(now - 1000), to: iso(now), action: "PUSH!" }, "action");
    await refused({ from: iso(now - 1000), to: iso(now), registry: "é".repeat(255) }, "registry");
    await refused({ from: iso(now - 1000), to: iso(now), force: true }, "force");
    const notJson = await fetch(`${stack.url}/api/replay`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{",
    });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: { code: string } }).error.code).toBe("invalid_json");
    // A JSON body declared as something else starts nothing, whatever it says.
    for (const contentType of ["text/plain", "application/x-www-form-urlencoded"]) {
      const declaredOtherwise = await fetch(`${stack.url}/api/replay`, {
        method: "POST",
        headers: { "content-type": contentType },
        body: JSON.stringify({ from: iso(now - 1000), to: iso(now) }),
      });
      expect(declaredOtherwise.status, contentType).toBe(415);
      expect(await declaredOtherwise.json()).toMatchObject({
        error: { code: "unsupported_media_type" },
      });
    }
    await call(`replay/${randomUUID()}`, {}, 404);
    const badId = await call<{ error: { message: string } }>("replay/not-a-job", {}, 400);
    expect(badId.error.message).toContain("jobId");
  });

  /** Runs the source watch over and over for `ms`, about every 300 ms. */
  async function watchFor(ms: number) {
    const until = Date.now() + ms;
    do {
      await runTimer(stack, "sourceWatch", "sourceWatch: {");
      await sleep(300);
    } while (Date.now() < until);
  }

  it("publishes webhook-silent while Event Grid delivers, shows it in health, and resolves it when the webhook resumes", async () => {
    const registry = uniqueRegistry();
    await deliverWebhook(stack, push(registry, "app"), `?region=westeurope&registry=${registry}`);
    // The watch keeps running while the webhook is silent, as on its schedule: a gap in its runs
    // longer than the threshold is the bridge's own downtime (next test).
    await watchFor(SILENCE_SECONDS * 1000 + 200);
    const response = await postEventGrid(
      stack,
      [eventGridEvent(push(registry, "app", "v9"), { location: "westeurope" })],
      EVENTGRID_SECRET,
    );
    expect(response.status).toBe(200);
    await runTimer(stack, "sourceWatch", "sourceWatch: {");

    const findings = () => onTopic("acr-discrepancies", registry);
    expect(findings()).toHaveLength(1);
    expect(findings()[0].applicationProperties).toMatchObject({
      kind: "webhook-silent",
      state: "open",
      region: "westeurope",
      operational: "true",
    });
    const health = await call<{ details: { operational: { registry: string }[] } }>("health");
    expect(health.details.operational.filter((f) => f.registry === registry)).toEqual([
      expect.objectContaining({ kind: "webhook-silent", state: "open", region: "westeurope" }),
    ]);
    const overview = await call<{ sources: { registry: string; state: string }[] }>(
      `overview?registry=${registry}`,
    );
    expect(overview.sources).toEqual([
      expect.objectContaining({ registry, region: "westeurope", state: "webhook-silent" }),
    ]);

    // Another run with nothing new publishes nothing more.
    await runTimer(stack, "sourceWatch", "sourceWatch: {");
    expect(findings()).toHaveLength(1);

    await deliverWebhook(
      stack,
      push(registry, "app", "v3"),
      `?region=westeurope&registry=${registry}`,
    );
    await runTimer(stack, "sourceWatch", "sourceWatch: {");
    expect(findings().map((m) => m.applicationProperties.state)).toEqual(["open", "resolved"]);
    const { mismatches } = await servedCatalogChecker(stack.url);
    expect(findings().map(mismatches)).toEqual([[], []]);
    const after = await call<{ details: { operational: { registry: string }[] } }>("health");
    expect(after.details.operational.filter((f) => f.registry === registry)).toEqual([]);
  });

  it("blames neither side for the bridge's own downtime: Event Grid retrying an event from it raises nothing", async () => {
    const registry = uniqueRegistry();
    const first = push(registry, "app");
    await deliverWebhook(stack, first, `?region=westeurope&registry=${registry}`);
    await postEventGrid(
      stack,
      [eventGridEvent(first, { location: "westeurope" })],
      EVENTGRID_SECRET,
    );
    await runTimer(stack, "sourceWatch", "sourceWatch: {");
    // The bridge is down past the threshold (no run of its timers, no delivery heard): ACR's one
    // webhook of this push is lost, Event Grid retries it once the bridge is back.
    const duringDowntime = eventGridEvent(push(registry, "app", "v2"), { location: "westeurope" });
    await sleep(SILENCE_SECONDS * 1000 + 500);
    const retried = await postEventGrid(stack, [duringDowntime], EVENTGRID_SECRET);
    expect(retried.status).toBe(200);
    await watchFor(SILENCE_SECONDS * 1000 + 200);
    expect(onTopic("acr-discrepancies", registry)).toEqual([]);
    const overview = await call<{ sources: { registry: string; state: string }[] }>(
      `overview?registry=${registry}`,
    );
    expect(overview.sources).toEqual([
      expect.objectContaining({ registry, region: "westeurope", state: "quiet" }),
    ]);
  });
});
