import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

/** Colours per action; the legend names each series, so colour is never the only cue. */
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"];

function width(container: HTMLElement): number {
  return Math.max(280, container.clientWidth - 8);
}

/** Deliveries per action over time, one line per action. */
export function deliveriesChart(
  container: HTMLElement,
  times: number[],
  perAction: Record<string, number[]>,
): uPlot {
  // With no delivery in the range, one line of zeros still draws the axes the counts would use.
  const series =
    Object.keys(perAction).length > 0 ? perAction : { "all actions": times.map(() => 0) };
  const actions = Object.keys(series).sort();
  return new uPlot(
    {
      title: "Deliveries per action",
      width: width(container),
      height: 220,
      series: [
        {},
        ...actions.map((action, index) => ({
          label: action,
          stroke: PALETTE[index % PALETTE.length],
          width: 2,
          dash: index % 2 === 1 ? [6, 3] : undefined,
        })),
      ],
      axes: [{}, { label: "deliveries" }],
    },
    [times, ...actions.map((action) => series[action] ?? [])],
    container,
  );
}

/** Share of closed cross-check windows that matched, per bucket. */
export function matchRateChart(
  container: HTMLElement,
  times: number[],
  rate: (number | null)[],
): uPlot {
  return new uPlot(
    {
      title: "Cross-check match rate",
      width: width(container),
      height: 200,
      scales: { y: { range: [0, 100] } },
      series: [
        {},
        {
          label: "matched %",
          stroke: PALETTE[2],
          width: 2,
          points: { show: true },
          value: (_u, value) => (value == null ? "no closed windows" : `${value.toFixed(1)} %`),
        },
      ],
      axes: [{}, { label: "% matched" }],
    },
    [times, rate.map((value) => (value == null ? null : value * 100))],
    container,
  );
}

/** Keeps charts as wide as their container. */
export function fitOnResize(charts: () => { chart: uPlot; container: HTMLElement }[]): void {
  let pending = 0;
  window.addEventListener("resize", () => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(() => {
      for (const { chart, container } of charts()) {
        chart.setSize({ width: width(container), height: chart.height });
      }
    });
  });
}
