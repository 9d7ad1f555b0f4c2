import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { afterEach, describe, expect, it } from "vitest";
import { withCpuPerDelivery } from "../../bench/perf/cpuPerDelivery";
import type { RunningApp } from "../../bench/perf/stack";

/** A Node.js process that, on each line it reads, spins until it has used `ms` more CPU. */
const SPINNER = `
process.stdout.write("ready\\n");
process.stdin.on("data", (chunk) => {
  const ms = Number(String(chunk).trim());
  const cpu = () => { const { user, system } = process.cpuUsage(); return (user + system) / 1000; };
  const until = cpu() + ms;
  while (cpu() < until) {}
  process.stdout.write("done\\n");
});
`;

const children: ChildProcess[] = [];

async function startSpinner(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["-e", SPINNER], { stdio: ["pipe", "pipe", "inherit"] });
  children.push(child);
  await once(child.stdout as NodeJS.ReadableStream, "data");
  return child;
}

async function spin(child: ChildProcess, ms: number): Promise<void> {
  child.stdin?.write(`${ms}\n`);
  await once(child.stdout as NodeJS.ReadableStream, "data");
}

function appOn(host: ChildProcess, tables: ChildProcess | undefined): RunningApp {
  return { host: { child: host }, tablesPid: tables?.pid } as unknown as RunningApp;
}

afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
});

describe("CPU per delivery, from each process's own accounting", () => {
  it("divides what each process spent during the run by the deliveries acknowledged", async () => {
    const [host, tables] = await Promise.all([startSpinner(), startSpinner()]);
    const { run, cpu } = await withCpuPerDelivery(appOn(host, tables), async () => {
      await Promise.all([spin(host, 400), spin(tables, 100)]);
      return { ok: 4 };
    });
    expect(run).toEqual({ ok: 4 });
    // /proc counts in 10 ms ticks; the spin is at least what was asked, plus a little overhead.
    expect(cpu?.hostMs).toBeGreaterThanOrEqual(95);
    expect(cpu?.hostMs).toBeLessThan(140);
    expect(cpu?.azuriteMs).toBeGreaterThanOrEqual(20);
    expect(cpu?.azuriteMs).toBeLessThan(60);
    expect(cpu?.benchMs).toBeGreaterThanOrEqual(0);
  });

  it("reports nothing when no delivery was acknowledged or the tables' process is unknown", async () => {
    const host = await startSpinner();
    expect((await withCpuPerDelivery(appOn(host, host), async () => ({ ok: 0 }))).cpu).toBe(
      undefined,
    );
    expect((await withCpuPerDelivery(appOn(host, undefined), async () => ({ ok: 3 }))).cpu).toBe(
      undefined,
    );
  });
});
