import { CronExpressionParser } from "cron-parser";
import type { RegisteredFunction } from "./functionsCoreStandIn";
import type { RpcTypedData } from "./functionsCoreTypes";
import type { Invoke } from "./invoke";
import { resolveSettingExpressions } from "./settingExpressions";

// setTimeout's longest delay (about 24.8 days); longer waits are taken in several steps.
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

interface TimerEntry {
  readonly fn: RegisteredFunction;
  /** The schedule with its `%SETTING%` expressions resolved. */
  readonly expression: string;
  last?: Date;
  timeout?: NodeJS.Timeout;
}

/**
 * The timer-trigger functions and their NCRONTAB schedules (6 fields with seconds, or 5), read in
 * the process's local time zone like the host does (set TZ to change it). `%NAME%` expressions are
 * resolved from the app settings when the host starts, and a schedule that does not resolve or
 * parse stops the start. `useMonitor` is ignored: nothing is persisted between runs.
 */
export class Timers {
  readonly #entries = new Map<RegisteredFunction, TimerEntry>();
  #invoke: Invoke | undefined;

  constructor(functions: readonly RegisteredFunction[], env: NodeJS.ProcessEnv) {
    for (const fn of functions) {
      if (fn.triggerType.toLowerCase() !== "timertrigger") continue;
      this.#entries.set(fn, { fn, expression: resolveSchedule(fn, env) });
    }
  }

  /**
   * The timer argument as the host sends it; the library camel-cases it into the handler's
   * `{ isPastDue, schedule: { adjustForDST }, scheduleStatus: { last, next, lastUpdated } }`.
   */
  timerData(fn: RegisteredFunction, now = new Date()): RpcTypedData {
    const entry = this.#entry(fn);
    return {
      json: JSON.stringify({
        Schedule: { AdjustForDST: true },
        ScheduleStatus: {
          Last: (entry.last ?? occurrence(entry.expression, now, "prev")).toISOString(),
          Next: occurrence(entry.expression, now, "next").toISOString(),
          LastUpdated: now.toISOString(),
        },
        IsPastDue: false,
      }),
    };
  }

  /**
   * Runs every timer function but the `disabled` ones on its schedule, first at once if it asks
   * for `runOnStartup`.
   */
  start(invoke: Invoke, disabled: ReadonlySet<RegisteredFunction>): void {
    this.#invoke = invoke;
    for (const entry of this.#entries.values()) {
      if (disabled.has(entry.fn)) continue;
      if (entry.fn.runOnStartup) void this.#fire(entry, new Date());
      else this.#arm(entry, new Date());
    }
  }

  stop(): void {
    this.#invoke = undefined;
    for (const entry of this.#entries.values()) clearTimeout(entry.timeout);
  }

  #entry(fn: RegisteredFunction): TimerEntry {
    const entry = this.#entries.get(fn);
    if (!entry) throw new Error(`"${fn.name}" is not a timer function.`);
    return entry;
  }

  #arm(entry: TimerEntry, after: Date): void {
    const due = occurrence(entry.expression, after, "next");
    const wait = () => {
      const delay = due.getTime() - Date.now();
      entry.timeout = setTimeout(
        () => (delay > MAX_TIMEOUT_MS ? wait() : void this.#fire(entry, due)),
        Math.min(Math.max(delay, 0), MAX_TIMEOUT_MS),
      );
    };
    wait();
  }

  // The next occurrence is armed only once this run is over: a timer function never overlaps itself.
  async #fire(entry: TimerEntry, due: Date): Promise<void> {
    const invoke = this.#invoke;
    if (!invoke) return;
    try {
      await invoke(entry.fn, {
        data: this.timerData(entry.fn),
        reason: `Timer fired at ${new Date().toISOString()}`,
      });
    } catch {
      // Already logged by the invoker; the schedule goes on, as in the host.
    }
    entry.last = due;
    if (this.#invoke) this.#arm(entry, new Date(Math.max(Date.now(), due.getTime())));
  }
}

function resolveSchedule(fn: RegisteredFunction, env: NodeJS.ProcessEnv): string {
  const expression = resolveSettingExpressions(
    fn.schedule ?? "",
    env,
    `Function "${fn.name}": its schedule`,
  );
  try {
    occurrence(expression, new Date(), "next");
  } catch (error) {
    throw new Error(
      `Function "${fn.name}": the schedule "${expression}" is not a valid NCRONTAB expression: ${(error as Error).message}`,
    );
  }
  return expression;
}

function occurrence(expression: string, from: Date, direction: "next" | "prev"): Date {
  const parsed = CronExpressionParser.parse(expression, { currentDate: from });
  return (direction === "next" ? parsed.next() : parsed.prev()).toDate();
}
