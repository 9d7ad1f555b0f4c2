import { validateAcrWebhookPayload } from "../core/acrWebhookPayload";
import type { PublishableAction } from "../core/actions";
import { type Discrepancy, discrepancyMessage } from "../core/discrepancy";
import { registryEventFromWebhook } from "../core/registryEvent";
import { replayedMessage } from "../core/replay";
import { type SilenceFinding, silenceMessage } from "../core/sourceSilence";
import { type TopicMessage, topicMessageFor } from "../core/topicMessage";
import {
  missingPingProblem,
  type WebhookHealth,
  webhookHealthMessage,
  webhookMissingMessage,
} from "../core/webhookHealth";

/** A message of the catalog, built by the code that builds the real ones. */
export interface CatalogExample {
  name: string;
  summary: string;
  message: TopicMessage;
}

const REGISTRY = "myregistry.azurecr.io";
const INDEX_DIGEST = "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270";
const CHILD_DIGEST = "sha256:e2e16842c9b54d985bf1ef9242a313f36b856181f188de21313820e177002501";

function webhookMessage(payload: unknown, tags: string[] = []): TopicMessage {
  const validation = validateAcrWebhookPayload(payload);
  if (!validation.ok) throw new Error(`catalog example: ${JSON.stringify(validation.failure)}`);
  const event = registryEventFromWebhook(validation.value, {
    registry: REGISTRY,
    region: "westeurope",
    receivedAt: 0,
    fallbackEventId: "unused",
  });
  return topicMessageFor(event, tags);
}

const request = {
  id: "3cbb6949-7549-4fa1-b4c3-a6d5451dffc7",
  host: REGISTRY,
  method: "PUT",
  useragent: "containerd/2.0.2+unknown",
};

/** A chart as the deprecated `az acr helm` path reports it. */
const chartTarget = {
  mediaType: "application/vnd.acr.helm.chart",
  size: 25265,
  digest: "sha256:2a8e8075264b5ba7c14c23672f5c52ae6a3ebac1c47916e4efe19cd624d3fa11",
  repository: "repo",
  tag: "wordpress-5.4.0.tgz",
  name: "wordpress",
  version: "5.4.0.tgz",
};

const indexPush = webhookMessage({
  id: "cb8c3971-9adc-488b-bd1c-43cbb4974ff5",
  timestamp: "2026-05-01T09:12:44.123456789Z",
  action: "push",
  target: {
    mediaType: "application/vnd.oci.image.index.v1+json",
    size: 1609,
    digest: INDEX_DIGEST,
    length: 1609,
    repository: "prod/api",
    tag: "v1.4.0",
  },
  request,
});

const examples: Record<PublishableAction, CatalogExample[]> = {
  push: [
    {
      name: "multi-arch-index",
      summary: "A multi-arch image pushed with its tag: the OCI image index (tagged = 'true').",
      message: indexPush,
    },
    {
      name: "multi-arch-child",
      summary: "One platform's manifest of the same push: digest only, no tag (tagged = 'false').",
      message: webhookMessage({
        id: "0d1f7e42-6c55-4c1e-9a57-52f3a8c9b0d1",
        timestamp: "2026-05-01T09:12:43.9876543Z",
        action: "push",
        target: {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          size: 1049,
          digest: CHILD_DIGEST,
          length: 1049,
          repository: "prod/api",
        },
        request,
      }),
    },
    {
      name: "cosign-signature",
      summary: "cosign's signature of the index, pushed under its sha256-<hex>.sig tag.",
      message: webhookMessage({
        id: "7a2b9c11-3d4e-4f50-8a6b-7c8d9e0f1a2b",
        timestamp: "2026-05-01T09:12:50.5Z",
        action: "push",
        target: {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          size: 556,
          digest: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
          repository: "prod/api",
          tag: `sha256-${INDEX_DIGEST.slice("sha256:".length)}.sig`,
        },
        request: { ...request, useragent: "cosign/v2.4.1 (linux; amd64)" },
      }),
    },
    {
      name: "replayed-push",
      summary:
        "The multi-arch index sent again by a replay job: the same CloudEvent, replayed = 'true', the job's id, and the original messageId (the CloudEvents id); its own Service Bus messageId.",
      message: replayedMessage(indexPush, "5f0c3e2a-8b1d-4c6e-9a7f-2d4b6c8e0a13"),
    },
  ],
  delete: [
    {
      name: "manifest-delete",
      summary:
        "A manifest deleted: no tag in ACR's payload; the tags last seen pushed are in tags.",
      message: webhookMessage(
        {
          id: "afc359ce-df7f-4e32-bdde-1ff8aa80927b",
          timestamp: "2026-05-02T18:58:46.7128233Z",
          action: "delete",
          target: {
            mediaType: "application/vnd.oci.image.index.v1+json",
            digest: INDEX_DIGEST,
            repository: "prod/api",
          },
          request: { ...request, method: "DELETE", useragent: "python-requests/2.31.0" },
        },
        ["v1.4.0", "latest"],
      ),
    },
  ],
  chart_push: [
    {
      name: "chart-push",
      summary:
        "A chart pushed with the deprecated az acr helm path: no request, so no login server in the payload.",
      message: webhookMessage({
        id: "6356e9e0-627f-4fed-a0a4-d9059b5143ac",
        timestamp: "2026-03-05T23:45:31.2614267Z",
        action: "chart_push",
        target: chartTarget,
      }),
    },
  ],
  chart_delete: [
    {
      name: "chart-delete",
      summary: "A chart version deleted.",
      message: webhookMessage({
        id: "338a3ef7-ad68-4128-8a29-e3d2d4d4e9f5",
        timestamp: "2026-03-05T23:48:12.0118491Z",
        action: "chart_delete",
        target: chartTarget,
      }),
    },
  ],
  quarantine: [
    {
      name: "quarantined-push",
      summary: "A push held in quarantine until a scanner passes it; its push follows then.",
      message: webhookMessage({
        id: "0d799b14-404b-4859-b2f6-50c5ee2a2c3a",
        timestamp: "2026-05-01T09:20:13.5461239Z",
        action: "quarantine",
        target: {
          mediaType: "application/vnd.docker.distribution.manifest.v2+json",
          size: 524,
          digest: CHILD_DIGEST,
          length: 524,
          repository: "prod/worker",
          tag: "v2",
        },
        request: { ...request, useragent: "docker/27.3.1 go/go1.22.7" },
      }),
    },
  ],
};

