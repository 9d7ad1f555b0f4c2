import { describe, expect, it } from "vitest";
import type { CrossCheckRow } from "../../src/adapters/tableQueries";
import { summarizeCrossChecks } from "../../src/query/crossCheckStats";

const row = (action: string, state: string): CrossCheckRow => ({
  firstSeenAt: Date.parse("2026-05-01T12:00:00Z"),
  action,
  state,
  late: false,
});

describe("cross-check statistics", () => {
  it("counts by action, an action named like a prototype key as data", () => {
    const stats = summarizeCrossChecks([
      row("push", "matched"),
      row("__proto__", "webhook-only"),
      row("constructor", "matched"),
      row("constructor", "eventgrid-only"),
    ]);
    const { byAction } = stats.crossChecks;
    expect(Object.keys(byAction).sort()).toEqual(["__proto__", "constructor", "push"]);
    expect(Object.getOwnPropertyDescriptor(byAction, "__proto__")?.value).toMatchObject({
      total: 1,
      "webhook-only": 1,
    });
    expect(byAction.constructor).toMatchObject({ total: 2, matched: 1, "eventgrid-only": 1 });
    expect(stats.crossChecks.total).toBe(4);
    expect(Object.keys(Object.prototype)).toEqual([]);
  });
});
