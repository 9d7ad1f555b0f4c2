import { afterEach, describe, expect, it } from "vitest";
import {
  messagesOf,
  post,
  push,
  records,
  start,
  stopStack,
  uniqueRegistry,
} from "../support/faultStack";
import { runReconcile, sleep } from "../support/reconcile";

afterEach(stopStack);

describe("faults: nothing a registry sends is lost when a dependency fails", () => {
  it("Service Bus down: every delivery answers 200 pending, and the re-drive publishes each exactly once", async () => {
    const s = await start({ ownTables: true, withoutDuplicateDetection: true });
    const registry = uniqueRegistry();
    const sent = 20;
    await s.stopBroker();
    const answers = await Promise.all(Array.from({ length: sent }, () => post(s, push(registry))));
    expect(answers.map((a) => a.status)).toEqual(Array(sent).fill(200));
    expect(answers.every((a) => a.json.publishState === "pending")).toBe(true);
    await s.startBroker();

    await sleep(1100);
    await runReconcile(s, 2);
    await sleep(1100);
    await runReconcile(s);

    const stored = await records(s, registry);
    expect(stored).toHaveLength(sent);
    expect(stored.every((r) => r.publishState === "published")).toBe(true);
    const messages = messagesOf(s, registry);
    expect(messages).toHaveLength(sent);
    expect(new Set(messages.map((m) => m.messageId)).size).toBe(sent);
  });

  it("both down: 503 with a JSON error, the process stays up and recovers by itself", async () => {
    const s = await start({ ownTables: true });
    const registry = uniqueRegistry();
    await s.stopTables();
    await s.stopBroker();
    const down = await post(s, push(registry));
    expect(down).toMatchObject({
      status: 503,
      json: { error: { code: "dependency_unavailable" } },
    });

    await s.startTables();
    await s.startBroker();
    const back = await post(s, push(registry));
    expect(back).toMatchObject({ status: 200, json: { publishState: "published" } });
    expect(await records(s, registry)).toHaveLength(1);
  });

  it("a host killed in the middle of a burst leaves nothing the re-drive cannot finish", async () => {
    const s = await start({ ownTables: true });
    const registry = uniqueRegistry();
    // Warm: the host's first delivery opens its connections, which would outlast the burst.
    await post(s, push(uniqueRegistry()));
    const payloads = Array.from({ length: 60 }, () => push(registry));
    const burst = payloads.map((payload) => post(s, payload).catch(() => undefined));
    // Killed once some deliveries are recorded and others are still on their way.
    while ((await records(s, registry)).length < 5) await sleep(2);
    await s.stopHost("SIGKILL");
    const answers = await Promise.all(burst);
    expect(answers.some((answer) => answer === undefined)).toBe(true);
    await s.startHost();
    await sleep(1100);
    await runReconcile(s);

    const stored = await records(s, registry);
    // The kill must have come in the middle: some deliveries were recorded before it.
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.every((r) => r.publishState === "published")).toBe(true);
    const messages = messagesOf(s, registry);
    const published = new Set(messages.map((m) => m.applicationProperties.tag));
    for (const record of stored) expect(published.has(record.tag)).toBe(true);
    answers.forEach((answer, index) => {
      if (answer?.status === 200) {
        expect(published.has((payloads[index].target as { tag: string }).tag)).toBe(true);
      }
    });
    expect(messages).toHaveLength(stored.length);
  });

  it("Azurite restarted empty under a running host: what is recorded after it is still re-driven and listed", async () => {
    const s = await start({ ownTables: true });
    const registry = uniqueRegistry();
    expect((await post(s, push(registry))).json.publishState).toBe("published");
    await s.restartTablesEmpty();
    await s.stopBroker();
    const payload = push(registry);
    expect((await post(s, payload)).json.publishState).toBe("pending");
    await s.startBroker();

    await sleep(1100);
    await runReconcile(s);
    await sleep(1100);
    await runReconcile(s);

    const stored = await records(s, registry);
    expect(stored.map((r) => [r.eventId, r.publishState])).toEqual([[payload.id, "published"]]);
    expect(messagesOf(s, registry).map((m) => m.applicationProperties.tag)).toEqual([
      (payload.target as { tag: string }).tag,
    ]);
    const listed = await fetch(`${s.url}/api/events`);
    const items = ((await listed.json()) as { items: { id: string }[] }).items;
    expect(items.map((item) => item.id)).toContain(payload.id);
  });

  it("Service Bus down for longer than the re-drive's attempts: records stay pending, and are published once it is back", async () => {
    const s = await start({ ownTables: true, env: { REDRIVE_MAX_ATTEMPTS: "2" } });
    const registry = uniqueRegistry();
    await s.stopBroker();
    expect((await post(s, push(registry))).json.publishState).toBe("pending");
    for (let run = 0; run < 2; run++) {
      await sleep(1100);
      await runReconcile(s);
    }
    expect((await records(s, registry)).map((r) => r.publishState)).toEqual(["pending"]);

    await s.startBroker();
    await sleep(1100);
    await runReconcile(s);
    expect((await records(s, registry)).map((r) => r.publishState)).toEqual(["published"]);
    expect(messagesOf(s, registry)).toHaveLength(1);
  });

  it("a message that can never be published ends dead with its reason, not in an endless loop", async () => {
    const s = await start({
      ownTables: true,
      env: { TOPIC_PUSH: "acr-missing", REDRIVE_MAX_ATTEMPTS: "3" },
    });
    const registry = uniqueRegistry();
    const answer = await post(s, push(registry));
    expect(answer.json.publishState).toBe("pending");
    for (let run = 0; run < 3; run++) {
      await sleep(1100);
      await runReconcile(s);
    }
    const [record] = await records(s, registry);
    expect(record.publishState).toBe("dead");
    expect(record.publishAttempts).toBe(3);
    expect(String(record.lastError)).toMatch(/acr-missing' could not be found/);
    // A run whose re-drive failed says so as a warning, and the one that gave up names the event.
    const runs = s
      .output()
      .split("\n")
      .flatMap((line) => {
        const report = /\[(\w+)\] Function\.reconcile\.User: reconcile: (\{.*\})$/.exec(line);
        return report ? [{ level: report[1], report: JSON.parse(report[2]) }] : [];
      });
    expect(runs).toHaveLength(3);
    const failed = runs.filter((run) => run.report.redriveFailed > 0);
    expect(failed.length).toBeGreaterThanOrEqual(2);
    for (const run of runs)
      expect(run.level).toBe(failed.includes(run) ? "warning" : "information");
    expect(runs.flatMap((run) => run.report.gaveUp)).toEqual([
      {
        eventId: answer.json.id,
        action: "push",
        registry,
        reason: record.lastError,
      },
    ]);
  });
});