const finding: Discrepancy = {
  kind: "eventgrid-only",
  logicalKey: "4f9c2d7e1a3b5c6d8e0f1a2b3c4d5e6f",
  occurrence: 1,
  registry: REGISTRY,
  action: "push",
  repository: "prod/api",
  tag: "v1.4.0",
  digest: INDEX_DIGEST,
  detectedAt: Date.parse("2026-05-01T09:17:44.301Z"),
  webhookEventIds: [],
  eventGridEventIds: ["cb8c3971-9adc-488b-bd1c-43cbb4974ff5"],
  regions: ["westeurope"],
  recovered: true,
  state: "open",
};

export function actionExamples(action: PublishableAction): CatalogExample[] {
  return examples[action];
}

const unhealthy: WebhookHealth = {
  ref: {
    registryId:
      "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/registries/providers/Microsoft.ContainerRegistry/registries/myregistry",
    name: "bridgewesteurope",
  },
  healthy: false,
  problems: ["status is disabled", missingPingProblem(300_000)],
  since: Date.parse("2026-05-01T10:00:12.000Z"),
  checkedAt: Date.parse("2026-05-01T10:00:12.000Z"),
};

const silence: SilenceFinding = {
  kind: "webhook-silent",
  registry: REGISTRY,
  region: "westeurope",
  silentSince: Date.parse("2026-05-01T08:41:03.512Z"),
  openedAt: Date.parse("2026-05-01T09:15:00.020Z"),
};
const resolvedAt = Date.parse("2026-05-01T09:47:30.004Z");

/** Every message on the discrepancy topic: cross-check findings, and operational ones. */
export const discrepancyExamples: CatalogExample[] = [
  {
    name: "recovered-push",
    summary: "A push whose webhook never arrived, recovered from its Event Grid twin.",
    message: discrepancyMessage(finding),
  },
  {
    name: "webhook-unhealthy",
    summary: "A webhook disabled, whose ping never reached the bridge.",
    message: webhookHealthMessage(unhealthy),
  },
  {
    name: "webhook-healthy-again",
    summary: "The same webhook enabled again: the resolution.",
    message: webhookHealthMessage({
      ...unhealthy,
      healthy: true,
      problems: [],
      since: Date.parse("2026-05-01T10:30:12.000Z"),
    }),
  },
  {
    name: "webhook-missing",
    summary: "The registry's only webhook calling the bridge is disabled.",
    message: webhookMissingMessage(unhealthy.ref.registryId, {
      ...unhealthy,
      problems: [
        "no webhook calling this bridge is enabled with every expected action",
        "bridgewesteurope: status is disabled",
      ],
    }),
  },
  {
    name: "webhook-missing-resolved",
    summary: "The same webhook enabled again: a webhook delivers to the bridge, the resolution.",
    message: webhookMissingMessage(unhealthy.ref.registryId, {
      healthy: true,
      problems: [],
      since: Date.parse("2026-05-01T10:30:12.000Z"),
      checkedAt: Date.parse("2026-05-01T10:30:12.000Z"),
    }),
  },
  {
    name: "webhook-silent",
    summary: "Event Grid delivers for myregistry in westeurope; its webhook has been silent.",
    message: silenceMessage(silence),
  },
  {
    name: "webhook-silent-resolved",
    summary: "The webhook delivered again.",
    message: silenceMessage({ ...silence, resolvedAt }),
  },
  {
    name: "eventgrid-silent",
    summary:
      "The webhook delivers for a registry compared as a whole (no region); Event Grid has been silent.",
    message: silenceMessage({ ...silence, kind: "eventgrid-silent", region: undefined }),
  },
  {
    name: "eventgrid-silent-resolved",
    summary: "Event Grid delivered again.",
    message: silenceMessage({
      ...silence,
      kind: "eventgrid-silent",
      region: undefined,
      resolvedAt,
    }),
  },
];
