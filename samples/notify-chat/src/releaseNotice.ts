/**
 * Which topic messages become a chat post, and what the post says. Pure: no Service Bus, no HTTP.
 * The message is the bridge's (see the event catalog, docs/asyncapi.yaml): a CloudEvents envelope
 * whose `data` is ACR's payload, and application properties to decide on.
 */

export type ChatFormat = "teams" | "slack";

export interface NoticeSettings {
  format: ChatFormat;
  /** Post signatures, attestations and SBOMs too (off by default: they follow every release). */
  includeSignatures: boolean;
  /** Post messages a bridge replay sent again (off by default: each was posted when it first came). */
  includeReplays: boolean;
}

/** What the trigger hands over: the message body and its application properties. */
export interface TopicMessage {
  messageId: string;
  body: unknown;
  applicationProperties: Record<string, unknown>;
}

export interface Release {
  registry: string;
  repository: string;
  tag: string;
  digest?: string;
  artifactKind: string;
  time?: string;
}

export type Decision = { post: true; release: Release } | { post: false; reason: string };

const SIGNATURE_KINDS = new Set(["signature", "attestation", "sbom"]);
const RELEASE_KINDS = new Set(["image", "index", "patch", "helm-chart"]);

const text = (value: unknown): string | undefined =>
  typeof value === "string" && value !== "" ? value : undefined;

/** The CloudEvents envelope, whether the trigger parsed the JSON body or passed it as text. */
function envelope(body: unknown): Record<string, unknown> {
  const parsed =
    typeof body === "string" || Buffer.isBuffer(body) ? safeJson(body.toString()) : body;
  return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
}

function safeJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

/**
 * One post per released image: the tagged push of an image or of a multi-arch index. A
 * multi-arch push also sends each platform manifest untagged: those are skipped, so the index
 * stands for them all. Signatures, and the messages a replay sends again, are skipped unless asked
 * for.
 */
export function decide(message: TopicMessage, settings: NoticeSettings): Decision {
  const properties = message.applicationProperties;
  const action = text(properties.action);
  if (action !== "push") return { post: false, reason: `action ${action ?? "(none)"}` };
  if (properties.replayed === "true" && !settings.includeReplays) {
    return { post: false, reason: "replayed" };
  }
  const artifactKind = text(properties.artifactKind) ?? "unknown";
  const tag = text(properties.tag);
  if (properties.tagged !== "true" || tag === undefined) {
    return { post: false, reason: "untagged (a multi-arch child or a referrer)" };
  }
  const signature = SIGNATURE_KINDS.has(artifactKind);
  if (signature && !settings.includeSignatures) return { post: false, reason: artifactKind };
  if (!signature && !RELEASE_KINDS.has(artifactKind)) return { post: false, reason: artifactKind };
  const registry = text(properties.registry);
  const repository = text(properties.repository);
  if (registry === undefined || repository === undefined) {
    return { post: false, reason: "no registry or repository" };
  }
  return {
    post: true,
    release: {
      registry,
      repository,
      tag,
      digest: text(properties.digest),
      artifactKind,
      time: text(envelope(message.body).time),
    },
  };
}

const KIND_LABELS: Record<string, string> = {
  index: "multi-arch image",
  image: "image",
  patch: "patched image",
  "helm-chart": "Helm chart",
  signature: "signature",
  attestation: "attestation",
  sbom: "SBOM",
};

const reference = (release: Release) => `${release.registry}/${release.repository}:${release.tag}`;

function facts(release: Release): [string, string][] {
  const rows: [string, string][] = [
    ["Kind", KIND_LABELS[release.artifactKind] ?? release.artifactKind],
  ];
  if (release.digest) rows.push(["Digest", release.digest]);
  if (release.time) rows.push(["Pushed", release.time]);
  return rows;
}

/** Slack's incoming webhook: `text` for notifications, blocks for the message itself. */
function slackMessage(release: Release) {
  const title = `New ${KIND_LABELS[release.artifactKind] ?? release.artifactKind}: ${reference(release)}`;
  return {
    text: title,
    blocks: [
      { type: "section", text: { type: "mrkdwn", text: `*${title}*` } },
      {
        type: "section",
        fields: facts(release).map(([name, value]) => ({
          type: "mrkdwn",
          text: `*${name}*\n${value}`,
        })),
      },
      {
        type: "context",
        elements: [{ type: "mrkdwn", text: `\`docker pull ${reference(release)}\`` }],
      },
    ],
  };
}

/** A Teams incoming webhook (Workflows, or the older connectors): one Adaptive Card. */
function teamsMessage(release: Release) {
  return {
    type: "message",
    attachments: [
      {
        contentType: "application/vnd.microsoft.card.adaptive",
        content: {
          $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
          type: "AdaptiveCard",
          version: "1.4",
          body: [
            {
              type: "TextBlock",
              size: "Medium",
              weight: "Bolder",
              wrap: true,
              text: `New ${KIND_LABELS[release.artifactKind] ?? release.artifactKind}: ${reference(release)}`,
            },
            { type: "FactSet", facts: facts(release).map(([title, value]) => ({ title, value })) },
            {
              type: "TextBlock",
              wrap: true,
              fontType: "Monospace",
              text: `docker pull ${reference(release)}`,
            },
          ],
        },
      },
    ],
  };
}

export function chatMessage(release: Release, format: ChatFormat): object {
  return format === "slack" ? slackMessage(release) : teamsMessage(release);
}
