import { RestError, type TableClient } from "@azure/data-tables";
import { describeError } from "../core/describeError";
import { DependencyUnavailableError } from "../core/ports";
import { isContentRefused } from "./tableErrors";

/**
 * What every Table Storage adapter shares: its tables are created when a call finds one missing
 * (infra creates them, so a deployed app never spends a call on it; a local emulator gets them on
 * first use, or again after a restart), each call is bounded so a hung account cannot hold a
 * delivery past ACR's 5 s, and every failure reaches the domain as a typed
 * `DependencyUnavailableError`.
 */
export class TableAccess {
  /** The tables being created, which calls wait for; none once they are. */
  private creating?: Promise<void>;

  constructor(
    private readonly tables: readonly TableClient[],
    private readonly timeoutMs: number,
    /**
     * Called once tables found missing were created, before the calls waiting for them go on:
     * storage that lost its tables (an emulator restarted) lost what was written before too.
     */
    private readonly onTablesCreated: () => void = () => undefined,
  ) {}

  /** Bounds a call to the timeout, or to what is left until `deadline` (see `deadline`). */
  signal(deadline?: number): { abortSignal: AbortSignal } {
    const ms = deadline === undefined ? this.timeoutMs : Math.max(0, deadline - Date.now());
    return { abortSignal: AbortSignal.timeout(ms) };
  }

  /** When a call asked for now must have ended, whatever it waits behind. */
  deadline(): number {
    return Date.now() + this.timeoutMs;
  }

  /**
   * Runs one or more Table calls; every failure reaches the caller as a typed dependency error,
   * except those `passThrough` keeps as they are for the caller to interpret.
   */
  async call<T>(
    operation: () => Promise<T>,
    passThrough: (error: unknown) => boolean = () => false,
  ): Promise<T> {
    try {
      await this.creating;
      try {
        return await operation();
      } catch (error) {
        if (!isTableNotFound(error)) throw error;
        await this.createTables();
        return await operation();
      }
    } catch (error) {
      if (passThrough(error)) throw error;
      throw this.unavailable(error);
    }
  }

  unavailable(error: unknown): DependencyUnavailableError {
    return error instanceof DependencyUnavailableError
      ? error
      : new DependencyUnavailableError(
          "table-storage",
          describeError(error),
          isContentRefused(error),
        );
  }

  /** Creates every table of the adapter (an existing one is left as it is), once at a time. */
  private createTables(): Promise<void> {
    this.creating ??= Promise.all(
      this.tables.map((table) => table.createTable(this.signal())),
    ).then(
      () => {
        this.creating = undefined;
        this.onTablesCreated();
      },
      (error: unknown) => {
        this.creating = undefined;
        throw error;
      },
    );
    return this.creating;
  }
}

function isTableNotFound(error: unknown): boolean {
  return (
    error instanceof RestError && error.statusCode === 404 && errorCode(error) === "TableNotFound"
  );
}

function errorCode(error: RestError): string | undefined {
  const details = error.details as { errorCode?: string } | undefined;
  return details?.errorCode ?? error.code;
}
