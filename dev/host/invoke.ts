import { randomUUID } from "node:crypto";
import type { RegisteredFunction } from "./functionsCoreStandIn";
import type {
  CoreInvocationContext,
  RpcInvocationResponse,
  RpcTypedData,
} from "./functionsCoreTypes";
import { runHooks } from "./hooks";
import type { HostLog } from "./hostLog";
import type { InFlight } from "./inFlight";
import type { LoadedApp } from "./loadApp";

/** What a trigger hands over for one invocation, in the shapes the host sends the worker. */
export interface TriggerInput {
  readonly data: RpcTypedData;
  /** Shown in the "Executing" log line, as the host does. */
  readonly reason: string;
  /** What the library turns into `context.triggerMetadata` (non-HTTP, non-timer triggers). */
  readonly triggerMetadata?: Record<string, RpcTypedData>;
}

/** Invokes a function; rejects with the function's error if it throws. */
export type Invoke = (
  fn: RegisteredFunction,
  input: TriggerInput,
) => Promise<RpcInvocationResponse>;

/**
 * Invokes functions the way the worker does: through the programming model @azure/functions set
 * on the stand-in, so the library itself builds the HttpRequest / InvocationContext / Timer
 * arguments from host-shaped data and converts the result, with pre/post invocation hooks around.
 */
export function createInvoker(
  app: LoadedApp,
  appHookData: Record<string, unknown>,
  log: HostLog,
  inFlight: InFlight,
): Invoke {
  return (fn, input) => inFlight.track(invoke(app, appHookData, log, fn, input));
}

async function invoke(
  app: LoadedApp,
  appHookData: Record<string, unknown>,
  log: HostLog,
  fn: RegisteredFunction,
  input: TriggerInput,
): Promise<RpcInvocationResponse> {
  const invocationId = randomUUID();
  const source = `Function.${fn.name}`;
  const started = performance.now();
  log(
    "information",
    source,
    `Executing 'Functions.${fn.name}' (Reason='${input.reason}', Id=${invocationId})`,
  );

  const coreContext: CoreInvocationContext = {
    invocationId,
    request: {
      invocationId,
      functionId: fn.functionId,
      inputData: [{ name: fn.triggerBindingName, data: input.data }],
      triggerMetadata: input.triggerMetadata,
    },
    metadata: fn.metadata,
    log: (level, category, message) =>
      log(level, category === "user" ? `${source}.User` : source, message),
  };

  try {
    const model = app.programmingModel.getInvocationModel(coreContext);
    const { context, inputs } = await model.getArguments();
    const hookData: Record<string, unknown> = {};

    const pre = {
      hookData,
      appHookData,
      invocationContext: context,
      inputs,
      functionCallback: fn.handler,
    };
    await inState(coreContext, "preInvocationHooks", () => runHooks(app.hooks.preInvocation, pre));

    const post = {
      hookData,
      appHookData,
      invocationContext: context,
      inputs: pre.inputs,
      result: null as unknown,
      error: null as unknown,
    };
    await inState(coreContext, "invocation", async () => {
      try {
        post.result = await model.invokeFunction(context, pre.inputs, pre.functionCallback);
      } catch (error) {
        post.error = error;
      }
    });
    await inState(coreContext, "postInvocationHooks", () =>
      runHooks(app.hooks.postInvocation, post),
    );
    if (post.error !== null && post.error !== undefined) throw post.error;

    const response = await model.getResponse(context, post.result);
    log(
      "information",
      source,
      `Executed 'Functions.${fn.name}' (Succeeded, Id=${invocationId}, Duration=${elapsed(started)}ms)`,
    );
    return response;
  } catch (error) {
    log(
      "error",
      source,
      `Executed 'Functions.${fn.name}' (Failed, Id=${invocationId}, Duration=${elapsed(started)}ms)`,
    );
    log(
      "error",
      source,
      `Exception while executing function: Functions.${fn.name}. ${describe(error)}`,
    );
    throw error;
  }
}

async function inState(
  coreContext: CoreInvocationContext,
  state: NonNullable<CoreInvocationContext["state"]>,
  run: () => Promise<void>,
): Promise<void> {
  coreContext.state = state;
  try {
    await run();
  } finally {
    coreContext.state = undefined;
  }
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
