import { readdirSync } from "node:fs";
import { cpus } from "node:os";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { TableClient } from "@azure/data-tables";
import { type LocalAzurite, startAzurite } from "../dev/azurite";
import { freePort } from "../dev/freePort";
import { onParentExit } from "../dev/onParentExit";
import { SAMPLE_ACTIONS, type SampleAction } from "../dev/samplePayloads";
import { type LocalServiceBus, startLocalServiceBus } from "../dev/servicebus/broker";
import { defaultTopology } from "../dev/servicebus/topology";
import { EventTables } from "../src/adapters/eventTables";
import {
  DISCREPANCIES_TABLE,
  PENDING_ROWS,
  RECORD_ROWS,
  rowsOfKind,
} from "../src/adapters/tableLayout";
import { APP_ROOT, type HostProcess, startHost } from "./support/hostProcess";
import { azuritePid, cpuSecondsOf, memoryOf } from "./support/processStats";
import { BENCH_SECRET, benchPayload, percentile, postWebhook, sleep } from "./support/webhookLoad";

/**
 * Soak benchmark of the webhook path on the local stack: Azurite (in memory), the local Service Bus
 * (in this process) and the functions host (a child process running the compiled app from dist/),
 * all on free loopback ports. Drives webhooks at a fixed rate with bounded concurrency for a fixed
 * time, then checks that every record in AcrDeliveries has its message and reports latency,
 * throughput and memory. Never part of `npm test`.
 */
const USAGE = `Usage: npm run bench:soak -- [--duration 120] [--rate 50] [--concurrency 16]
                           [--actions ${SAMPLE_ACTIONS.filter((a) => a !== "ping").join(",")}]
  --duration     seconds of load (default 120)
  --rate         deliveries per second, open loop (default 50)
  --concurrency  most deliveries in flight at once (default 16)
  --actions      comma-separated, sent in turn: ${SAMPLE_ACTIONS.join(", ")}
Exits 1 when the records and the messages on the topics disagree, 130 when interrupted.`;

/** Every 10 s, so the re-drive of pending records runs during the soak. */
const RECONCILE_SCHEDULE = "*/10 * * * * *";
const PROGRESS_EVERY_MS = 10_000;
const DISCREPANCY_TOPIC = "acr-discrepancies";
/** How long the bench waits for the re-drive of records left pending by the load. */
const REDRIVE_WAIT_MS = 90_000;

