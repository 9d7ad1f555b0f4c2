/** Why a post failed, and how long to hold the message before Service Bus delivers it again. */
export class ChatPostError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number | undefined,
  ) {
    super(message);
  }
}

export interface PostOptions {
  timeoutMs: number;
  fetch?: typeof fetch;
}

/** One POST of one message; any answer but 2xx throws (the URL holds a secret: never logged). */
export async function postToChat(
  url: string,
  message: object,
  options: PostOptions,
): Promise<void> {
  let response: Response;
  try {
    response = await (options.fetch ?? fetch)(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(message),
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (error) {
    throw new ChatPostError(`the chat webhook did not answer: ${(error as Error).name}`, undefined);
  }
  await response.body?.cancel();
  if (response.ok) return;
  throw new ChatPostError(
    `the chat webhook answered ${response.status}`,
    retryAfterMs(response.headers.get("retry-after")),
  );
}

function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/**
 * Service Bus delivers a failed message again at once; holding it a while first spaces the
 * attempts out: 1 s, 2 s, 4 s ... by delivery count, or what the chat service asked for, at most
 * `maxMs` (keep it well under the subscription's lock duration).
 */
export function redeliveryDelayMs(
  deliveryCount: number,
  retryAfter: number | undefined,
  maxMs: number,
): number {
  const backoff = 1000 * 2 ** Math.max(0, deliveryCount - 1);
  return Math.min(maxMs, retryAfter ?? backoff);
}
