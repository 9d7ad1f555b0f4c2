import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_REQUEST_CHARS } from "../../src/adapters/deliveryEntity";
import { importFromLog } from "../../src/backfill/loggedDeliveryImport";
import {
  type BackfillCursor,
  type BackfillDependencies,
  type DeliveryLedger,
  runBackfill,
} from "../../src/backfill/runBackfill";
import { loadRoutingTable } from "../../src/config";
import { DependencyUnavailableError } from "../../src/core/ports";
import type {
  ArmResult,
  LoggedDelivery,
  LogPage,
  RegistryWebhooks,
  WebhookRef,
} from "../../src/core/registryWebhooks";

const REGISTRY =
  "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/unitreg";

function entry(n: number): LoggedDelivery {
  return {
    logId: `log-${n}`,
    content: {
      id: `event-${n}`,
      timestamp: "2026-05-01T09:00:00Z",
      action: "push",
      target: { repository: "app", tag: `v${n}`, digest: `sha256:${n}` },
    },
    requestUri:
      "https://bridge.example/api/acr/webhook?region=westeurope&registry=unitreg.azurecr.io",
    requestHeaders: {},
    responseStatus: 500,
  };
}

/** A webhook log of `count` entries, newest first, `pageSize` a page; `nextLink` is the offset. */
function fakeWebhooks(log: LoggedDelivery[], pageSize: number): RegistryWebhooks {
  return {
    list: async () => ({ ok: true, value: [{ registryId: REGISTRY, name: "hook" }] }),
    configuration: async () => ({
      ok: false,
      failure: { kind: "failed", operation: "get", message: "unused" },
    }),
    ping: async () => ({
      ok: false,
      failure: { kind: "failed", operation: "ping", message: "unused" },
    }),
    async *logPages(_ref: WebhookRef, nextLink?: string): AsyncIterable<ArmResult<LogPage>> {
      for (let offset = Number(nextLink ?? 0); offset < log.length; offset += pageSize) {
        const next = offset + pageSize < log.length ? String(offset + pageSize) : undefined;
        yield {
          ok: true,
          value: { entries: log.slice(offset, offset + pageSize), nextLink: next },
        };
      }
    },
  };
}

function deps(log: LoggedDelivery[], overrides: Partial<BackfillDependencies> = {}) {
  const recorded = new Set<string>();
  const cursors = new Map<string, BackfillCursor>();
  const dependencies: BackfillDependencies = {
    registryIds: [REGISTRY],
    webhooks: fakeWebhooks(log, 2),
    ledger: {
      isRecorded: async (event) => recorded.has(event.eventId),
      importDelivery: async (delivery) => {
        const duplicate = recorded.has(delivery.event.eventId);
        recorded.add(delivery.event.eventId);
        return { ok: true, value: { duplicate } };
      },
    },
    cursors: {
      read: async (ref) => cursors.get(ref.name),
      write: async (ref, cursor) => {
        cursors.set(ref.name, cursor);
      },
    },
    importFromLog: (logged, registryId, now) =>
      importFromLog(logged, {
        registryId,
        routing: loadRoutingTable({}),
        authHeader: "authorization",
        secrets: [],
        maxBodyBytes: 64 * 1024,
        maxRequestChars: MAX_REQUEST_CHARS,
        now,
      }),
    limits: { maxPages: 2, maxMs: 60_000 },
    ...overrides,
  };
  return { dependencies, recorded, cursors };
}

