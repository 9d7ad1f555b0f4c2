import type { RegisteredFunction } from "./functionsCoreStandIn";

/**
 * The functions an app setting disables, as on Azure: `AzureWebJobs.<name>.Disabled` (or its
 * hierarchical spelling `AzureWebJobs__<name>__Disabled`) set to `true` or `1`. The host does not
 * trigger them (no route, no schedule, no receiver); `POST /admin/functions/<name>` still runs
 * them, as a call with the master key does on Azure.
 */
export function disabledFunctions(
  functions: readonly RegisteredFunction[],
  env: NodeJS.ProcessEnv,
): ReadonlySet<RegisteredFunction> {
  const disabledNames = new Set<string>();
  for (const [name, value] of Object.entries(env)) {
    const match = DISABLED_SETTING.exec(name);
    if (match?.[1] && /^(true|1)$/i.test(value?.trim() ?? "")) {
      disabledNames.add(match[1].toLowerCase());
    }
  }
  return new Set(functions.filter((fn) => disabledNames.has(fn.name.toLowerCase())));
}

const DISABLED_SETTING = /^AzureWebJobs(?:\.|__)(.+?)(?:\.|__)Disabled$/i;
