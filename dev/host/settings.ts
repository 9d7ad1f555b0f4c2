import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../../src/config";

/** Where `npm start` serves the bridge unless `PORT` says otherwise (as `func start`). */
export const DEFAULT_PORT = 7071;

/**
 * The port the local host listens on, and the local tools call: `PORT`, where an empty value
 * (`export PORT=`) counts as unset rather than as port 0.
 */
export function localPort(env: NodeJS.ProcessEnv = process.env): number {
  const value = env.PORT?.trim();
  if (!value) return DEFAULT_PORT;
  const port = Number(value);
  if (!/^[0-9]+$/.test(value) || port < 1 || port > 65_535) {
    // A ConfigError, as for every other setting: the local tools print it in one line.
    throw new ConfigError("PORT", `must be a port number from 1 to 65535, not '${value}'`);
  }
  return port;
}

/** The files `func start` reads app settings from, lowest precedence first. */
export const LOCAL_SETTINGS_FILES = ["local.settings.sample.json", "local.settings.json"] as const;

/**
 * Settings that name one connection in alternative ways, the connection string winning over the
 * endpoint of a managed identity (src/config.ts): each group is taken whole from one place.
 */
const CONNECTION_ALTERNATIVES = [
  ["TABLES_CONNECTION", "TABLES_ENDPOINT"],
  ["SERVICEBUS_CONNECTION", "SERVICEBUS_NAMESPACE"],
] as const;

/** A blank value names nothing (the sample's empty `SERVICEBUS_NAMESPACE`). */
const named = (layer: Record<string, string | undefined>, name: string) => !!layer[name]?.trim();

/**
 * The app settings of `appRoot` as `func start` sees them: the `Values` of local.settings.json over
 * those of local.settings.sample.json (the committed template), and the environment over both. A
 * connection comes whole from the highest of them that names it, so `SERVICEBUS_NAMESPACE` in the
 * environment is not beaten by the sample's local `SERVICEBUS_CONNECTION`.
 */
export function readLocalSettings(
  appRoot: string,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const files = LOCAL_SETTINGS_FILES.map((file) => readValues(join(appRoot, file)));
  const values: Record<string, string> = Object.assign({}, ...files);
  for (const name of Object.keys(values)) {
    const fromEnv = env[name];
    if (fromEnv !== undefined) values[name] = fromEnv;
  }
  for (const group of CONNECTION_ALTERNATIVES) {
    const source = [...files, env].findLast((layer) => group.some((name) => named(layer, name)));
    for (const name of group) {
      if (source && !named(source, name) && name in values) values[name] = "";
    }
  }
  return values;
}

/** Puts the local settings into `env` (process.env by default) where it has no value yet. */
export function applyLocalSettings(
  appRoot: string,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const values = readLocalSettings(appRoot, env);
  for (const [name, value] of Object.entries(values)) {
    env[name] ??= value;
  }
  return values;
}

function readValues(path: string): Record<string, string> {
  if (!existsSync(path)) return {};
  let settings: { IsEncrypted?: unknown; Values?: unknown };
  try {
    settings = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new Error(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (settings.IsEncrypted === true) {
    throw new Error(
      `${path} is encrypted ("IsEncrypted": true); the local host reads plain values only.`,
    );
  }
  const values = settings.Values ?? {};
  if (typeof values !== "object" || values === null || Array.isArray(values)) {
    throw new Error(`${path}: "Values" must be an object of string settings.`);
  }
  for (const [name, value] of Object.entries(values)) {
    if (typeof value !== "string") {
      throw new Error(`${path}: setting "${name}" must be a string, not ${typeof value}.`);
    }
  }
  return values as Record<string, string>;
}
