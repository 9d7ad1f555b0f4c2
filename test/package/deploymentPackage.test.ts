import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import AdmZip from "adm-zip";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { acrPush } from "../support/eventGridEvents";
import { type IngestionCapture, startIngestionCapture } from "../support/ingestionCapture";
import { type LocalStack, startLocalStack } from "../support/localStack";
import { deliverWebhook } from "../support/webhookClient";

const ROOT = resolve(__dirname, "../..");
const ZIP = join(ROOT, "dist/acr-event-bridge.zip");
const MAX_ZIPPED_BYTES = 20 * 1024 * 1024;
const project = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));

/** Names of the installed packages (`npm ls --all`), e.g. only the production tree's. */
function installedPackages(options: string[]): Set<string> {
  const paths = execFileSync("npm", ["ls", "--all", "--parseable", ...options], {
    cwd: ROOT,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
  return new Set(
    paths
      .split("\n")
      .map((path) => /node_modules\/((?:@[^/]+\/)?[^/]+)$/.exec(path.trim())?.[1])
      .filter((name): name is string => name !== undefined),
  );
}

/**
 * The deployment package as `npm run package` builds it (after `npm run build`, which `npm test`
 * runs first), unpacked into an empty folder and served from there alone.
 */
describe("the deployment package", () => {
  const unpacked = mkdtempSync(join(tmpdir(), "acr-bridge-package-"));
  let files: string[];
  let bundle: string;

  beforeAll(() => {
    execFileSync(process.execPath, [join(ROOT, "dist/scripts/packageApp.js")], {
      cwd: ROOT,
      stdio: "pipe",
    });
    new AdmZip(ZIP).extractAllTo(unpacked, true);
    files = readdirSync(unpacked, { recursive: true, encoding: "utf8" }).sort();
    bundle = readFileSync(
      join(unpacked, JSON.parse(readFileSync(join(unpacked, "package.json"), "utf8")).main),
      "utf8",
    );
  }, 120_000);
  afterAll(() => rmSync(unpacked, { recursive: true, force: true }));

  it(`is small: at most ${MAX_ZIPPED_BYTES / 1024 / 1024} MB zipped`, () => {
    expect(statSync(ZIP).size).toBeLessThanOrEqual(MAX_ZIPPED_BYTES);
  });

  it("holds the host's files and the bundle, and no node_modules, TypeScript, tests or sources", () => {
    expect(files).toEqual(["app.js", "app.js.LEGAL.txt", "host.json", "package.json"]);
    expect(files.filter((file) => /\.ts$|node_modules|^test|^src|^dev/.test(file))).toEqual([]);
    expect(readFileSync(join(unpacked, "host.json"), "utf8")).toBe(
      readFileSync(join(ROOT, "host.json"), "utf8"),
    );
  });

  it("bundles the runtime dependencies and nothing only the development needs", () => {
    // esbuild marks where each bundled module came from: `// node_modules/<package>/...`.
    const bundled = new Set(
      [...bundle.matchAll(/^\/\/ node_modules\/((?:@[^/]+\/)?[^/]+)\//gm)].map((m) => m[1]),
    );
    for (const dependency of Object.keys(project.dependencies)) {
      expect(bundled, dependency).toContain(dependency);
    }
    const production = installedPackages(["--omit=dev"]);
    const developmentOnly = [...installedPackages([])].filter((name) => !production.has(name));
    expect(developmentOnly).toEqual(expect.arrayContaining(["vitest", "typescript", "azurite"]));
    expect([...bundled].filter((name) => !production.has(name))).toEqual([]);
  });

  it("is what azd deploys: azure.yaml's `dist`, built by the package script azd runs", () => {
    const api = parseYaml(readFileSync(join(ROOT, "azure.yaml"), "utf8")).services.api;
    expect(resolve(ROOT, api.project, api.dist)).toBe(join(ROOT, "dist/package"));
    expect(api.remoteBuild).toBe(false);
    expect(project.scripts.package).toContain("dist/scripts/packageApp.js");
  });

  describe("served from the unpacked folder by the local host", () => {
    let capture: IngestionCapture;
    let stack: LocalStack;

    beforeAll(async () => {
      capture = await startIngestionCapture(unpacked);
      stack = await startLocalStack({
        appRoot: unpacked,
        env: {
          ...capture.hostSettings(),
          // The package has no local.settings: what it needs comes from app settings, as in Azure.
          RECONCILE_SCHEDULE: "0 0 0 1 1 *",
        },
      });
    }, 60_000);
    afterAll(async () => {
      await stack?.stop();
      await capture?.stop();
    });

    it("answers a webhook and publishes it", async () => {
      const push = acrPush("team/packaged");
      const answer = await deliverWebhook(stack, push);
      expect(answer).toMatchObject({ id: push.id, publishState: "published" });
      const messages = stack
        .broker()
        .messages("acr-push", "all")
        .filter((message) => message.applicationProperties?.repository === "team/packaged");
      expect(messages).toHaveLength(1);
    });

    it("still traces the Azure SDK calls (bundled, no require hook sees them)", async () => {
      await stack.stopHost("SIGTERM");
      const types = capture
        .envelopes()
        .filter((envelope) => envelope.data.baseType === "RemoteDependencyData")
        .map((envelope) => String(envelope.data.baseData.type));
      expect(types.some((type) => type.includes("Microsoft.Data.Tables"))).toBe(true);
      expect(types).toContain("Queue Message");
    });
  });
});
