/**
 * `npm run package`: the deployment package, exactly what azd deploys (azure.yaml `dist`).
 * dist/package/ holds host.json, a package.json whose `main` is the bundle, and app.js: src/index.ts
 * then every src/functions/*.ts, with their dependencies, bundled by esbuild (no node_modules, no
 * dev dependency, no TypeScript). dist/acr-event-bridge.zip is that folder zipped.
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import AdmZip from "adm-zip";
import { build } from "esbuild";

const ROOT = resolve(__dirname, "../..");
export const PACKAGE_DIR = join(ROOT, "dist/package");
export const PACKAGE_ZIP = join(ROOT, "dist/acr-event-bridge.zip");
const BUNDLE = "app.js";

export async function packageApp(): Promise<{ dir: string; zip: string }> {
  rmSync(PACKAGE_DIR, { recursive: true, force: true });
  rmSync(PACKAGE_ZIP, { force: true });
  mkdirSync(PACKAGE_DIR, { recursive: true });

  // The order the host loads the package.json `main` glob in: index first (telemetry), then each
  // function's registration.
  const functions = readdirSync(join(ROOT, "src/functions"))
    .filter((name) => name.endsWith(".ts"))
    .sort();
  const entry = ["./src/index", ...functions.map((name) => `./src/functions/${name}`)]
    .map((path) => `import "${path.replace(/\.ts$/, "")}";`)
    .join("\n");
  await build({
    stdin: { contents: entry, resolveDir: ROOT, loader: "ts", sourcefile: "app-entry.ts" },
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    outfile: join(PACKAGE_DIR, BUNDLE),
    // @azure/functions-core: provided by the Functions worker at run time. supports-color: an
    // optional require of `debug` (under the AMQP client), present here only as a dev dependency's.
    external: ["@azure/functions-core", "supports-color"],
    // Not minified: stack traces in Application Insights then name real functions and lines.
    legalComments: "linked",
    logLevel: "warning",
  });

  const project = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
  const manifest = {
    name: project.name,
    version: project.version,
    private: true,
    description: project.description,
    license: project.license,
    main: BUNDLE,
    engines: project.engines,
  };
  writeFileSync(join(PACKAGE_DIR, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  copyFileSync(join(ROOT, "host.json"), join(PACKAGE_DIR, "host.json"));

  const zip = new AdmZip();
  zip.addLocalFolder(PACKAGE_DIR);
  zip.writeZip(PACKAGE_ZIP);
  return { dir: PACKAGE_DIR, zip: PACKAGE_ZIP };
}

if (require.main === module) {
  packageApp().then(
    ({ dir, zip }) => console.log(`Deployment package: ${dir} (zipped: ${zip})`),
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
