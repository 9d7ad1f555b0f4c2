import { RestError, type TableClient } from "@azure/data-tables";
import { describeError } from "../core/ingestDelivery";
import { DependencyUnavailableError } from "../core/ports";

/**
 * What every Table Storage adapter shares: its tables are created once per process (again after
 * a failure), each call is bounded so a hung account cannot hold a delivery past ACR's 5 s, and
 * every failure reaches the domain as a typed `DependencyUnavailableError`.
 */
export class TableAccess {
  private tablesReady?: Promise<void>;

  constructor(
    private readonly tables: readonly TableClient[],
    private readonly timeoutMs: number,
  ) {}

  signal(): { abortSignal: AbortSignal } {
    return { abortSignal: AbortSignal.timeout(this.timeoutMs) };
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
      this.tablesReady ??= this.createTables();
      await this.tablesReady;
      try {
        return await operation();
      } catch (error) {
        // A table dropped since this process created it (an emulator restarted): create it again.
        if (!isTableNotFound(error)) throw error;
        this.tablesReady = this.createTables();
        await this.tablesReady;
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
      : new DependencyUnavailableError("table-storage", describeError(error));
  }

  private async createTables(): Promise<void> {
    try {
      await Promise.all(this.tables.map((table) => table.createTable(this.signal())));
    } catch (error) {
      this.tablesReady = undefined;
      throw error;
    }
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
