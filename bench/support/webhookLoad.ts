import { randomBytes } from "node:crypto";
import { Agent, request } from "node:http";
import { type SampleAction, samplePayload } from "../../dev/samplePayloads";

export const BENCH_SECRET = "bench-secret-5c1e";
const REQUEST_TIMEOUT_MS = 10_000;
/**
 * Idle sockets are dropped after 4 s, before the host's server closes them (Node's default
 * keep-alive timeout, 5 s): after a backlog, hundreds of sockets fall idle at once, and reusing
 * one the server is closing fails the request before the host ever sees it.
 */
const agent = new Agent({ keepAlive: true, maxSockets: 1024, timeout: 4_000 });

/**
 * A realistic payload with a unique id, digest and tag, so every delivery is its own event,
 * logical event and message; 25 repositories in turn.
 */
export function benchPayload(index: number, action: SampleAction): Record<string, unknown> {
  const digest = `sha256:${randomBytes(32).toString("hex")}`;
  return samplePayload(action, {
    repository: action.startsWith("chart") ? `charts/app${index % 25}` : `team${index % 25}/api`,
    tag: action.startsWith("chart") ? `app${index % 25}-1.${index}.0.tgz` : `v1.${index}`,
    digest,
  });
}

/**
 * POSTs a webhook as ACR does (bearer secret, JSON) on a kept-alive connection. Resolves with the
 * status code as text, or what went wrong (`timeout`, `ECONNREFUSED`, …); never rejects.
 */
export async function postWebhook(url: string, body: string): Promise<string> {
  const first = await postOnce(url, body);
  // A kept-alive connection the server closed as idle just as it was reused: the request never
  // reached the host, so it is sent again (Node's documented remedy).
  return first === REUSED_SOCKET_RESET ? postOnce(url, body) : first;
}

const REUSED_SOCKET_RESET = "reused socket reset";

function postOnce(url: string, body: string): Promise<string> {
  return new Promise((resolve) => {
    const outgoing = request(
      url,
      {
        method: "POST",
        agent,
        headers: {
          authorization: `Bearer ${BENCH_SECRET}`,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
        },
        timeout: REQUEST_TIMEOUT_MS,
      },
      (response) => {
        response.resume();
        response.once("end", () => resolve(String(response.statusCode)));
        response.once("error", (error) => resolve(errorName(error)));
      },
    );
    outgoing.once("timeout", () =>
      outgoing.destroy(Object.assign(new Error("timeout"), { code: "timeout" })),
    );
    outgoing.once("error", (error) => {
      const code = errorName(error);
      resolve(code === "ECONNRESET" && outgoing.reusedSocket ? REUSED_SOCKET_RESET : code);
    });
    outgoing.end(body);
  });
}

function errorName(error: Error): string {
  return (error as { code?: string }).code ?? error.name;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/** The value at percentile `p` of ascending `sorted` (nearest rank). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}
