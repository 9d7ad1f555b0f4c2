import { Module } from "node:module";
import type {
  BindingInfo,
  Disposable,
  FunctionCallback,
  FunctionMetadata,
  HookCallback,
  HookName,
  LogCategory,
  LogLevel,
  ProgrammingModel,
} from "./functionsCoreTypes";

/** One function as the app registered it, with its trigger options read out of the metadata. */
export interface RegisteredFunction {
  readonly name: string;
  readonly functionId: string;
  /** The trigger binding's type, e.g. `httpTrigger`, `eventGridTrigger`, `timerTrigger`. */
  readonly triggerType: string;
  readonly triggerBindingName: string;
  /** HTTP: the declared route, or the function name when none is declared (as the host does). */
  readonly route?: string;
  /** HTTP: the accepted methods; empty means any. */
  readonly methods?: readonly string[];
  readonly authLevel?: string;
  /** Timer: the NCRONTAB expression as declared, `%SETTING%` expressions not yet resolved. */
  readonly schedule?: string;
  readonly runOnStartup?: boolean;
  /** Exactly what @azure/functions passed to `registerFunction`. */
  readonly metadata: FunctionMetadata;
  readonly handler: FunctionCallback;
}

export type HookRegistry = Record<HookName, HookCallback[]>;

export interface AppRegistrations {
  readonly functions: RegisteredFunction[];
  readonly hooks: HookRegistry;
}

export type SystemLog = (level: LogLevel, message: string) => void;

const CORE_MODULE = "@azure/functions-core";
const INSTANCE_KEY = Symbol.for("acr-event-bridge/functions-core-stand-in");

/**
 * Plays the part of the module the Azure Functions Node.js worker builds into its process: the
 * worker answers `require("@azure/functions-core")` with its own API, and @azure/functions uses it to
 * hand over every `app.*` registration. Same interception as the worker (a proxy on
 * `Module.prototype.require`), so the app's functions register exactly as under `func start`.
 */
export class FunctionsCoreStandIn {
  /** Whether anything in this process has asked for `@azure/functions-core` since installation. */
  requested = false;
  /** Set once per process by @azure/functions on its first registration. */
  programmingModel: ProgrammingModel | undefined;
  #registrations: AppRegistrations | undefined;
  #loading = false;
  #systemLog: SystemLog = () => {};

  /** Runs `load` (which requires the app's files) and returns what the app registered meanwhile. */
  capture(load: () => void, systemLog: SystemLog): AppRegistrations {
    const registrations: AppRegistrations = {
      functions: [],
      hooks: { appStart: [], appTerminate: [], preInvocation: [], postInvocation: [] },
    };
    this.#registrations = registrations;
    this.#systemLog = systemLog;
    this.#loading = true;
    try {
      load();
    } finally {
      this.#loading = false;
    }
    return registrations;
  }

  readonly coreApi = {
    setProgrammingModel: (programmingModel: ProgrammingModel): void => {
      this.programmingModel = programmingModel;
    },
    getProgrammingModel: (): ProgrammingModel | undefined => this.programmingModel,
    registerFunction: (metadata: FunctionMetadata, callback: FunctionCallback): Disposable => {
      const registrations = this.#registrations;
      if (!this.#loading || !registrations) {
        throw new Error("A function can only be registered during app startup.");
      }
      const registered = toRegisteredFunction(metadata, callback);
      if (registrations.functions.some((f) => f.functionId === registered.functionId)) {
        throw new Error(
          `A function with id "${registered.functionId}" has already been registered.`,
        );
      }
      registrations.functions.push(registered);
      return {
        dispose: () => removeItem(registrations.functions, registered),
      };
    },
    registerHook: (hookName: string, callback: HookCallback): Disposable => {
      const hooks = this.#registrations?.hooks;
      if (!hooks) {
        throw new Error("Hooks can only be registered by an app the local host is loading.");
      }
      if (!isHookName(hookName)) {
        // What the worker throws; @azure/functions turns it into "Log hooks require Host v4.34...".
        throw Object.assign(new RangeError(`Unrecognized hook "${hookName}"`), {
          isAzureFunctionsSystemError: true,
        });
      }
      hooks[hookName].push(callback);
      return { dispose: () => removeItem(hooks[hookName], callback) };
    },
    log: (level: LogLevel, _category: LogCategory, message: string): void => {
      this.#systemLog(level, message);
    },
  };
}

/**
 * Installs the stand-in once per process (kept on `globalThis`, so a second copy of this module,
 * e.g. under a test runner, finds the same one) and returns it. Must run before anything in the
 * process calls `app.*`: @azure/functions looks the module up once and remembers a failure.
 */
export function installFunctionsCoreStandIn(): FunctionsCoreStandIn {
  const globals = globalThis as { [INSTANCE_KEY]?: FunctionsCoreStandIn };
  const installed = globals[INSTANCE_KEY];
  if (installed) return installed;

  const standIn = new FunctionsCoreStandIn();
  Module.prototype.require = new Proxy(Module.prototype.require, {
    apply(target, thisArg, args) {
      if (args[0] === CORE_MODULE) {
        standIn.requested = true;
        return standIn.coreApi;
      }
      return Reflect.apply(target, thisArg, args);
    },
  });
  globals[INSTANCE_KEY] = standIn;
  return standIn;
}

function toRegisteredFunction(
  metadata: FunctionMetadata,
  handler: FunctionCallback,
): RegisteredFunction {
  const trigger = Object.entries(metadata.bindings).find(
    ([, binding]) => binding.direction === "in" && /trigger$/i.test(binding.type ?? ""),
  );
  if (!trigger) {
    throw new Error(`Function "${metadata.name}" has no trigger binding.`);
  }
  const [triggerBindingName, binding] = trigger;
  const triggerType = String(binding.type);
  return {
    name: metadata.name,
    functionId: metadata.functionId || metadata.name,
    triggerType,
    triggerBindingName,
    ...triggerOptions(triggerType, binding, metadata.name),
    metadata,
    handler,
  };
}

function triggerOptions(
  triggerType: string,
  binding: BindingInfo,
  functionName: string,
): Partial<RegisteredFunction> {
  switch (triggerType.toLowerCase()) {
    case "httptrigger":
      return {
        route: typeof binding.route === "string" ? binding.route : functionName,
        methods: Array.isArray(binding.methods) ? binding.methods.map(String) : [],
        authLevel: typeof binding.authLevel === "string" ? binding.authLevel : "function",
      };
    case "timertrigger":
      return { schedule: String(binding.schedule), runOnStartup: binding.runOnStartup === true };
    default:
      return {};
  }
}

function isHookName(name: string): name is HookName {
  return ["appStart", "appTerminate", "preInvocation", "postInvocation"].includes(name);
}

function removeItem<T>(items: T[], item: T): void {
  const index = items.indexOf(item);
  if (index >= 0) items.splice(index, 1);
}
