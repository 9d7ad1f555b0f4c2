import { parseArgs } from "node:util";
import { TARGET_HISTORY } from "./figures";

export const PHASES = [
  "ceiling",
  "throughput",
  "roundtrips",
  "latency",
  "coldstart",
  "reconcile",
  "rss",
] as const;
export type Phase = (typeof PHASES)[number];

export interface BenchOptions {
  phases: ReadonlySet<Phase>;
  short: boolean;
  /** Seconds of each throughput measurement (a closed loop at `concurrency`). */
  durationS: number;
  /** Seconds of the RSS run at half the peak rate. */
  rssDurationS: number;
  /** Closed items seeded for the reconcile measurement. */
  history: number;
  /** Fresh host spawns per app for the cold start. */
  spawns: number;
  concurrency: number;
}

export const USAGE = `Usage: npm run bench -- [--only ${PHASES.join(",")}] [--short]
                       [--duration 20] [--rss-duration 300] [--history 100000] [--spawns 5]
                       [--concurrency 50]
  --only          comma-separated phases to run (default: all of them)
                    ceiling     Azurite's single-insert and 100-entity-transaction ceilings
                    throughput  deliveries/s at --concurrency, bridge and naive; p99 at peak;
                                Service Bus sends under load; the bridge's deliveries checked
                    roundtrips  Table round trips and Service Bus sends per delivery, alone and at
                                --concurrency
                    latency     p99 at half the bridge's peak rate
                    coldstart   spawn of a fresh host to the first 200, bridge and naive
                    reconcile   one reconcile of 100 open windows, with and without history
                    rss         host RSS over a run at half the peak rate, after a warm-up
  --short         a smoke run: seconds instead of minutes (figures are rough)
  --duration      seconds of each throughput measurement (default 20, short 4)
  --rss-duration  seconds of the RSS run (default 300, short 30), after a warm-up at its rate
                  of a minute (a fifth of the run when that is shorter)
  --history       closed items in the reconcile's history (default 100000, issue 8's figure,
                  about 4 minutes to seed; short 5000): below 100000, only a FAIL of the target
                  is conclusive
  --spawns        host spawns per app for the cold start (default 5, short 2)
  --concurrency   webhooks in flight for the peak measurements (default 50, issue 8's figure;
                  Flex Consumption runs 16 per instance)
Prints a table and writes bench/results/<time>.json. Exits 1 when a delivery is lost or doubled
or the bench fails; targets that FAIL do not change the exit code.`;

export function parseBenchOptions(args: string[]): BenchOptions | "help" {
  const { values } = parseArgs({
    args,
    options: {
      only: { type: "string" },
      short: { type: "boolean", default: false },
      duration: { type: "string" },
      "rss-duration": { type: "string" },
      history: { type: "string" },
      spawns: { type: "string" },
      concurrency: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return "help";
  const short = values.short ?? false;
  const positive = (name: string, text: string | undefined, full: number, smoke: number) => {
    if (text === undefined) return short ? smoke : full;
    const value = Number(text);
    if (!Number.isInteger(value) || value <= 0) {
      throw new UsageError(`--${name} must be a positive whole number, not '${text}'`);
    }
    return value;
  };
  const phases = new Set<Phase>();
  for (const name of (values.only ?? PHASES.join(",")).split(",").map((p) => p.trim())) {
    if (!name) continue;
    if (!PHASES.includes(name as Phase)) throw new UsageError(`unknown phase '${name}'`);
    phases.add(name as Phase);
  }
  if (phases.size === 0) throw new UsageError("--only names no phase");
  return {
    phases,
    short,
    durationS: positive("duration", values.duration, 20, 4),
    rssDurationS: positive("rss-duration", values["rss-duration"], 300, 30),
    history: positive("history", values.history, TARGET_HISTORY, 5_000),
    spawns: positive("spawns", values.spawns, 5, 2),
    concurrency: positive("concurrency", values.concurrency, 50, 50),
  };
}

export class UsageError extends Error {
  override readonly name = "UsageError";
}
