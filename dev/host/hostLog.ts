import type { LogLevel } from "./functionsCoreTypes";

/** Where the host, the library and the functions' `context.log` calls write. */
export type HostLog = (level: LogLevel, source: string, message: string) => void;

// host.json's default minimum level is Information.
const BELOW_DEFAULT_LEVEL: ReadonlySet<LogLevel> = new Set(["trace", "debug", "none"]);

export function createHostLog(write: (line: string) => void): HostLog {
  return (level, source, message) => {
    if (BELOW_DEFAULT_LEVEL.has(level)) return;
    write(`[${new Date().toISOString()}] [${level}] ${source}: ${message}`);
  };
}
