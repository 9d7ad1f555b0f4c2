import { afterEach, describe, expect, it, vi } from "vitest";
import type {
  ArmResult,
  RegistryWebhooks,
  WebhookConfiguration,
  WebhookRef,
} from "../../src/core/registryWebhooks";
import type { TopicMessage } from "../../src/core/topicMessage";
import type { RegistryHealth, WebhookHealth } from "../../src/core/webhookHealth";
import type { FindingWrite, Versioned } from "../../src/core/writePlan";
import {
  checkWebhookHealth,
  type RegistryHealthStore,
  type WebhookHealthDependencies,
  type WebhookHealthStore,
} from "../../src/webhookHealth/checkWebhookHealth";

const registryId = (name: string) =>
  `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/${name}`;
const T0 = Date.parse("2026-05-01T09:00:00Z");
const MINUTE = 60_000;

/**
 * Rows written at a version, with the semantics of the Table adapter: without a version a write
 * creates (and fails if the row exists), with one it replaces only that version of the row.
 */
class VersionedRows<T> {
  private readonly rows = new Map<string, Versioned<T>>();
  private versions = 0;
  lists = 0;

  read(key: string): Versioned<T> | undefined {
    return this.rows.get(key);
  }

  write(key: string, value: T, version: string | undefined): FindingWrite {
    if (this.rows.get(key)?.version !== version) return { ok: false, failure: "changed" };
    const written = String(++this.versions);
    this.rows.set(key, { value: structuredClone(value), version: written });
    return { ok: true, value: written };
  }

  remove(key: string): void {
    this.rows.delete(key);
  }

  list(): T[] {
    this.lists++;
    return [...this.rows.values()].map((row) => row.value);
  }
}

const webhookKey = (ref: WebhookRef) => `${ref.registryId}|${ref.name}`.toLowerCase();

class MemoryWebhookHealth implements WebhookHealthStore {
  readonly rows = new VersionedRows<WebhookHealth>();
  read = async (ref: WebhookRef) => this.rows.read(webhookKey(ref));
  write = async (health: WebhookHealth, version: string | undefined) =>
    this.rows.write(webhookKey(health.ref), health, version);
  list = async () => this.rows.list();
  remove = async (ref: WebhookRef) => this.rows.remove(webhookKey(ref));
}

class MemoryRegistryHealth implements RegistryHealthStore {
  readonly rows = new VersionedRows<RegistryHealth>();
  read = async (id: string) => this.rows.read(id.toLowerCase());
  write = async (health: RegistryHealth, version: string | undefined) =>
    this.rows.write(health.registryId.toLowerCase(), health, version);
  list = async () => this.rows.list();
  remove = async (id: string) => this.rows.remove(id.toLowerCase());
}

/** A webhook as infra creates it, delivering every expected action to the bridge. */
function webhook(
  registry: string,
  name: string,
  overrides: Partial<WebhookConfiguration> = {},
): WebhookConfiguration {
  return {
    ref: { registryId: registry, name },
    location: "westeurope",
    status: "enabled",
    scope: "",
    actions: ["push"],
    serviceUri: "https://bridge.example/api/acr/webhook?region=westeurope",
    customHeaderNames: ["Authorization"],
    ...overrides,
  };
}

/** ARM's registries and their webhooks, in the order ARM lists them. */
class FakeArm implements RegistryWebhooks {
  readonly registries = new Map<string, WebhookConfiguration[]>();
  /** Runs on each call describing a webhook: where a test lets time pass. */
  onDescribe: () => void = () => {};
  private pings = 0;

  set(config: WebhookConfiguration): void {
    const webhooks = this.registries.get(config.ref.registryId) ?? [];
    const others = webhooks.filter((other) => other.ref.name !== config.ref.name);
    this.registries.set(config.ref.registryId, [...others, config]);
  }

  async list(id: string): Promise<ArmResult<WebhookRef[]>> {
    const webhooks = this.registries.get(id);
    if (!webhooks) return this.notFound("webhooks.list");
    return { ok: true, value: webhooks.map((config) => config.ref) };
  }

  async configuration(ref: WebhookRef): Promise<ArmResult<WebhookConfiguration>> {
    this.onDescribe();
    const config = this.registries.get(ref.registryId)?.find((c) => c.ref.name === ref.name);
    return config ? { ok: true, value: config } : this.notFound("webhooks.get");
  }

  async ping(): Promise<ArmResult<string>> {
    return { ok: true, value: `ping-${++this.pings}` };
  }

  // biome-ignore lint/correctness/useYield: the health check reads no log.
  async *logPages(): AsyncIterable<ArmResult<never>> {
    throw new Error("not read by the health check");
  }

