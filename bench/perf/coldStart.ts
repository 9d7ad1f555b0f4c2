import { benchPayload, median, postWebhook, sleep } from "../support/webhookLoad";
import type { AppName, BenchStack } from "./stack";

export interface ColdStartFigures {
  bridgeMs: number[];
  naiveMs: number[];
  bridgeMedianMs: number;
  naiveMedianMs: number;
}

const GIVE_UP_MS = 30_000;

/**
 * Spawn of a fresh host process to the first 200 of a real delivery, `spawns` times per app,
 * alternating which app goes first. The delivery is retried every 5 ms while nothing listens.
 */
export async function measureColdStarts(
  stack: BenchStack,
  spawns: number,
): Promise<ColdStartFigures> {
  const times: Record<AppName, number[]> = { bridge: [], naive: [] };
  for (let round = 0; round < spawns; round++) {
    const order: AppName[] = round % 2 === 0 ? ["naive", "bridge"] : ["bridge", "naive"];
    for (const app of order) times[app].push(await coldStart(stack, app));
  }
  return {
    bridgeMs: times.bridge,
    naiveMs: times.naive,
    bridgeMedianMs: median(times.bridge),
    naiveMedianMs: median(times.naive),
  };
}

async function coldStart(stack: BenchStack, app: AppName): Promise<number> {
  const body = JSON.stringify(benchPayload(0, "push"));
  const running = await stack.spawnApp(app);
  try {
    for (;;) {
      const status = await postWebhook(running.webhookUrl, body);
      if (status === "200") return performance.now() - running.host.spawnedAt;
      if (status !== "ECONNREFUSED" && status !== "ECONNRESET") {
        throw new Error(`${app}: the first delivery after spawn got ${status}`);
      }
      if (performance.now() - running.host.spawnedAt > GIVE_UP_MS) {
        throw new Error(
          `${app}: no answer ${GIVE_UP_MS} ms after spawn:\n${running.host.recentOutput()}`,
        );
      }
      await sleep(5);
    }
  } finally {
    await running.stop();
  }
}
