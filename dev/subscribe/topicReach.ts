import type { RoutingTable } from "../../src/core/routing";

/** Where the bridge publishes, as its settings say: each action's topic, and the findings'. */
export interface BridgeTopics {
  routing: RoutingTable;
  discrepancyTopic: string;
}

/** What a subscription's filter asks for, as `npm run subscribe` takes it. */
export interface AskedFor {
  actions: readonly string[];
  kinds: readonly string[];
  tagged: boolean;
  /** Whether a `--tag` glob was given. */
  tags: boolean;
}

/**
 * The options that select what the bridge never sends to `topic`: an action it publishes to
 * another topic, properties the findings do not carry, or a tag on a topic whose matching
 * messages are all deletes (ACR's delete names no tag). A topic the bridge does not publish to by
 * action (a replay's own target) is not judged.
 */
export function unreachableOptions(topic: string, asked: AskedFor, bridge: BridgeTopics): string[] {
  if (topic === bridge.discrepancyTopic) {
    return [
      ...(asked.kinds.length > 0 ? [`--kind: findings on ${topic} carry no artifactKind`] : []),
      ...(asked.tagged ? [`--tagged: findings on ${topic} carry no tagged`] : []),
    ];
  }
  const routes = Object.entries(bridge.routing);
  const here = new Set(
    routes.filter(([, route]) => route.topic === topic).map(([action]) => action),
  );
  if (here.size === 0) return [];
  const elsewhere = asked.actions
    .filter((action) => !here.has(action))
    .map((action) => {
      const other = routes.find(([routed]) => routed === action)?.[1].topic;
      return `--action ${action}: the bridge publishes ${action} to ${other}, not ${topic}`;
    });
  const matched =
    asked.actions.length > 0 ? asked.actions.filter((action) => here.has(action)) : [...here];
  const onlyDeletes = matched.length > 0 && matched.every((action) => action === "delete");
  return [
    ...elsewhere,
    ...(onlyDeletes && asked.tags
      ? [
          "--tag: deletes carry no tag property (the tags last pushed for the digest are in tags, comma-separated)",
        ]
      : []),
    ...(onlyDeletes && asked.tagged ? ["--tagged: deletes carry tagged = 'false'"] : []),
  ];
}
