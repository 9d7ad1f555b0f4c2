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
}

/**
 * The options that select what the bridge never sends to `topic`: an action it publishes to
 * another topic, or properties the findings do not carry. A topic the bridge does not publish
 * to by action (a replay's own target) is not judged.
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
  return asked.actions
    .filter((action) => !here.has(action))
    .map((action) => {
      const elsewhere = routes.find(([routed]) => routed === action)?.[1].topic;
      return `--action ${action}: the bridge publishes ${action} to ${elsewhere}, not ${topic}`;
    });
}
