import { describe, expect, it } from "vitest";
import { evaluateTargets, TARGET_HISTORY } from "../../bench/perf/figures";
import type { ReconcileFigures } from "../../bench/perf/reconcileCost";

function reconcileFigures(history: number, withoutMs: number, withMs: number): ReconcileFigures {
  const scenario = (items: number, medianMs: number) => ({
    history: items,
    seedS: 0,
    runsMs: [medianMs],
    medianMs,
  });
  return {
    openWindows: 100,
    withoutHistory: scenario(0, withoutMs),
    withHistory: scenario(history, withMs),
  };
}

function reconcileTarget(reconcile: ReconcileFigures) {
  return evaluateTargets({ reconcile }).find((result) => result.issueTarget === 5);
}

describe("the benchmark's verdict on the reconcile target (issue 8: 100,000 closed items)", () => {
  it.each([
    { history: TARGET_HISTORY, withMs: 1_500, verdict: "PASS", measured: "1.50x" },
    { history: TARGET_HISTORY, withMs: 3_000, verdict: "FAIL", measured: "3.00x" },
    { history: 20_000, withMs: 3_000, verdict: "FAIL", measured: "3.00x" },
    { history: 20_000, withMs: 1_500, verdict: "n/a", measured: "1.50x (< 100,000 items)" },
  ])("$history closed items at $measured: $verdict", ({ history, withMs, verdict, measured }) => {
    const result = reconcileTarget(reconcileFigures(history, 1_000, withMs));
    expect(result).toMatchObject({ verdict, measured, threshold: "<= 2.00x" });
    expect(result?.name).toBe(
      `reconcile of open windows, with ${history.toLocaleString("en-US")} closed items / without`,
    );
  });

  it("not measured without the reconcile phase", () => {
    const result = evaluateTargets({}).find((target) => target.issueTarget === 5);
    expect(result).toMatchObject({ verdict: "n/a", measured: "not measured" });
  });
});

describe("the benchmark's targets under load name the concurrency they were measured at", () => {
  const alone = {
    deliveries: 20,
    tablePerDelivery: 2,
    tableMost: 3,
    sendsPerDelivery: 1,
    byTable: {},
    byAction: {},
  };
  const roundTrips = (concurrency: number) => {
    const concurrent = {
      deliveries: 100,
      tablePerDelivery: 0.5,
      sendsPerDelivery: 0.6,
      byTable: {},
    };
    const figures = { lowLoad: alone, concurrent };
    return { concurrency, bridge: figures, naive: figures };
  };

  it.each([50, 16])("at %i concurrent", (concurrency) => {
    const names = evaluateTargets({ roundTrips: roundTrips(concurrency) })
      .filter((result) => result.issueTarget === 2 && result.verdict !== "n/a")
      .map((result) => result.name);
    expect(names).toEqual([
      "Table round trips per delivery, low load",
      `Table round trips per delivery, ${concurrency} concurrent`,
      "Service Bus sends per delivery, low load",
      `Service Bus sends per delivery, ${concurrency} concurrent`,
    ]);
  });
});
