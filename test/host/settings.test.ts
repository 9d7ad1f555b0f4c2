import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { applyLocalSettings, localPort, readLocalSettings } from "../../dev/host/settings";
import { loadServiceBusConnection } from "../../src/config";

const appRoots: string[] = [];
afterAll(() => {
  for (const appRoot of appRoots) rmSync(appRoot, { recursive: true, force: true });
});

function appWithSettings(files: Record<string, unknown>): string {
  const appRoot = mkdtempSync(join(tmpdir(), "functions-host-settings-"));
  appRoots.push(appRoot);
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(appRoot, name), JSON.stringify(content));
  }
  return appRoot;
}

describe("local settings", () => {
  const appRoot = appWithSettings({
    "local.settings.sample.json": {
      IsEncrypted: false,
      Values: { FROM_SAMPLE: "sample", IN_BOTH: "sample", IN_ALL: "sample" },
    },
    "local.settings.json": { Values: { FROM_LOCAL: "local", IN_BOTH: "local", IN_ALL: "local" } },
  });

  it("take the environment over local.settings.json over local.settings.sample.json", () => {
    expect(readLocalSettings(appRoot, { IN_ALL: "env", UNRELATED: "x" })).toEqual({
      FROM_SAMPLE: "sample",
      FROM_LOCAL: "local",
      IN_BOTH: "local",
      IN_ALL: "env",
    });
  });

  it("are applied where the environment has no value yet", () => {
    const env: NodeJS.ProcessEnv = { IN_ALL: "env", EMPTY_BUT_SET: "" };
    applyLocalSettings(appRoot, env);
    expect(env).toEqual({
      IN_ALL: "env",
      EMPTY_BUT_SET: "",
      FROM_SAMPLE: "sample",
      FROM_LOCAL: "local",
      IN_BOTH: "local",
    });
  });

  it("come from the sample alone when there is no local.settings.json, and are empty without files", () => {
    const sampleOnly = appWithSettings({ "local.settings.sample.json": { Values: { A: "1" } } });
    expect(readLocalSettings(sampleOnly, {})).toEqual({ A: "1" });
    expect(readLocalSettings(appWithSettings({}), {})).toEqual({});
  });

  it("take a connection whole from the highest place that names it, so the sample's connection string does not beat an endpoint set over it", () => {
    const sample = {
      TABLES_CONNECTION: "UseDevelopmentStorage=true",
      TABLES_ENDPOINT: "",
      SERVICEBUS_CONNECTION: "Endpoint=sb://localhost;UseDevelopmentEmulator=true",
      SERVICEBUS_NAMESPACE: "",
    };
    const sampleOnly = appWithSettings({ "local.settings.sample.json": { Values: sample } });
    const namespace = "sb-bridge.servicebus.windows.net";
    expect(readLocalSettings(sampleOnly, { SERVICEBUS_NAMESPACE: namespace })).toEqual({
      ...sample,
      SERVICEBUS_CONNECTION: "",
      SERVICEBUS_NAMESPACE: namespace,
    });
    const endpoint = "https://st.table.core.windows.net";
    const withLocal = appWithSettings({
      "local.settings.sample.json": { Values: sample },
      "local.settings.json": { Values: { TABLES_ENDPOINT: endpoint } },
    });
    expect(readLocalSettings(withLocal, {})).toEqual({
      ...sample,
      TABLES_CONNECTION: "",
      TABLES_ENDPOINT: endpoint,
    });
    const azurite = "UseDevelopmentStorage=true;DevelopmentStorageProxyUri=http://127.0.0.1";
    expect(readLocalSettings(withLocal, { TABLES_CONNECTION: azurite })).toEqual({
      ...sample,
      TABLES_CONNECTION: azurite,
      TABLES_ENDPOINT: "",
    });
    const env: NodeJS.ProcessEnv = { SERVICEBUS_NAMESPACE: namespace };
    applyLocalSettings(sampleOnly, env);
    expect(loadServiceBusConnection(env)).toEqual({ kind: "managed-identity", namespace });
  });

  it("refuse values that are not strings, naming the setting and the file", () => {
    const invalid = appWithSettings({ "local.settings.json": { Values: { PORT: 7071 } } });
    expect(() => readLocalSettings(invalid, {})).toThrow(
      /local\.settings\.json: setting "PORT" must be a string, not number/,
    );
  });
});

describe("localPort", () => {
  it.each<[string | undefined, number]>([
    [undefined, 7071],
    ["", 7071],
    ["  ", 7071],
    ["7171", 7171],
  ])("PORT %j is %d", (value, port) => {
    expect(localPort({ PORT: value })).toBe(port);
  });

  it.each(["0", "70000", "seven", "-1", "71.5"])("refuses PORT %j, naming it", (value) => {
    expect(() => localPort({ PORT: value })).toThrow(/^setting PORT: must be a port number/);
  });
});
