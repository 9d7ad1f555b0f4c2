import { createHash, randomUUID } from "node:crypto";

export const SAMPLE_ACTIONS = [
  "push",
  "delete",
  "chart_push",
  "chart_delete",
  "quarantine",
  "ping",
] as const;
export type SampleAction = (typeof SAMPLE_ACTIONS)[number];

export interface SampleOptions {
  repository?: string;
  tag?: string;
  digest?: string;
  host?: string;
}

/** ACR timestamps carry 7 to 9 fractional digits; JS dates stop at 3. */
function acrTimestamp(): string {
  const nanos = String(process.hrtime.bigint() % 1_000_000n).padStart(6, "0");
  return new Date().toISOString().replace("Z", `${nanos}Z`);
}

/** A payload shaped like what ACR sends for `action`, as its webhook reference documents it. */
export function samplePayload(
  action: SampleAction,
  options: SampleOptions = {},
): Record<string, unknown> {
  if (action === "ping") return { id: randomUUID(), timestamp: acrTimestamp(), action: "ping" };
  const repository = options.repository ?? (action.startsWith("chart") ? "charts" : "hello-world");
  const tag = options.tag ?? (action.startsWith("chart") ? "wordpress-5.4.0.tgz" : "v1");
  const digest =
    options.digest ?? `sha256:${createHash("sha256").update(`${repository}:${tag}`).digest("hex")}`;
  const request = {
    id: randomUUID(),
    host: options.host ?? "myregistry.azurecr.io",
    method: action === "delete" ? "DELETE" : "PUT",
    useragent: "docker/24.0.7 go/go1.20.10 git-commit/311b9ff kernel/6.5.0 os/linux arch/amd64",
  };
  const base = { id: randomUUID(), timestamp: acrTimestamp(), action };
  switch (action) {
    case "push":
    case "quarantine":
      return {
        ...base,
        target: {
          mediaType: "application/vnd.docker.distribution.manifest.v2+json",
          size: 524,
          digest,
          length: 524,
          repository,
          tag,
        },
        request,
      };
    case "delete":
      return {
        ...base,
        target: {
          mediaType: "application/vnd.docker.distribution.manifest.v2+json",
          digest,
          repository,
        },
        request,
      };
    case "chart_push":
    case "chart_delete": {
      const [name, version] = splitChartTag(tag);
      return {
        ...base,
        target: {
          mediaType: "application/vnd.acr.helm.chart",
          size: 25265,
          digest,
          repository,
          tag,
          name,
          version,
        },
      };
    }
  }
}

function splitChartTag(tag: string): [string, string] {
  const match = /^(.*?)-(\d.*)$/.exec(tag);
  return match ? [match[1], match[2]] : [tag, ""];
}
