import type { BridgeEndpoint } from "./localStack";

/**
 * Runs a timer function once through the host's admin API and waits until it has logged the line
 * that starts with `marker` (its report), so the test sees what the run did.
 */
export async function runTimer(
  stack: BridgeEndpoint,
  name: string,
  marker: string,
): Promise<string> {
  const before = stack.output().split(marker).length;
  const response = await fetch(`${stack.url}/admin/functions/${name}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ input: "" }),
  });
  if (response.status !== 202)
    throw new Error(`admin invoke of ${name} answered ${response.status}`);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const parts = stack.output().split(marker);
    if (parts.length > before) return `${marker}${parts[before].split("\n")[0]}`;
    if (Date.now() > deadline)
      throw new Error(`${name} did not report:\n${stack.output().slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
