import { describe, expect, it } from "vitest";
import type { DeliveryRow } from "../../src/adapters/tableOperatorReads";
import { consoleSeries } from "../../src/console/consoleSeries";

const NOW = Date.parse("2026-05-01T12:00:00Z");
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function row(receivedAt: number, occurredAt = receivedAt, action = "push"): DeliveryRow {
  return {
    registry: "r.azurecr.io",
    action,
    origin: "webhook",
    occurredAt,
    receivedAt,
    publishState: "published",
  };
}

describe("console series", () => {
  it("a day is 48 half hours (the bucket the window starts in, to the one it ends in)", () => {
    const series = consoleSeries({ from: NOW - DAY, to: NOW }, [], []);
    expect(series.bucketMs).toBe(HOUR / 2);
    expect(series.times).toHaveLength(49);
    expect(series.times[0]).toBe((NOW - DAY) / 1000);
  });

  it("counts a delivery when it arrived, as the window read it, whatever ACR stamped on it", () => {
    const stampedLongAgo = row(NOW - HOUR / 4, Date.parse("2020-01-01T00:00:00Z"));
    const stampedAhead = row(NOW - DAY + HOUR / 4, NOW);
    const series = consoleSeries({ from: NOW - DAY, to: NOW }, [stampedLongAgo, stampedAhead], []);
    const counts = series.deliveries.push;
    expect(counts.at(-2)).toBe(1);
    expect(counts[0]).toBe(1);
    expect(counts.reduce((sum, count) => sum + count, 0)).toBe(2);
  });

  it("counts an action named like a prototype key as data, polluting no prototype", () => {
    const actions = ["__proto__", "constructor", "toString", "hasOwnProperty"];
    const rows = actions.map((action) => row(NOW - HOUR / 4, NOW - HOUR / 4, action));
    const series = consoleSeries({ from: NOW - DAY, to: NOW }, rows, []);
    expect(Object.keys(series.deliveries).sort()).toEqual([...actions].sort());
    for (const action of actions) {
      expect(Object.getOwnPropertyDescriptor(series.deliveries, action)?.value.at(-2)).toBe(1);
    }
    expect(Object.getPrototypeOf(series.deliveries)).toBe(Object.prototype);
    expect(Object.keys(Object.prototype)).toEqual([]);
    expect(JSON.parse(JSON.stringify(series.deliveries))).toHaveProperty(["__proto__"]);
  });
});