  private notFound<T>(operation: string): ArmResult<T> {
    return { ok: false, failure: { kind: "not-found", operation, status: 404, message: "" } };
  }
}

function healthRun(overrides: Partial<WebhookHealthDependencies> = {}) {
  const arm = new FakeArm();
  const store = new MemoryWebhookHealth();
  const registries = new MemoryRegistryHealth();
  const published: TopicMessage[] = [];
  const deps: WebhookHealthDependencies = {
    registryIds: [],
    webhooks: arm,
    store,
    registries,
    isPingRecorded: async () => true,
    publish: async (message) => {
      published.push(message);
    },
    expectations: { actions: ["push"], scope: "", authHeader: "Authorization" },
    pingTimeoutMs: 2 * MINUTE,
    checksBegunWithinMs: MINUTE,
    ...overrides,
  };
  const run = (now: number, changes: Partial<WebhookHealthDependencies> = {}) =>
    checkWebhookHealth({ ...deps, ...changes }, now);
  /** What was published, as `<kind> <webhook or registry name> resolved=<…>`. */
  const findings = () =>
    published.map(({ applicationProperties: p }) => {
      const about = p.webhook ?? String(p.registry).split(".")[0];
      return `${p.kind} ${about} resolved=${p.resolved}`;
    });
  return { arm, store, registries, published, findings, run };
}

describe("checkWebhookHealth: forgetting what is gone", () => {
  it("resolves a registry no longer configured and a webhook deleted from its registry, on one read of the kept webhook verdicts", async () => {
    const KEPT = registryId("keptreg");
    const DROPPED = registryId("droppedreg");
    const { arm, store, findings, run } = healthRun();
    arm.set(webhook(KEPT, "delivering"));
    arm.set(webhook(KEPT, "deleted", { status: "disabled" }));
    arm.set(webhook(DROPPED, "droppedhook", { status: "disabled" }));
    await run(T0, { registryIds: [KEPT, DROPPED] });
    expect(findings().sort()).toEqual([
      "webhook-missing droppedreg resolved=false",
      "webhook-unhealthy deleted resolved=false",
      "webhook-unhealthy droppedhook resolved=false",
    ]);

    arm.registries.set(KEPT, [webhook(KEPT, "delivering")]);
    const listsBefore = store.rows.lists;
    const report = await run(T0 + 15 * MINUTE, { registryIds: [KEPT] });
    expect(report.unconfigured).toEqual([DROPPED]);
    expect(report.deleted.sort()).toEqual([
      `${DROPPED}/webhooks/droppedhook`,
      `${KEPT}/webhooks/deleted`,
    ]);
    expect(findings().slice(3).sort()).toEqual([
      "webhook-missing droppedreg resolved=true",
      "webhook-unhealthy deleted resolved=true",
      "webhook-unhealthy droppedhook resolved=true",
    ]);
    expect(store.rows.lists - listsBefore).toBe(1);
    expect((await store.list()).map((health) => health.ref.name)).toEqual(["delivering"]);
  });
});

describe("checkWebhookHealth: a claimed change whose run did not publish it", () => {
  it("is left to its claimer for 5 minutes, then published by the next run under the same message id, before what changed since", async () => {
    const REG = registryId("claimreg");
    const { arm, published, findings, run } = healthRun({ registryIds: [REG] });
    arm.set(webhook(REG, "delivering"));
    arm.set(webhook(REG, "broken", { status: "disabled" }));
    const attempted: TopicMessage[] = [];
    const failing = async (message: TopicMessage) => {
      attempted.push(message);
      throw new Error("Service Bus is down");
    };

    const claimed = await run(T0, { publish: failing });
    expect(attempted.map((message) => message.applicationProperties.webhook)).toEqual(["broken"]);
    expect(claimed.errors).toEqual([
      `${REG}/webhooks/broken: webhook-unhealthy finding not published: Error: Service Bus is down`,
    ]);

    // Fixed since; the claim is still its claimer's, which may yet publish it.
    arm.set(webhook(REG, "broken"));
    const leased = await run(T0 + 5 * MINUTE - 1);
    expect(leased.notClaimed).toBe(1);
    expect(published).toEqual([]);

    await run(T0 + 5 * MINUTE);
    expect(findings()).toEqual([
      "webhook-unhealthy broken resolved=false",
      "webhook-unhealthy broken resolved=true",
    ]);
    expect(published[0].messageId).toBe(attempted[0].messageId);

    await run(T0 + 20 * MINUTE);
    expect(published).toHaveLength(2);
  });
});

