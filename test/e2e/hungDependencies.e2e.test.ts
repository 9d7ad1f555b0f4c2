import { afterEach, describe, expect, it } from "vitest";
import { type LocalStack, startLocalStack } from "../support/localStack";

/**
 * Dependencies that hang instead of refusing: the host's connections to them stay open and get
 * no answer. Each call must still end by the bridge's own timeouts.
 */
let stack: LocalStack | undefined;

async function start(): Promise<LocalStack> {
  stack = await startLocalStack({ stallable: true });
  return stack;
}

afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

describe("hung dependencies: every answer still comes", () => {
  it("health answers 503 naming Table Storage while storage hangs", async () => {
    const s = await start();
    expect((await fetch(`${s.url}/api/health`)).status).toBe(200);
    s.stall("tables");
    const health = await fetch(`${s.url}/api/health`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({
      error: { details: { checks: { tableStorage: "unavailable", serviceBus: "ok" } } },
    });
  });
});
