/**
 * Resolves the `%NAME%` app-setting expressions of a trigger option (a timer's schedule, a queue
 * name) as the host does when it starts; a setting that is not set stops the start.
 */
export function resolveSettingExpressions(
  declared: string,
  env: NodeJS.ProcessEnv,
  what: string,
): string {
  return declared.replace(/%([^%]+)%/g, (_, name: string) => {
    const value = env[name];
    if (value === undefined || value === "") {
      throw new Error(`${what} "${declared}" needs the app setting "${name}", which is not set.`);
    }
    return value;
  });
}
