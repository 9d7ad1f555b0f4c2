import { tagsPushedFor } from "./crossCheck";
import type { EventStore } from "./ports";
import type { RegistryEvent } from "./registryEvent";

/** For a delete published after its arrival (re-drive, recovery, replay): its digest's tags. */
export async function knownTagsOf(
  event: RegistryEvent,
  store: Pick<EventStore, "relatedLogicals">,
): Promise<string[]> {
  if (event.action !== "delete" || !event.digest) return [];
  const related = await store.relatedLogicals(event);
  return tagsPushedFor(
    event,
    related.map((logical) => logical.value),
  );
}