describe("runBackfill", () => {
  it("a log full of unusable entries lists the first 100 and counts them all, each reason cut as the id is", async () => {
    const name = "f".repeat(5000);
    let nested: unknown = "deep";
    for (let level = 0; level < 100; level++) nested = { inner: nested };
    const unusable = Array.from({ length: 150 }, (_, n): LoggedDelivery => {
      const logged = entry(n);
      return { ...logged, content: { ...(logged.content as object), [name]: nested } };
    });
    const { dependencies } = deps(unusable, { limits: { maxPages: 100, maxMs: 60_000 } });
    const report = await runBackfill(dependencies);
    expect(report).toMatchObject({ imported: 0, unusableCount: 150 });
    expect(report.unusable).toHaveLength(100);
    for (const { why } of report.unusable) {
      expect(why).toContain("…[cut from");
      expect(why.length).toBeLessThan(1100);
    }
  });
  it("a run cut short by the page limit leaves its last page and entry; the next goes on after it, then reads only what is new", async () => {
    const log = [5, 4, 3, 2, 1].map(entry);
    const { dependencies, cursors } = deps(log);
    const first = await runBackfill(dependencies);
    expect(first).toMatchObject({ seen: 4, imported: 4, errors: [] });
    expect(first.webhooks[0]).toMatchObject({ pages: 2, complete: false });
    expect(cursors.get("hook")).toEqual({
      newestLogId: undefined,
      resume: { nextLink: "2", afterLogId: "log-2", newestLogId: "log-5" },
    });

    const second = await runBackfill(dependencies);
    expect(second).toMatchObject({ seen: 1, imported: 1 });
    expect(cursors.get("hook")).toEqual({ newestLogId: "log-5" });

    log.unshift(entry(6));
    const third = await runBackfill(dependencies);
    expect(third).toMatchObject({ seen: 1, imported: 1, alreadyRecorded: 0 });
    expect(third.webhooks[0]).toMatchObject({ pages: 1, complete: true });
  });

  it("an entry without a log id at the head does not hold the read back: the runs go on past the page limit", async () => {
    const log = [{ ...entry(6), logId: "" }, ...[5, 4, 3, 2, 1].map(entry)];
    const { dependencies, recorded } = deps(log);
    const first = await runBackfill(dependencies);
    expect(first).toMatchObject({ seen: 4, imported: 4 });
    expect(first.webhooks[0]).toMatchObject({ pages: 2, complete: false });
    const second = await runBackfill(dependencies);
    expect(second).toMatchObject({ imported: 2 });
    expect(second.webhooks[0]).toMatchObject({ complete: true });
    expect([...recorded].sort()).toEqual([1, 2, 3, 4, 5, 6].map((n) => `event-${n}`));
    // Only the entry that cannot be a position is read again.
    expect(await runBackfill(dependencies)).toMatchObject({ seen: 1, alreadyRecorded: 1 });
  });

  it("a run cut short at a page end, then entries joining the log's head: the next run counts none twice", async () => {
    const log = [5, 4, 3, 2, 1].map(entry);
    const { dependencies, recorded } = deps(log);
    const first = await runBackfill(dependencies);
    expect(first).toMatchObject({ seen: 4, imported: 4, alreadyRecorded: 0 });

    // log-2, last of the page the first run stopped after, moves onto the page at offset 4.
    log.unshift(entry(6));
    const second = await runBackfill(dependencies);
    expect(second).toMatchObject({ seen: 2, imported: 2, alreadyRecorded: 0, errors: [] });
    expect(second.webhooks[0]).toMatchObject({ complete: true });
    expect([...recorded].sort()).toEqual(log.map((_, i) => `event-${i + 1}`));
  });

  it("the time running out while the next page is fetched, then entries joining the log's head: the next run counts none twice", async () => {
    let clock = 0;
    const log = [5, 4, 3, 2, 1].map(entry);
    const webhooks: RegistryWebhooks = {
      ...fakeWebhooks(log, 2),
      // Each page takes 20 ms: the second one arrives past the 30 ms, before any entry on it.
      async *logPages(ref, nextLink) {
        for await (const page of fakeWebhooks(log, 2).logPages(ref, nextLink)) {
          clock += 20;
          yield page;
        }
      },
    };
    const { dependencies, recorded } = deps(log, {
      webhooks,
      limits: { maxPages: 100, maxMs: 30 },
    });
    const run = () => runBackfill(dependencies, { now: () => clock });
    const first = await run();
    expect(first).toMatchObject({ seen: 2, imported: 2, alreadyRecorded: 0 });

    // log-4, last of the page the first run handled, moves onto the page it stopped on.
    log.unshift(entry(6));
    dependencies.limits = { maxPages: 100, maxMs: 1000 };
    const second = await run();
    expect(second).toMatchObject({ seen: 4, imported: 4, alreadyRecorded: 0, errors: [] });
    expect([...recorded].sort()).toEqual(log.map((_, i) => `event-${i + 1}`));
  });

  it("a page limit of one still moves on when the resumed page holds only entries handled before", async () => {
    const log = [5, 4, 3, 2, 1].map(entry);
    const { dependencies, recorded } = deps(log, { limits: { maxPages: 1, maxMs: 60_000 } });
    const reports = [];
    for (let run = 0; run < 4; run++) reports.push(await runBackfill(dependencies));
    expect(reports.map((report) => report.seen)).toEqual([2, 2, 1, 0]);
    expect(reports.map((report) => report.webhooks[0].complete)).toEqual([
      false,
      false,
      true,
      true,
    ]);
    expect(recorded.size).toBe(5);
  });

  it("stops at the time limit too", async () => {
    let clock = 0;
    const { dependencies } = deps([3, 2, 1].map(entry), { limits: { maxPages: 100, maxMs: 10 } });
    const report = await runBackfill(dependencies, { now: () => (clock += 20) });
    expect(report.webhooks[0]).toMatchObject({ pages: 1, complete: false });
  });

  it("the time limit is the run's: a webhook after it is spent still handles its first entry", async () => {
    let clock = 0;
    const hooks = ["first", "second"].map((name) => ({ registryId: REGISTRY, name }));
    const logs: Record<string, LoggedDelivery[]> = {
      first: [6, 5, 4, 3, 2, 1].map(entry),
      second: [3, 2, 1].map((n) => entry(n + 10)),
    };
    const webhooks: RegistryWebhooks = {
      ...fakeWebhooks([], 2),
      list: async () => ({ ok: true, value: hooks }),
      // Each page takes 20 ms of the run.
      async *logPages(ref, nextLink) {
        for await (const page of fakeWebhooks(logs[ref.name], 2).logPages(ref, nextLink)) {
          clock += 20;
          yield page;
        }
      },
    };
    const { dependencies } = deps([], { webhooks, limits: { maxPages: 100, maxMs: 30 } });
    const report = await runBackfill(dependencies, { now: () => clock });
    expect(report.webhooks).toEqual([
      { registryId: REGISTRY, webhook: "first", pages: 2, complete: false },
      { registryId: REGISTRY, webhook: "second", pages: 1, complete: false },
    ]);
    expect(report).toMatchObject({ seen: 3, imported: 3 });
  });

  it("the time limit stops a run mid-page; the next runs go on at the first entry not handled, none skipped or counted twice", async () => {
    let clock = 0;
    const log = [8, 7, 6, 5, 4, 3, 2, 1].map(entry);
    // Three entries fit in a run: each costs 10 ms, checked against 25 ms before the next.
    const { dependencies, recorded, cursors } = deps(log, {
      webhooks: fakeWebhooks(log, 4),
      limits: { maxPages: 100, maxMs: 25 },
    });
    const isRecorded = dependencies.ledger.isRecorded;
    dependencies.ledger.isRecorded = (event) => {
      clock += 10;
      return isRecorded(event);
    };
    const run = () => runBackfill(dependencies, { now: () => clock });

    const first = await run();
    expect(first).toMatchObject({ seen: 3, imported: 3, alreadyRecorded: 0 });
    expect(first.webhooks[0]).toMatchObject({ pages: 1, complete: false });
    expect(cursors.get("hook")).toEqual({ resume: { afterLogId: "log-6", newestLogId: "log-8" } });

    const second = await run();
    expect(second).toMatchObject({ seen: 3, imported: 3, alreadyRecorded: 0 });
    expect(second.webhooks[0]).toMatchObject({ pages: 2, complete: false });
    expect(cursors.get("hook")).toEqual({
      resume: { nextLink: "4", afterLogId: "log-3", newestLogId: "log-8" },
    });

    const third = await run();
    expect(third).toMatchObject({ seen: 2, imported: 2, alreadyRecorded: 0 });
    // The resumed page, then the log's first page down to the boundary.
    expect(third.webhooks[0]).toMatchObject({ pages: 2, complete: true });
    expect(cursors.get("hook")).toEqual({ newestLogId: "log-8" });
    expect([...recorded].sort()).toEqual(log.map((_, i) => `event-${i + 1}`));
  });

  it.each([
    [
      "reading whether it was recorded",
      (ledger: DeliveryLedger) => {
        ledger.isRecorded = async () => {
          throw new DependencyUnavailableError("table-storage", "down");
        };
      },
    ],
    [
      "importing it",
      (ledger: DeliveryLedger) => {
        ledger.importDelivery = async () => ({
          ok: false,
          failure: { dependency: "table-storage", reason: "down" },
        });
      },
    ],
  ])(
    "a storage failure %s stops that webhook, reported, and leaves its cursor",
    async (_, fail) => {
      const { dependencies, cursors } = deps([2, 1].map(entry));
      fail(dependencies.ledger);
      const report = await runBackfill(dependencies);
      expect(report.errors).toEqual([`${REGISTRY}/webhooks/hook: table-storage unavailable: down`]);
      expect(report.imported).toBe(0);
      expect(report.webhooks[0]).toMatchObject({ pages: 1, complete: false });
      expect(cursors.size).toBe(0);
    },
  );
  it("whatever the limits, the timing and the entries joining the log between runs: every entry imported, none counted twice", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          pageSize: fc.integer({ min: 1, max: 4 }),
          maxPages: fc.integer({ min: 1, max: 3 }),
          // What each run costs: per page fetched and per entry, against a budget of 30 ms.
          pageMs: fc.integer({ min: 0, max: 20 }),
          entryMs: fc.integer({ min: 0, max: 20 }),
          initial: fc.integer({ min: 0, max: 12 }),
          arrivals: fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 12 }),
        }),
        async ({ pageSize, maxPages, pageMs, entryMs, initial, arrivals }) => {
          let clock = 0;
          let count = 0;
          const log: LoggedDelivery[] = [];
          const add = (n: number) => {
            for (let i = 0; i < n; i++) log.unshift(entry(++count));
          };
          const webhooks: RegistryWebhooks = {
            ...fakeWebhooks(log, pageSize),
            async *logPages(ref, nextLink) {
              for await (const page of fakeWebhooks(log, pageSize).logPages(ref, nextLink)) {
                clock += pageMs;
                yield page;
              }
            },
          };
          const { dependencies, recorded } = deps(log, {
            webhooks,
            limits: { maxPages, maxMs: 30 },
          });
          const isRecorded = dependencies.ledger.isRecorded;
          dependencies.ledger.isRecorded = (event) => {
            clock += entryMs;
            return isRecorded(event);
          };
          let seen = 0;
          const run = async () => {
            const report = await runBackfill(dependencies, { now: () => clock });
            expect(report).toMatchObject({ alreadyRecorded: 0, errors: [] });
            seen += report.seen;
            return report.webhooks[0]?.complete;
          };
          add(initial);
          for (const n of arrivals) {
            await run();
            add(n);
          }
          // Enough runs to catch up: each handles at least one entry.
          for (let i = 0; i <= count && !(await run()); i++);
          expect(recorded.size).toBe(count);
          expect(seen).toBe(count);
        },
      ),
      { numRuns: 300 },
    );
  });
});
