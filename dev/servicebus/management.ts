import { uuid_to_string } from "rhea";
import { LOCK_LOST, type MessageQueue, type Settlement } from "./messageQueue";

/** A `$management` response: status in application properties, as Service Bus sends it. */
export interface ManagementAnswer {
  applicationProperties: Record<string, string | number>;
  body?: unknown;
}

const ok = (body?: unknown): ManagementAnswer => ({
  applicationProperties: { statusCode: 200, statusDescription: "OK" },
  body,
});

const failure = (statusCode: number, condition: string, description: string): ManagementAnswer => ({
  applicationProperties: {
    statusCode,
    statusDescription: description,
    "error-condition": condition,
  },
});

const lockLost = () => failure(410, LOCK_LOST.condition, LOCK_LOST.description);

const lockTokensOf = (body: Record<string, unknown>): string[] =>
  Array.isArray(body["lock-tokens"])
    ? body["lock-tokens"].map((token: Buffer) => uuid_to_string(token))
    : [];

/**
 * Answers the `$management` operations the SDK uses on a receiving entity: peek-message,
 * renew-lock and update-disposition (settling by lock token once the receive link is gone).
 */
export function answerManagementRequest(
  operation: unknown,
  body: Record<string, unknown>,
  queue: MessageQueue | undefined,
): ManagementAnswer {
  const supported = [
    "com.microsoft:peek-message",
    "com.microsoft:renew-lock",
    "com.microsoft:update-disposition",
  ];
  if (queue === undefined || typeof operation !== "string" || !supported.includes(operation)) {
    return failure(
      501,
      "amqp:not-implemented",
      `The local broker does not support ${String(operation)} here.`,
    );
  }
  try {
    if (operation === "com.microsoft:peek-message") return peek(queue, body);
    if (operation === "com.microsoft:renew-lock") return renewLocks(queue, lockTokensOf(body));
    return updateDisposition(queue, body);
  } catch (error) {
    return failure(
      400,
      "com.microsoft:argument-error",
      `Malformed ${operation} request: ${(error as Error).message}`,
    );
  }
}

function peek(queue: MessageQueue, body: Record<string, unknown>): ManagementAnswer {
  const from = Number(body["from-sequence-number"] ?? 0);
  const count = Number(body["message-count"] ?? 1);
  const messages = queue
    .messages()
    .filter((queued) => queued.message.sequenceNumber >= from)
    .slice(0, count);
  if (messages.length === 0)
    return { applicationProperties: { statusCode: 204, statusDescription: "No Content" } };
  return ok({
    messages: messages.map((queued) => ({
      message: queued.message.encode({
        deliveryCount: queued.deliveryCount,
        lockedUntil: queued.lockedUntil,
      }),
    })),
  });
}

function renewLocks(queue: MessageQueue, lockTokens: string[]): ManagementAnswer {
  const expirations = lockTokens.map((lockToken) => queue.renewLock(lockToken));
  if (expirations.length === 0 || expirations.some((expiry) => expiry === undefined))
    return lockLost();
  return ok({ expirations: expirations.map((expiry) => new Date(expiry ?? 0)) });
}

function updateDisposition(queue: MessageQueue, body: Record<string, unknown>): ManagementAnswer {
  const propertiesToModify = {
    ...(body["properties-to-modify"] as Record<string, unknown> | undefined),
  };
  let settlement: Settlement;
  switch (body["disposition-status"]) {
    case "completed":
      settlement = { outcome: "complete" };
      break;
    case "abandoned":
      settlement = { outcome: "abandon", propertiesToModify };
      break;
    case "suspended":
      settlement = {
        outcome: "deadLetter",
        propertiesToModify: {
          ...propertiesToModify,
          DeadLetterReason: body["deadletter-reason"],
          DeadLetterErrorDescription: body["deadletter-description"],
        },
      };
      break;
    default:
      return failure(
        501,
        "amqp:not-implemented",
        `The local broker does not support disposition ${String(body["disposition-status"])}.`,
      );
  }
  const settled = lockTokensOf(body).map((lockToken) => queue.settle(lockToken, settlement));
  return settled.length > 0 && settled.every(Boolean) ? ok() : lockLost();
}
