import { describe, expect, it } from "vitest";
import { chatMessage, decide, type NoticeSettings, type Release } from "../src/releaseNotice";

const DIGEST = "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270";
const teams: NoticeSettings = { format: "teams", includeSignatures: false, includeReplays: false };

/** A message as the bridge publishes it (see docs/asyncapi.yaml). */
function message(
  properties: Record<string, string>,
  body: unknown = { time: "2026-05-01T09:12:44.1234567Z" },
) {
  return {
    messageId: "4d6d0bd4dbd6d16d9423ea1dadc16ec1",
    body,
    applicationProperties: {
      action: "push",
      registry: "myregistry.azurecr.io",
      repository: "prod/api",
      origin: "webhook",
      ...properties,
    },
  };
}

describe("decide: one post per released image", () => {
  const multiArchPush = [
    message({ digest: "sha256:aa", artifactKind: "image", tagged: "false" }),
    message({ digest: "sha256:bb", artifactKind: "image", tagged: "false", tag: "" }),
    message({ digest: DIGEST, artifactKind: "index", tagged: "true", tag: "v1.4.0" }),
    message({
      digest: "sha256:cc",
      artifactKind: "signature",
      tagged: "true",
      tag: `sha256-${"5b0b".repeat(16)}.sig`,
    }),
  ];

  it("posts the index of a multi-arch push once, skipping its platform manifests and its signature", () => {
    const decisions = multiArchPush.map((each) => decide(each, teams));
    expect(decisions.filter((decision) => decision.post)).toEqual([
      {
        post: true,
        release: {
          registry: "myregistry.azurecr.io",
          repository: "prod/api",
          tag: "v1.4.0",
          digest: DIGEST,
          artifactKind: "index",
          time: "2026-05-01T09:12:44.1234567Z",
        },
      },
    ]);
    expect(decisions.map((decision) => !decision.post && decision.reason)).toEqual([
      "untagged (a multi-arch child or a referrer)",
      "untagged (a multi-arch child or a referrer)",
      false,
      "signature",
    ]);
  });

  it("does not post a message a replay sent again, unless asked to", () => {
    const replayed = message({
      digest: DIGEST,
      artifactKind: "index",
      tagged: "true",
      tag: "v1.4.0",
      replayed: "true",
      replayJobId: "job-1",
    });
    expect(decide(replayed, teams)).toEqual({ post: false, reason: "replayed" });
    expect(decide(replayed, { ...teams, includeReplays: true }).post).toBe(true);
  });

  it("posts signatures, attestations and SBOMs when asked to", () => {
    const withSignatures = { ...teams, includeSignatures: true };
    expect(decide(multiArchPush[3], withSignatures).post).toBe(true);
    expect(
      decide(
        message({ artifactKind: "sbom", tagged: "true", tag: "sha256-x.sbom" }),
        withSignatures,
      ).post,
    ).toBe(true);
  });

  it.each([
    ["a single-platform image", { artifactKind: "image", tagged: "true", tag: "v2" }, true],
    ["a patched image", { artifactKind: "patch", tagged: "true", tag: "v2-1" }, true],
    ["a delete", { action: "delete", artifactKind: "index", tagged: "false" }, false],
    [
      "a quarantined push",
      { action: "quarantine", artifactKind: "image", tagged: "true", tag: "v2" },
      false,
    ],
    ["an unknown artifact", { artifactKind: "unknown", tagged: "true", tag: "v2" }, false],
    ["a message without classification (older bridge)", { tag: "v2" }, false],
  ])("%s -> post: %s", (_name, properties, expected) => {
    expect(decide(message(properties), teams).post).toBe(expected);
  });

  it("reads the push time whether the trigger passed the body parsed, as text or as bytes", () => {
    const properties = { artifactKind: "image", tagged: "true", tag: "v2" };
    const envelope = { time: "2026-05-01T00:00:00Z" };
    for (const body of [
      envelope,
      JSON.stringify(envelope),
      Buffer.from(JSON.stringify(envelope)),
    ]) {
      const decision = decide(message(properties, body), teams);
      expect(decision.post && decision.release.time).toBe("2026-05-01T00:00:00Z");
    }
    const broken = decide(message(properties, "{not json"), teams);
    expect(broken.post && broken.release.time).toBeUndefined();
  });
});

describe("chatMessage", () => {
  const release: Release = {
    registry: "myregistry.azurecr.io",
    repository: "prod/api",
    tag: "v1.4.0",
    digest: DIGEST,
    artifactKind: "index",
    time: "2026-05-01T09:12:44Z",
  };

  it("is a Teams Adaptive Card naming the image, its digest and how to pull it", () => {
    expect(chatMessage(release, "teams")).toEqual({
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
                text: "New multi-arch image: myregistry.azurecr.io/prod/api:v1.4.0",
              },
              {
                type: "FactSet",
                facts: [
                  { title: "Kind", value: "multi-arch image" },
                  { title: "Digest", value: DIGEST },
                  { title: "Pushed", value: "2026-05-01T09:12:44Z" },
                ],
              },
              {
                type: "TextBlock",
                wrap: true,
                fontType: "Monospace",
                text: "docker pull myregistry.azurecr.io/prod/api:v1.4.0",
              },
            ],
          },
        },
      ],
    });
  });

  it("is a Slack message with a notification text and blocks", () => {
    expect(
      chatMessage(
        { ...release, digest: undefined, time: undefined, artifactKind: "image" },
        "slack",
      ),
    ).toEqual({
      text: "New image: myregistry.azurecr.io/prod/api:v1.4.0",
      blocks: [
        {
          type: "section",
          text: { type: "mrkdwn", text: "*New image: myregistry.azurecr.io/prod/api:v1.4.0*" },
        },
        { type: "section", fields: [{ type: "mrkdwn", text: "*Kind*\nimage" }] },
        {
          type: "context",
          elements: [
            { type: "mrkdwn", text: "`docker pull myregistry.azurecr.io/prod/api:v1.4.0`" },
          ],
        },
      ],
    });
  });
});