interface Options {
  durationS: number;
  rate: number;
  concurrency: number;
  actions: SampleAction[];
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      duration: { type: "string", default: "120" },
      rate: { type: "string", default: "50" },
      concurrency: { type: "string", default: "16" },
      actions: { type: "string", default: "push,delete,chart_push,chart_delete,quarantine" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const positive = (name: string, text: string) => {
    const value = Number(text);
    if (!Number.isFinite(value) || value <= 0) usageError(`--${name} must be a positive number`);
    return value;
  };
  const actions = values.actions
    .split(",")
    .map((action) => action.trim())
    .filter(Boolean);
  for (const action of actions) {
    if (!SAMPLE_ACTIONS.includes(action as SampleAction)) {
      usageError(`unknown action '${action}'`);
    }
  }
  if (actions.length === 0) usageError("--actions names no action");
  return {
    durationS: positive("duration", values.duration),
    rate: positive("rate", values.rate),
    concurrency: Math.floor(positive("concurrency", values.concurrency)),
    actions: actions as SampleAction[],
  };
}

function usageError(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------
// Load.

interface LoadResult {
  sent: number;
  ok: number;
  byStatus: Map<string, number>;
  latenciesMs: number[];
  latenciesByAction: Map<string, number[]>;
  elapsedS: number;
  /** Deliveries the schedule held for the duration: rate × duration. */
  scheduled: number;
  /** How far behind its schedule the latest request started: > 0 when the rate was not held. */
  maxStartLagMs: number;
  /** Requests started more than LATE_MS behind their schedule (all workers were busy). */
  late: number;
}

const LATE_MS = 100;

async function drive(
  url: string,
  options: Options,
  interrupted: () => boolean,
  progress: (result: LoadResult, inFlight: number) => void,
): Promise<LoadResult> {
  const total = Math.round(options.durationS * options.rate);
  const result: LoadResult = {
    sent: 0,
    ok: 0,
    byStatus: new Map(),
    latenciesMs: [],
    latenciesByAction: new Map(),
    elapsedS: 0,
    scheduled: total,
    maxStartLagMs: 0,
    late: 0,
  };
  let next = 0;
  let inFlight = 0;
  const started = performance.now();
  // Nothing starts after the duration, even when the schedule was not held.
  const endsAt = started + options.durationS * 1000;
  const ticker = setInterval(() => {
    result.elapsedS = (performance.now() - started) / 1000;
    progress(result, inFlight);
  }, PROGRESS_EVERY_MS);

  // Open loop: request i is due at i / rate; `concurrency` workers take them in order.
  const worker = async () => {
    for (;;) {
      const index = next++;
      if (index >= total || interrupted() || performance.now() >= endsAt) return;
      const due = started + (index * 1000) / options.rate;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      else {
        result.maxStartLagMs = Math.max(result.maxStartLagMs, -wait);
        if (-wait > LATE_MS) result.late++;
      }
      if (interrupted()) return;
      const action = options.actions[index % options.actions.length];
      const body = JSON.stringify(benchPayload(index, action));
      inFlight++;
      const sentAt = performance.now();
      const status = await postWebhook(url, body);
      const latency = performance.now() - sentAt;
      result.latenciesMs.push(latency);
      const ofAction = result.latenciesByAction.get(action) ?? [];
      ofAction.push(latency);
      result.latenciesByAction.set(action, ofAction);
      inFlight--;
      result.sent++;
      if (status.startsWith("2")) result.ok++;
      else result.byStatus.set(status, (result.byStatus.get(status) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  clearInterval(ticker);
  result.elapsedS = (performance.now() - started) / 1000;
  return result;
}

// ---------------------------------------------------------------------------------------------
// Verification: records in Table Storage against messages on the broker.

interface TableCounts {
  records: number;
  byState: Map<string, number>;
  /** Records routed to each topic, whatever their publish state. */
  routedByTopic: Map<string, number>;
  pendingMarkers: number;
  discrepancies: number;
}

async function countTables(connection: string): Promise<TableCounts> {
  const client = (name: string) =>
    TableClient.fromConnectionString(connection, name, { allowInsecureConnection: true });
  const counts: TableCounts = {
    records: 0,
    byState: new Map(),
    routedByTopic: new Map(),
    pendingMarkers: 0,
    discrepancies: 0,
  };
  const events = new EventTables(client);
  const rows = events.scan<{ publishState?: string; topic?: string }>(rowsOfKind(RECORD_ROWS), [
    "publishState",
    "topic",
  ]);
  for await (const row of rows) {
    counts.records++;
    const state = row.publishState ?? "?";
    counts.byState.set(state, (counts.byState.get(state) ?? 0) + 1);
    if (row.topic) {
      counts.routedByTopic.set(row.topic, (counts.routedByTopic.get(row.topic) ?? 0) + 1);
    }
  }
  counts.pendingMarkers = await countRows(events.scan(rowsOfKind(PENDING_ROWS), ["RowKey"]));
  counts.discrepancies = await countRows(
    client(DISCREPANCIES_TABLE).listEntities({ queryOptions: { select: ["RowKey"] } }),
  );
  return counts;
}

async function countRows(rows: AsyncIterable<unknown>): Promise<number> {
  let count = 0;
  try {
    for await (const _ of rows) count++;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode !== 404) throw error;
  }
  return count;
}

// ---------------------------------------------------------------------------------------------

const mib = (value: number | undefined) =>
  value === undefined ? "n/a" : `${value.toFixed(0)} MiB`;
const ms = (value: number) => `${value.toFixed(1)} ms`;

async function main(): Promise<void> {
  const options = parseOptions();
  let interruptions = 0;
  let azurite: LocalAzurite | undefined;
  let broker: LocalServiceBus | undefined;
  let host: HostProcess | undefined;
  let azuritePidFound: number | undefined;

  const stopAll = async () => {
    const code = host ? await host.stop() : undefined;
    await broker?.stop();
    await azurite?.stop();
    azuritePidFound = undefined;
    return code;
  };
  const onSignal = (reason: string) => {
    interruptions++;
    if (interruptions === 1) {
      console.error(
        `\n${reason}: stopping the load; the stack stops after the deliveries in flight`,
      );
      return;
    }
    console.error(`${reason} again: killing the stack`);
    host?.child.kill("SIGKILL");
    if (azuritePidFound !== undefined) safeKill(azuritePidFound);
    process.exit(130);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  // As in `npm start`: the parent's exit asks for a stop, and does not force one under way.
  onParentExit(() => {
    if (interruptions === 0) onSignal("the process that started it exited");
  });
  // Last resort (an exception, process.exit): no child outlives the bench.
  process.on("exit", () => {
    if (host && host.child.exitCode === null && host.child.signalCode === null) {
      host.child.kill("SIGKILL");
    }
    if (azuritePidFound !== undefined) safeKill(azuritePidFound);
  });

  try {
    if (!readdirSafe(resolve(APP_ROOT, "dist", "src")))
      throw new Error("dist/ is missing: run `npm run build` first");
    azurite = await startAzurite();
    azuritePidFound = azuritePid();
    const topology = defaultTopology();
    broker = await startLocalServiceBus({ topology });
    const port = await freePort();
    const env = {
      ...process.env,
      PORT: String(port),
      TABLES_CONNECTION: azurite.connectionString,
      SERVICEBUS_CONNECTION: broker.connectionString,
      WEBHOOK_SECRETS: BENCH_SECRET,
      WEBHOOK_AUTH_HEADER: "Authorization",
      RECONCILE_SCHEDULE,
    };
    host = await startHost(APP_ROOT, env, port);
    const hostPid = host.child.pid;
    const url = `http://127.0.0.1:${port}/api/acr/webhook`;

    // One delivery before measuring: the host opens its Table and Service Bus connections.
    const warm = await postWebhook(url, JSON.stringify(benchPayload(-1, options.actions[0])));
    if (!warm.startsWith("2")) throw new Error(`the warm-up delivery got ${warm}`);

    const hostAtStart = memoryOf(hostPid);
    const benchAtStart = process.memoryUsage().rss / 2 ** 20;
    const azuriteAtStart = memoryOf(azuritePidFound);
    const cpuAtStart = {
      host: cpuSecondsOf(hostPid),
      azurite: cpuSecondsOf(azuritePidFound),
      bench: process.cpuUsage(),
    };
    console.log(
      `soak: ${options.rate}/s for ${options.durationS} s, concurrency ${options.concurrency}, ` +
        `actions ${options.actions.join(",")}; host pid ${hostPid} on ${url}, ${cpus().length} CPUs`,
    );

    let reported = 0;
    let cpuBefore = { host: cpuAtStart.host, azurite: cpuAtStart.azurite };
    const load = await drive(
      url,
      options,
      () => interruptions > 0,
      (so, inFlight) => {
        // The last interval's latencies and CPU, to see a trend over the soak.
        const recent = so.latenciesMs.slice(reported).sort((a, b) => a - b);
        reported = so.latenciesMs.length;
        const cpuNow = { host: cpuSecondsOf(hostPid), azurite: cpuSecondsOf(azuritePidFound) };
        const share = (now?: number, before?: number) =>
          now === undefined || before === undefined
            ? "n/a"
            : `${(((now - before) * 1000 * 100) / PROGRESS_EVERY_MS).toFixed(0)}%`;
        console.log(
          `  ${so.elapsedS.toFixed(0).padStart(4)} s  sent ${so.sent}  non-2xx ${so.sent - so.ok}` +
            `  in flight ${inFlight}  p50 ${ms(percentile(recent, 50))}  p99 ${ms(percentile(recent, 99))}` +
            `  host RSS ${mib(memoryOf(hostPid)?.rss)}  CPU host ${share(cpuNow.host, cpuBefore.host)}` +
            ` Azurite ${share(cpuNow.azurite, cpuBefore.azurite)}`,
        );
        cpuBefore = cpuNow;
      },
    );

    const hostAtEnd = memoryOf(hostPid);
    const benchAtEnd = process.memoryUsage().rss / 2 ** 20;
    const azuriteAtEnd = memoryOf(azuritePidFound);
    const benchCpu = process.cpuUsage(cpuAtStart.bench);
    const cpuShare = (end: number | undefined, start: number | undefined) =>
      end === undefined || start === undefined
        ? "n/a"
        : `${(((end - start) / load.elapsedS) * 100).toFixed(0)}%`;
    const cpu = {
      host: cpuShare(cpuSecondsOf(hostPid), cpuAtStart.host),
      azurite: cpuShare(cpuSecondsOf(azuritePidFound), cpuAtStart.azurite),
      bench: `${(((benchCpu.user + benchCpu.system) / 1e6 / load.elapsedS) * 100).toFixed(0)}%`,
    };

    const sorted = [...load.latenciesMs].sort((a, b) => a - b);
    const nonOk = [...load.byStatus.entries()].map(([status, n]) => `${status}: ${n}`).join(", ");
    const lines = [
      "",
      `requests sent     ${load.sent} in ${load.elapsedS.toFixed(1)} s (${(load.sent / load.elapsedS).toFixed(1)}/s; target ${options.rate}/s${interruptions > 0 ? "; INTERRUPTED" : ""})`,
      `non-2xx           ${load.sent - load.ok}${nonOk ? ` (${nonOk})` : ""}`,
      `latency           p50 ${ms(percentile(sorted, 50))}  p90 ${ms(percentile(sorted, 90))}  p99 ${ms(percentile(sorted, 99))}  max ${ms(sorted.at(-1) ?? Number.NaN)}`,
      ...[...load.latenciesByAction.entries()].map(([action, values]) => {
        const ofAction = [...values].sort((a, b) => a - b);
        return `  ${action.padEnd(15)} p50 ${ms(percentile(ofAction, 50))}  p99 ${ms(percentile(ofAction, 99))}`;
      }),
      `schedule          ${load.scheduled - load.sent} of ${load.scheduled} never sent; ${load.late} started > ${LATE_MS} ms late (max ${ms(load.maxStartLagMs)}), the ${options.concurrency} in flight being busy`,
      `host RSS          ${mib(hostAtStart?.rss)} at start, ${mib(hostAtEnd?.rss)} at end (peak ${mib(hostAtEnd?.peak)})`,
      `bench RSS         ${mib(benchAtStart)} at start, ${mib(benchAtEnd)} at end (holds the broker and its messages)`,
      `Azurite RSS       ${mib(azuriteAtStart?.rss)} at start, ${mib(azuriteAtEnd?.rss)} at end (in memory: holds every table)`,
      `CPU (of 1 core)   host ${cpu.host}, Azurite ${cpu.azurite}, bench + broker ${cpu.bench}`,
    ];
    console.log(lines.join("\n"));

    let mismatch = false;
    if (interruptions === 0) {
      // Deliveries the bench gave up on (timeouts) may still be finishing in the host.
      await sleep(load.sent === load.ok ? 500 : 5_000);
      let tables = await countTables(azurite.connectionString);
      const pendingAtEnd = tables.byState.get("pending") ?? 0;
      if (pendingAtEnd > 0) {
        // A publish or its bookkeeping failed under load: the re-drive (the reconcile timer, every
        // 10 s here) retries after REDRIVE_BASE_DELAY_SECONDS; duplicate detection drops a re-send.
        console.log(
          `pending           ${pendingAtEnd} at the end of the load; waiting for the re-drive`,
        );
        const deadline = Date.now() + REDRIVE_WAIT_MS;
        while (
          (tables.byState.get("pending") ?? 0) > 0 &&
          Date.now() < deadline &&
          interruptions === 0
        ) {
          await sleep(5_000);
          tables = await countTables(azurite.connectionString);
        }
      }
      const topics = topology.topics.filter((t) => t.subscriptions.some((s) => s.name === "all"));
      const perTopic = topics.map((t) => ({
        topic: t.name,
        messages: broker?.messageCount(t.name, "all") ?? 0,
        records: tables.routedByTopic.get(t.name) ?? 0,
      }));
      const actionTopics = perTopic.filter((t) => t.topic !== DISCREPANCY_TOPIC);
      const messages = actionTopics.reduce((sum, t) => sum + t.messages, 0);
      const routed = actionTopics.reduce((sum, t) => sum + t.records, 0);
      const states = [...tables.byState.entries()].map(([s, n]) => `${s} ${n}`).join(", ");
      const discrepancyMessages = perTopic.find((t) => t.topic === DISCREPANCY_TOPIC)?.messages;
      console.log(
        [
          `records           ${tables.records} in the event store (${states}); ${load.ok + 1} deliveries answered 2xx, warm-up included`,
          `messages          ${messages} on the topics' 'all' subscriptions, for ${routed} records routed to them`,
          ...actionTopics.map(
            (t) =>
              `  ${t.topic.padEnd(18)} ${String(t.messages).padStart(6)} messages  ${String(t.records).padStart(6)} records${t.messages === t.records ? "" : "  <-- MISMATCH"}`,
          ),
          `left over         pending ${tables.byState.get("pending") ?? 0} (${pendingAtEnd} at the end of the load), dead ${tables.byState.get("dead") ?? 0}, pending markers ${tables.pendingMarkers}`,
          `discrepancies     ${discrepancyMessages ?? "n/a"} on ${DISCREPANCY_TOPIC}, ${tables.discrepancies} in ${DISCREPANCIES_TABLE} (windows close after CROSSCHECK_WINDOW_SECONDS)`,
        ].join("\n"),
      );
      mismatch = actionTopics.some((t) => t.messages !== t.records) || tables.records < load.ok + 1;
      if (mismatch) {
        console.error(
          `\n*** MISMATCH: ${routed} records routed to topics, ${messages} messages on them; ` +
            `${tables.records} records for ${load.ok + 1} deliveries answered 2xx. ` +
            "Every routed record must have exactly one message. ***",
        );
      } else {
        console.log("check             OK: every routed record has its message, and only those");
      }
    }

    const exitCode = await stopAll();
    host = undefined;
    console.log(`stack stopped     host exit code ${exitCode}`);
    process.exitCode = interruptions > 0 ? 130 : mismatch ? 1 : 0;
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    if (host) console.error(host.recentOutput().slice(-3000));
    await stopAll().catch(() => {});
    process.exitCode = 1;
  }
}

function safeKill(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

function readdirSafe(path: string): boolean {
  try {
    return readdirSync(path).length > 0;
  } catch {
    return false;
  }
}

void main();
