import { spawn } from "node:child_process";
import { accessSync, constants, readFileSync } from "node:fs";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { delimiter, join, relative, resolve } from "node:path";

const ROOT = resolve(__dirname, "../..");
const DOWNLOAD_PROJECT = "infra/tools/bicep.csproj";

/** One line telling a user without the CLI how to get it. */
export const BICEP_CLI_HINT = `No Bicep CLI: the infra tests are skipped. Get it with \`dotnet restore ${DOWNLOAD_PROJECT}\` (or \`az bicep install\`, or set BICEP_CLI).`;

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The version `infra/tools/bicep.csproj` pins, e.g. 0.49.2. */
function pinnedVersion(): string | undefined {
  const project = readFileSync(join(ROOT, DOWNLOAD_PROJECT), "utf8");
  return /Include="Azure\.Bicep\.CommandLine\.linux-x64"\s+Version="\[?([^\]"]+)\]?"/.exec(
    project,
  )?.[1];
}

/**
 * The Bicep CLI: `BICEP_CLI`, then `bicep` on PATH, then where `az bicep install` and azd put it,
 * then the NuGet package `dotnet restore infra/tools/bicep.csproj` downloads. Undefined if none.
 */
export function findBicepCli(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.BICEP_CLI) {
    if (!executable(env.BICEP_CLI)) throw new Error(`BICEP_CLI=${env.BICEP_CLI} is not executable`);
    return env.BICEP_CLI;
  }
  const home = homedir();
  const nugetPackages = env.NUGET_PACKAGES ?? join(home, ".nuget", "packages");
  const version = pinnedVersion();
  const candidates = [
    ...(env.PATH ?? "").split(delimiter).map((dir) => join(dir, "bicep")),
    join(home, ".azure", "bin", "bicep"),
    join(home, ".azd", "bin", "bicep"),
    ...(version
      ? [join(nugetPackages, "azure.bicep.commandline.linux-x64", version, "tools", "bicep")]
      : []),
  ];
  return candidates.find((path) => path !== "bicep" && executable(path));
}

export interface CliRun {
  status: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI; stdout and stderr are kept whatever the exit status (warnings go to stderr on
 * success). Runs do not wait for one another: a test may start several together.
 */
export function runBicep(cli: string, args: string[], cwd = ROOT): Promise<CliRun> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(cli, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.once("error", reject);
    child.once("close", (code) =>
      resolveRun({
        status: code ?? 1,
        stdout: Buffer.concat(stdout).toString("utf8"),
        stderr: Buffer.concat(stderr).toString("utf8"),
      }),
    );
  });
}

/**
 * Lints Bicep sources that live outside infra/ (a sample's module, what a command prints) by the
 * rules infra/ is held to: each file is written to a scratch folder beside a copy of
 * infra/bicepconfig.json, which the CLI takes from the file's own folder.
 */
export async function lintWithInfraRules(
  cli: string,
  files: Record<string, string>,
): Promise<CliRun> {
  const dir = await mkdtemp(join(tmpdir(), "bicep-lint-"));
  try {
    await copyFile(join(ROOT, "infra/bicepconfig.json"), join(dir, "bicepconfig.json"));
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    return await runBicep(cli, ["lint", "--pattern", "*.bicep"], dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface Snapshot {
  predictedResources: PredictedResource[];
  outputs: Record<string, unknown>;
  diagnostics: unknown[];
}

export interface PredictedResource {
  id: string;
  type: string;
  name: string;
  apiVersion: string;
  location?: string;
  kind?: string;
  tags?: Record<string, string>;
  identity?: { type: string; userAssignedIdentities?: Record<string, unknown> };
  sku?: Record<string, unknown>;
  // biome-ignore lint/suspicious/noExplicitAny: ARM resource bodies are free-form JSON.
  properties?: any;
}

/** The subscription, tenant and region every snapshot is taken in. */
export const SNAPSHOT_SCOPE = {
  subscriptionId: "00000000-0000-0000-0000-0000000000a1",
  tenantId: "00000000-0000-0000-0000-0000000000b2",
  location: "westeurope",
};

/**
 * What ARM would deploy from `template` with `params`, as the Bicep CLI predicts it
 * (`bicep snapshot`): every module expanded, every value known before deployment computed,
 * the rest left as ARM expressions (`[reference(...)]`).
 */
export async function snapshot(
  cli: string,
  template: string,
  params: Record<string, unknown>,
  resourceGroup?: string,
): Promise<Snapshot> {
  const dir = await mkdtemp(join(tmpdir(), "bicep-snapshot-"));
  try {
    const paramFile = join(dir, "deployment.bicepparam");
    const lines = [`using '${relative(dir, join(ROOT, template)).replaceAll("\\", "/")}'`];
    for (const [name, value] of Object.entries(params)) {
      lines.push(`param ${name} = ${bicepLiteral(value)}`);
    }
    await writeFile(paramFile, `${lines.join("\n")}\n`);
    const args = [
      "snapshot",
      paramFile,
      "--mode",
      "overwrite",
      "--subscription-id",
      SNAPSHOT_SCOPE.subscriptionId,
      "--tenant-id",
      SNAPSHOT_SCOPE.tenantId,
      "--location",
      SNAPSHOT_SCOPE.location,
      "--deployment-name",
      "main",
      ...(resourceGroup ? ["--resource-group", resourceGroup] : []),
    ];
    const run = await runBicep(cli, args, dir);
    if (run.status !== 0) throw new Error(`bicep snapshot ${template} failed:\n${run.stderr}`);
    return JSON.parse(await readFile(join(dir, "deployment.snapshot.json"), "utf8")) as Snapshot;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** JSON values as Bicep literals (strings single-quoted and escaped). */
function bicepLiteral(value: unknown): string {
  if (typeof value === "string") return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
  if (Array.isArray(value)) return `[${value.map(bicepLiteral).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    return `{ ${Object.entries(value)
      .map(([key, item]) => `'${key}': ${bicepLiteral(item)}`)
      .join(", ")} }`;
  }
  return String(value);
}
