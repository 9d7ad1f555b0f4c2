import type { BridgeEndpoint } from "./localStack";

const REPORT_MARKER = "reconcile: {";

/**
 * Runs the `reconcile` timer `runs` times at once through the host's admin API (202 at once, as
 * the real host answers) and waits until each has logged its report.
 */
export async function runReconcile(stack: BridgeEndpoint, runs = 1): Promise<void> {
  const before = stack.output().split(REPORT_MARKER).length;
  const responses = await Promise.all(
    Array.from({ length: runs }, () =>
      fetch(`${stack.url}/admin/functions/reconcile`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ input: "" }),
      }),
    ),
  );
  for (const response of responses) {
    if (response.status !== 202) throw new Error(`admin invoke answered ${response.status}`);
  }
  // A run closing many windows of many registries takes seconds, more on a loaded machine.
  const deadline = Date.now() + 60_000;
  while (stack.output().split(REPORT_MARKER).length < before + runs) {
    if (Date.now() > deadline) {
      throw new Error(`reconcile did not report:\n${stack.output().slice(-3000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
