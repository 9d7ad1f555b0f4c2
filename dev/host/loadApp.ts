import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join, relative, resolve, sep } from "node:path";
import { glob } from "tinyglobby";
import {
  type HookRegistry,
  installFunctionsCoreStandIn,
  type RegisteredFunction,
  type SystemLog,
} from "./functionsCoreStandIn";
import type { ProgrammingModel } from "./functionsCoreTypes";

export interface LoadedApp {
  readonly appRoot: string;
  readonly functions: readonly RegisteredFunction[];
  readonly hooks: HookRegistry;
  readonly programmingModel: ProgrammingModel;
  /** Forgets the app's own modules, so that loading it again in this process registers again. */
  unload(): void;
}

/**
 * Loads an app the way the worker does under `func start`: the files matched by the package.json
 * `main` glob are required in turn, and @azure/functions hands each `app.*` registration to the
 * `@azure/functions-core` stand-in. Throws if nothing reaches the stand-in.
 */
export async function loadApp(appRoot: string, systemLog: SystemLog): Promise<LoadedApp> {
  const root = resolve(appRoot);
  const { main, files } = await resolveMainFiles(root);
  const standIn = installFunctionsCoreStandIn();
  const appRequire = createRequire(join(root, "package.json"));
  const cachedBefore = new Set(Object.keys(appRequire.cache));

  const appModules = () =>
    Object.keys(appRequire.cache).filter(
      (path) => !cachedBefore.has(path) && !path.includes(`${sep}node_modules${sep}`),
    );
  const forget = (paths: string[]) => {
    for (const path of paths) delete appRequire.cache[path];
  };

  let registrations: ReturnType<typeof standIn.capture>;
  try {
    registrations = standIn.capture(() => {
      for (const file of files) requireEntryPoint(appRequire, root, file);
    }, systemLog);
  } catch (error) {
    forget(appModules());
    throw error;
  }
  const loadedModules = appModules();
  const unload = () => forget(loadedModules);

  const programmingModel = standIn.programmingModel;
  if (registrations.functions.length === 0 || !programmingModel) {
    unload();
    throw new Error(
      nothingRegisteredMessage({
        main,
        files: files.map((file) => relative(root, file)),
        alreadyLoaded: files.some((file) => cachedBefore.has(file)),
        coreModuleRequested: standIn.requested,
        libraryVersion: libraryVersion(appRequire),
      }),
    );
  }

  // The worker asks for capabilities once the app is loaded; this also locks `app.setup()`.
  const capabilities = await programmingModel.getCapabilities?.({});
  if (capabilities?.HttpUri) {
    unload();
    throw new Error(
      "The app enables HTTP streaming (app.setup({ enableHttpStream: true })), which the local host does not support.",
    );
  }

  return {
    appRoot: root,
    functions: registrations.functions,
    hooks: registrations.hooks,
    programmingModel,
    unload,
  };
}

async function resolveMainFiles(root: string): Promise<{ main: string; files: string[] }> {
  const packageJsonPath = join(root, "package.json");
  let main: unknown;
  try {
    main = JSON.parse(await readFile(packageJsonPath, "utf8")).main;
  } catch (error) {
    throw new Error(`Cannot read ${packageJsonPath}: ${(error as Error).message}`);
  }
  if (typeof main !== "string" || main === "") {
    throw new Error(
      `${packageJsonPath} has no "main": the host finds the app's functions through it (e.g. "dist/src/{index.js,functions/*.js}").`,
    );
  }
  const files = await glob(main, { cwd: root, absolute: true, onlyFiles: true });
  if (files.length === 0) {
    throw new Error(
      `The package.json "main" glob "${main}" matches no file under ${root}. Is the app built (npm run build)?`,
    );
  }
  return { main, files: files.map((file) => resolve(file)) };
}

function requireEntryPoint(appRequire: NodeJS.Require, root: string, file: string): void {
  try {
    appRequire(file);
  } catch (error) {
    throw new Error(
      `Worker was unable to load entry point "${relative(root, file)}": ${(error as Error).message}`,
      { cause: error },
    );
  }
}

function libraryVersion(appRequire: NodeJS.Require): string {
  try {
    return `@azure/functions ${appRequire("@azure/functions/package.json").version}`;
  } catch {
    return "@azure/functions (not resolvable from the app)";
  }
}

function nothingRegisteredMessage(facts: {
  main: string;
  files: string[];
  alreadyLoaded: boolean;
  coreModuleRequested: boolean;
  libraryVersion: string;
}): string {
  const lines = [
    `No function was registered with the local host while loading ${facts.files.join(", ")} (package.json main "${facts.main}").`,
    `Either the app registers none, or ${facts.libraryVersion} no longer hands its registrations to "@azure/functions-core", the worker's internal module the host stands in for (a library upgrade may have changed it: see dev/host/functionsCoreStandIn.ts).`,
  ];
  if (!facts.coreModuleRequested) {
    lines.push(
      'Nothing in this process has required "@azure/functions-core" since the stand-in was installed (was @azure/functions used before the host started?).',
    );
  }
  if (facts.alreadyLoaded) {
    lines.push(
      "These files were already loaded in this process, so they did not run again (is another host for this app still running?).",
    );
  }
  return lines.join("\n");
}