describe("checkWebhookHealth: a run's time (CHECKS_BEGUN_WITHIN_MS)", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("begins no webhook once its time is up, judges no registry on the webhooks it had time for, and leaves the others to the next run, first", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(T0);
    const REG = registryId("slowreg");
    const { arm, store, registries, findings, run } = healthRun({ registryIds: [REG] });
    // ARM answers, slowly: 25 s to describe each webhook.
    arm.onDescribe = () => vi.setSystemTime(Date.now() + 25_000);
    for (const name of ["one", "two", "three", "four"]) {
      arm.set(webhook(REG, name, { status: "disabled" }));
    }
    arm.set(webhook(REG, "delivering"));
    const names = async () => (await store.list()).map((health) => health.ref.name).sort();

    const first = await run(Date.now());
    // Begun at 0, 25 and 50 s; none after a minute.
    expect(await names()).toEqual(["one", "three", "two"]);
    expect(first.errors).toEqual([`${REG}: 2 of 5 webhooks not checked, the run's time is up`]);
    expect(first.pinged).toBe(0);
    // The webhook delivering was not described: the registry is not judged without it.
    expect(first.uncovered).toEqual([]);
    expect(await registries.list()).toEqual([]);
    expect(findings().sort()).toEqual([
      "webhook-unhealthy one resolved=false",
      "webhook-unhealthy three resolved=false",
      "webhook-unhealthy two resolved=false",
    ]);

    // The next run begins with those left; nothing was forgotten or resolved meanwhile.
    vi.setSystemTime(T0 + 15 * MINUTE);
    const second = await run(Date.now());
    expect(second.errors).toEqual([`${REG}: 2 of 5 webhooks not checked, the run's time is up`]);
    expect(second.deleted).toEqual([]);
    expect(await names()).toEqual(["delivering", "four", "one", "three", "two"]);
    expect(second.pinged).toBe(1);
    expect(await registries.list()).toEqual([
      expect.objectContaining({ verdict: expect.objectContaining({ healthy: true }) }),
    ]);
    expect(findings()).toHaveLength(4);
    expect(findings()).not.toContainEqual(expect.stringMatching(/^webhook-missing|resolved=true/));
  });

  it("a registry ARM answers for again, though the run had no time to judge it, is no longer unreachable; its verdict is kept", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(T0);
    const REG = registryId("backreg");
    const { arm, registries, run } = healthRun({ registryIds: [REG] });
    const verdict = {
      healthy: true,
      problems: [],
      since: T0 - 60 * MINUTE,
      checkedAt: T0 - 30 * MINUTE,
      published: true,
    };
    const unreachable = {
      reason: "webhooks.list: 503",
      since: T0 - 15 * MINUTE,
      checkedAt: T0 - 15 * MINUTE,
    };
    await registries.write({ registryId: REG, verdict, unreachable }, undefined);
    arm.onDescribe = () => vi.setSystemTime(Date.now() + 61_000);
    arm.set(webhook(REG, "disabled", { status: "disabled" }));
    arm.set(webhook(REG, "delivering"));

    const unfinished = await run(Date.now());
    expect(unfinished.errors).toEqual([
      `${REG}: 1 of 2 webhooks not checked, the run's time is up`,
    ]);
    expect(unfinished.unreachable).toEqual([]);
    expect(await registries.list()).toEqual([{ registryId: REG, verdict }]);
  });

  it("does not ping a webhook described once its time is up: the next run pings it", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(T0);
    const REG = registryId("lastreg");
    const { arm, store, run } = healthRun({ registryIds: [REG] });
    arm.onDescribe = () => vi.setSystemTime(Date.now() + 61_000);
    arm.set(webhook(REG, "delivering"));

    const late = await run(Date.now());
    expect(late.pinged).toBe(0);
    expect(late.errors).toEqual([]);
    expect(await store.list()).toEqual([
      expect.objectContaining({ healthy: true, ping: undefined }),
    ]);

    arm.onDescribe = () => {};
    expect((await run(Date.now())).pinged).toBe(1);
  });

  it("begins no registry once its time is up, and the next run begins with those left", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(T0);
    const [A, B, C] = ["areg", "breg", "creg"].map(registryId);
    const { arm, registries, run } = healthRun({ registryIds: [A, B, C] });
    arm.onDescribe = () => vi.setSystemTime(Date.now() + 35_000);
    for (const id of [A, B, C]) arm.set(webhook(id, "delivering"));
    const judged = async () => (await registries.list()).map((health) => health.registryId);

    const first = await run(Date.now());
    expect(first.errors).toEqual([`${C}: not checked, the run's time is up`]);
    expect(await judged()).toEqual([A, B]);

    vi.setSystemTime(T0 + 15 * MINUTE);
    const second = await run(Date.now());
    expect(second.errors).toEqual([`${B}: not checked, the run's time is up`]);
    expect((await judged()).sort()).toEqual([A, B, C]);
  });
});
