import { setTimeout as sleep } from "node:timers/promises";
import type { InvocationContext } from "@azure/functions";
import { ChatPostError, postToChat, redeliveryDelayMs } from "./chatPost";
import { chatMessage, decide } from "./releaseNotice";
import type { NotifySettings } from "./settings";

/** The last message ids posted by this instance, so a redelivery after a post that worked is not posted twice. */
class RecentlyPosted {
  private readonly ids = new Set<string>();
  constructor(private readonly capacity: number) {}

  has(id: string): boolean {
    return this.ids.has(id);
  }

  add(id: string): void {
    this.ids.add(id);
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value as string);
  }
}

export interface NotifyDependencies {
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<unknown>;
}

/**
 * The Service Bus trigger's handler. A failed post throws: the message is abandoned, Service
 * Bus delivers it again (after a hold that spaces the attempts) and dead-letters it once the
 * subscription's max delivery count is reached.
 */
export function notifyChatHandler(settings: NotifySettings, dependencies: NotifyDependencies = {}) {
  const posted = new RecentlyPosted(1000);
  const wait = dependencies.sleep ?? sleep;
  return async (body: unknown, context: InvocationContext): Promise<void> => {
    const metadata = context.triggerMetadata ?? {};
    const messageId = String(metadata.messageId ?? "");
    const decision = decide(
      {
        messageId,
        body,
        applicationProperties: (metadata.applicationProperties ?? {}) as Record<string, unknown>,
      },
      settings,
    );
    if (!decision.post) {
      context.debug(`message ${messageId} skipped: ${decision.reason}`);
      return;
    }
    if (messageId !== "" && posted.has(messageId)) {
      context.info(`message ${messageId} was already posted`);
      return;
    }
    const { release } = decision;
    try {
      await postToChat(settings.webhookUrl, chatMessage(release, settings.format), {
        timeoutMs: settings.timeoutMs,
        fetch: dependencies.fetch,
      });
    } catch (error) {
      if (!(error instanceof ChatPostError)) throw error;
      const deliveryCount = Number(metadata.deliveryCount ?? 1);
      context.warn(`message ${messageId}, delivery ${deliveryCount}: ${error.message}`);
      await wait(redeliveryDelayMs(deliveryCount, error.retryAfterMs, settings.maxHoldMs));
      throw error;
    }
    posted.add(messageId);
    context.info(`posted ${release.repository}:${release.tag} (${release.artifactKind})`);
  };
}
