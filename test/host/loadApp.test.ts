import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { RegisteredFunction } from "../../dev/host/functionsCoreStandIn";
import { loadApp } from "../../dev/host/loadApp";

const fixtureApp = join(__dirname, "fixture-app");
const noSystemLog = () => {};

describe("loadApp", () => {
  it("captures what @azure/functions registers through the @azure/functions-core stand-in", async () => {
    const app = await loadApp(fixtureApp, noSystemLog);
    try {
      const byName = new Map<string, RegisteredFunction>(app.functions.map((fn) => [fn.name, fn]));
      expect([...byName.keys()].sort()).toEqual(
        ["defaultRoute", "echo", "fail", "onEvent", "slow", "startupTick", "tick"].sort(),
      );
      expect(byName.get("echo")).toMatchObject({
        triggerType: "httpTrigger",
        route: "items/{category}/{id?}",
        methods: ["GET", "POST"],
        authLevel: "function",
      });
      // The library's defaults, and the host's default route (the function name).
      expect(byName.get("defaultRoute")).toMatchObject({
        route: "defaultRoute",
        methods: ["GET", "POST"],
        authLevel: "anonymous",
      });
      expect(byName.get("onEvent")).toMatchObject({ triggerType: "eventGridTrigger" });
      expect(byName.get("tick")).toMatchObject({
        triggerType: "timerTrigger",
        schedule: "%TICK_SCHEDULE%",
        runOnStartup: false,
      });
      expect(byName.get("startupTick")?.runOnStartup).toBe(true);

      const echo = byName.get("echo");
      expect(typeof echo?.handler).toBe("function");
      expect(echo?.metadata.bindings[echo.triggerBindingName]).toMatchObject({
        type: "httpTrigger",
        direction: "in",
      });
      expect(echo?.metadata.bindings.$return).toMatchObject({ type: "http", direction: "out" });

      expect(app.programmingModel.name).toBe("@azure/functions");
      expect(app.hooks.appStart).toHaveLength(1);
      expect(app.hooks.appTerminate).toHaveLength(1);
      expect(app.hooks.preInvocation).toHaveLength(1);
    } finally {
      app.unload();
    }
  });

  it("registers the functions again when the app is loaded again after unload()", async () => {
    const first = await loadApp(fixtureApp, noSystemLog);
    first.unload();
    const second = await loadApp(fixtureApp, noSystemLog);
    second.unload();
    expect(second.functions.map((fn) => fn.name)).toEqual(first.functions.map((fn) => fn.name));
    expect(second.functions[0]?.handler).not.toBe(first.functions[0]?.handler);
  });

  it("fails loudly when the library does not hand its registrations to the stand-in", async () => {
    await expect(loadApp(join(__dirname, "fixture-app-renamed-core"), noSystemLog)).rejects.toThrow(
      /No function was registered[\s\S]*no longer hands its registrations to "@azure\/functions-core"/,
    );
  });

  it("fails when package.json main matches no file", async () => {
    const appRoot = mkdtempSync(join(tmpdir(), "functions-host-"));
    try {
      writeFileSync(join(appRoot, "package.json"), JSON.stringify({ main: "dist/src/*.js" }));
      await expect(loadApp(appRoot, noSystemLog)).rejects.toThrow(
        /"dist\/src\/\*\.js" matches no file.*npm run build/,
      );
    } finally {
      rmSync(appRoot, { recursive: true, force: true });
    }
  });
});
