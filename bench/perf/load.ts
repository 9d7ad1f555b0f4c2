import type { SampleAction } from "../../dev/samplePayloads";
import { benchPayload, postWebhook, sleep } from "../support/webhookLoad";

/** The routed actions, sent in turn. */
export const BENCH_ACTIONS: readonly SampleAction[] = [
  "push",
  "delete",
  "chart_push",
  "chart_delete",
  "quarantine",
];

export interface Delivered {
  id: string;
  action: string;
  latencyMs: number;
}

export interface LoadRun {
  sent: number;
  /** Answered 2xx. */
  ok: number;
  /** Everything else by status code or error name. */
  failures: Record<string, number>;
  /** Acknowledgement latency of each 2xx, ascending. */
  latenciesMs: number[];
  elapsedS: number;
  /** The 2xx deliveries, to check what became of them. */
  delivered: Delivered[];
}

/** Unique across the whole benchmark, so repositories and tags differ between runs. */
let nextIndex = 0;

/** One delivery, its latency measured from `since` (its scheduled time under an open loop). */
async function deliverOne(
  url: string,
  run: LoadRun,
  since?: number,
  actions: readonly SampleAction[] = BENCH_ACTIONS,
): Promise<void> {
  const index = nextIndex++;
  const action = actions[index % actions.length];
  const payload = benchPayload(index, action);
  const body = JSON.stringify(payload);
  const startedAt = since ?? performance.now();
  const status = await postWebhook(url, body);
  run.sent += 1;
  if (status.startsWith("2")) {
    const latencyMs = performance.now() - startedAt;
    run.ok += 1;
    run.latenciesMs.push(latencyMs);
    run.delivered.push({ id: String(payload.id), action, latencyMs });
  } else {
    run.failures[status] = (run.failures[status] ?? 0) + 1;
  }
}

const emptyRun = (): LoadRun => ({
  sent: 0,
  ok: 0,
  failures: {},
  latenciesMs: [],
  elapsedS: 0,
  delivered: [],
});

function finish(run: LoadRun, started: number): LoadRun {
  run.elapsedS = (performance.now() - started) / 1000;
  run.latenciesMs.sort((a, b) => a - b);
  return run;
}

/** `count` deliveries one after the other. */
export async function sequential(url: string, count: number): Promise<LoadRun> {
  const run = emptyRun();
  const started = performance.now();
  for (let i = 0; i < count; i++) await deliverOne(url, run);
  return finish(run, started);
}

/** `count` deliveries of `actions` in turn, at most `concurrency` at once. */
export async function burst(
  url: string,
  count: number,
  concurrency: number,
  actions: readonly SampleAction[] = BENCH_ACTIONS,
): Promise<LoadRun> {
  const run = emptyRun();
  const started = performance.now();
  let left = count;
  const sender = async () => {
    while (left > 0) {
      left -= 1;
      await deliverOne(url, run, undefined, actions);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, sender));
  return finish(run, started);
}

/** Closed loop: `concurrency` senders, each sending its next delivery when the last is answered. */
export async function closedLoop(
  url: string,
  concurrency: number,
  durationMs: number,
): Promise<LoadRun> {
  const run = emptyRun();
  const started = performance.now();
  const endsAt = started + durationMs;
  const sender = async () => {
    while (performance.now() < endsAt) await deliverOne(url, run);
  };
  await Promise.all(Array.from({ length: concurrency }, sender));
  return finish(run, started);
}

export interface OpenLoopRun extends LoadRun {
  /** Deliveries started more than 100 ms after their scheduled time (maxInFlight reached). */
  late: number;
}

/**
 * Open loop: delivery i is due at i / rate whatever the answers, at most `maxInFlight` at once.
 * Latency counts from the scheduled time, so a backlog shows up in it (no coordinated omission).
 * `everySecond` is called about once a second with the run so far, e.g. to sample memory.
 */
export async function openLoop(
  url: string,
  rate: number,
  durationMs: number,
  maxInFlight: number,
  everySecond?: (elapsedS: number, run: Readonly<OpenLoopRun>) => void,
): Promise<OpenLoopRun> {
  const run: OpenLoopRun = { ...emptyRun(), late: 0 };
  const started = performance.now();
  const total = Math.floor((durationMs / 1000) * rate);
  const inFlight = new Set<Promise<void>>();
  let nextSecond = 1;
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
    if (performance.now() - due > 100) run.late += 1;
    const elapsedS = (performance.now() - started) / 1000;
    if (everySecond && elapsedS >= nextSecond) {
      everySecond(elapsedS, run);
      nextSecond = Math.floor(elapsedS) + 1;
    }
    const delivery: Promise<void> = deliverOne(url, run, due).finally(() =>
      inFlight.delete(delivery),
    );
    inFlight.add(delivery);
  }
  await Promise.all(inFlight);
  return { ...finish(run, started), late: run.late };
}
