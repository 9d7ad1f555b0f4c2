import type { RegisteredFunction } from "./functionsCoreStandIn";
import type { FunctionsHost } from "./functionsHost";
import { routePath } from "./httpRoutes";

/** One line per function, as `func start` lists them. */
export function describeFunction(fn: RegisteredFunction, host: FunctionsHost): string {
  switch (fn.triggerType.toLowerCase()) {
    case "httptrigger": {
      const methods = fn.methods?.length ? fn.methods.join(",") : "ALL";
      return `${fn.name}: [${methods}] ${host.url}${routePath(fn)}`;
    }
    case "eventgridtrigger":
      return `${fn.name}: eventGridTrigger, POST ${host.url}/runtime/webhooks/EventGrid?functionName=${encodeURIComponent(fn.name)}`;
    case "timertrigger":
      return `${fn.name}: timerTrigger (${fn.schedule})`;
    case "servicebustrigger": {
      const binding = fn.metadata.bindings[fn.triggerBindingName] ?? {};
      const entity =
        binding.queueName ?? `${binding.topicName}/Subscriptions/${binding.subscriptionName}`;
      return `${fn.name}: serviceBusTrigger (${entity})`;
    }
    default:
      return `${fn.name}: ${fn.triggerType}`;
  }
}
