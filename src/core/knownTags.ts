import { tagsPushedFor } from "./crossCheck";
import { digestOf } from "./decideArrival";
import type { EventStore } from "./ports";
import type { RegistryEvent } from "./registryEvent";

/** For a delete's message (at its arrival, re-drive, recovery or replay): its digest's tags. */
export async function knownTagsOf(
  event: RegistryEvent,
  store: Pick<EventStore, "digestTags">,
): Promise<string[]> {
  const digest = digestOf(event);
  return digest ? tagsPushedFor(event, await store.digestTags(digest)) : [];
}
