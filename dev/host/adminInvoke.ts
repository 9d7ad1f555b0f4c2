import type { ServerResponse } from "node:http";
import type { RegisteredFunction } from "./functionsCoreStandIn";
import { writeEmpty, writeError } from "./httpResponses";
import type { Invoke } from "./invoke";
import type { Timers } from "./timers";

/** `POST /admin/functions/{name}`, body `{"input": "..."}`: the host's way to run a non-HTTP function. */
export const ADMIN_FUNCTIONS_PATH = "/admin/functions/";

/**
 * Starts the function and answers 202 without waiting, as the host does (its outcome is in the
 * log). A timer function gets a Timer as if its schedule had fired; any other trigger gets
 * `input`, which the library hands over parsed when it is JSON. Core Tools needs no master key.
 */
export function handleAdminInvoke(
  res: ServerResponse,
  body: Buffer,
  fn: RegisteredFunction,
  invoke: Invoke,
  timers: Timers,
): void {
  const input = parseInput(body);
  if (input === undefined) {
    writeError(res, 400, "invalid_body", 'The body must be a JSON object such as {"input": ""}.');
    return;
  }
  if (fn.triggerType.toLowerCase() === "httptrigger") {
    writeError(
      res,
      400,
      "http_function",
      `"${fn.name}" is an HTTP function: call its route instead.`,
    );
    return;
  }
  const data =
    fn.triggerType.toLowerCase() === "timertrigger" ? timers.timerData(fn) : { string: input };
  invoke(fn, {
    data,
    reason: "This function was programmatically called via the host APIs.",
  }).catch(() => {
    // Logged by the invoker; the caller already has its 202.
  });
  writeEmpty(res, 202);
}

function parseInput(body: Buffer): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body.toString("utf8"));
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
    const input = (parsed as { input?: unknown }).input;
    if (input === undefined || input === null) return "";
    return typeof input === "string" ? input : JSON.stringify(input);
  } catch {
    return undefined;
  }
}
