import { describe, expect, it } from "vitest";
import {
  type ArtifactKind,
  artifactTypeOf,
  type ClassificationInput,
  classifyArtifact,
  patchBaseTag,
} from "../../src/core/artifactKind";
import { eventAttributes } from "../../src/core/registryEvent";

const HEX = "3b1a4c6e".repeat(8);
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";

const cases: [string, ClassificationInput, ArtifactKind, "true" | "false"][] = [
  // Multi-arch: the index is tagged, its children arrive digest-only with an empty or missing tag.
  [
    "OCI image index, tagged",
    { action: "push", tag: "v1.4.0", mediaType: OCI_INDEX },
    "index",
    "true",
  ],
  [
    "Docker manifest list",
    { action: "push", tag: "latest", mediaType: DOCKER_LIST },
    "index",
    "true",
  ],
  [
    "child of a multi-arch push (empty tag)",
    { action: "push", tag: "", mediaType: OCI_MANIFEST },
    "image",
    "false",
  ],
  [
    "digest-only OCI manifest (no tag field), as a referrer without artifact type arrives",
    { action: "push", mediaType: OCI_MANIFEST },
    "image",
    "false",
  ],
  ["Docker v2 image", { action: "push", tag: "v1", mediaType: DOCKER_MANIFEST }, "image", "true"],
  ["delete of an index", { action: "delete", mediaType: OCI_INDEX }, "index", "false"],
  // cosign's tag fallback: the manifest types say nothing, the tag does.
  [
    "cosign signature",
    { action: "push", tag: `sha256-${HEX}.sig`, mediaType: OCI_MANIFEST },
    "signature",
    "true",
  ],
  [
    "cosign attestation",
    { action: "push", tag: `sha256-${HEX}.att`, mediaType: OCI_MANIFEST },
    "attestation",
    "true",
  ],
  [
    "cosign SBOM",
    { action: "push", tag: `sha256-${HEX}.sbom`, mediaType: DOCKER_MANIFEST },
    "sbom",
    "true",
  ],
  [
    "a tag that only looks like cosign's",
    { action: "push", tag: "sha256-abc.sig", mediaType: OCI_MANIFEST },
    "image",
    "true",
  ],
  // OCI 1.1 referrers arrive digest-only; a payload carrying the artifact type is classified by it.
  [
    "notation signature with artifact type",
    {
      action: "push",
      mediaType: OCI_MANIFEST,
      artifactType: "application/vnd.cncf.notary.signature",
    },
    "signature",
    "false",
  ],
  [
    "SPDX SBOM with artifact type",
    { action: "push", mediaType: OCI_MANIFEST, artifactType: "application/spdx+json" },
    "sbom",
    "false",
  ],
  [
    "in-toto attestation with artifact type",
    { action: "push", mediaType: OCI_MANIFEST, artifactType: "application/vnd.in-toto+json" },
    "attestation",
    "false",
  ],
  // Helm: chart actions always; Helm over OCI arrives as a plain push with an OCI manifest.
  ["chart_push", { action: "chart_push", tag: "" }, "helm-chart", "false"],
  ["chart_delete", { action: "chart_delete" }, "helm-chart", "false"],
  [
    "Helm over OCI (no config type in a webhook)",
    { action: "push", tag: "0.1.0", mediaType: OCI_MANIFEST },
    "image",
    "true",
  ],
  [
    "Helm over OCI with a config type",
    {
      action: "push",
      tag: "0.1.0",
      mediaType: OCI_MANIFEST,
      artifactType: "application/vnd.cncf.helm.config.v1+json",
    },
    "helm-chart",
    "true",
  ],
  // Continuous Patching: the suffix counts only when the base tag was seen.
  [
    "patch tag whose base was seen",
    { action: "push", tag: "1.25.3-1", mediaType: OCI_MANIFEST, baseTagSeen: true },
    "patch",
    "true",
  ],
  [
    "floating patch tag whose base was seen",
    { action: "push", tag: "v2-patched", mediaType: DOCKER_MANIFEST, baseTagSeen: true },
    "patch",
    "true",
  ],
  [
    "suffix without a seen base tag",
    { action: "push", tag: "1.25.3-1", mediaType: OCI_MANIFEST },
    "image",
    "true",
  ],
  [
    "suffix 1000 is not a patch",
    { action: "push", tag: "v1-1000", mediaType: OCI_MANIFEST, baseTagSeen: true },
    "image",
    "true",
  ],
  [
    "patched multi-arch index stays an index",
    { action: "push", tag: "v1-2", mediaType: OCI_INDEX, baseTagSeen: true },
    "index",
    "true",
  ],
  // What no rule recognises.
  ["ping", { action: "ping" }, "unknown", "false"],
  [
    "ORAS artifact manifest",
    { action: "push", tag: "t", mediaType: "application/vnd.oci.artifact.manifest.v1+json" },
    "unknown",
    "true",
  ],
  ["no media type", { action: "quarantine", tag: "v1" }, "unknown", "true"],
];

describe("classifyArtifact", () => {
  it.each(cases)("%s", (_name, input, artifactKind, tagged) => {
    expect(classifyArtifact(input)).toEqual({ artifactKind, tagged });
  });
});

describe("patchBaseTag", () => {
  it.each([
    ["1.25.3-1", "1.25.3"],
    ["v1-999", "v1"],
    ["v1-patched", "v1"],
    ["v1-0", undefined],
    ["v1-1000", undefined],
    ["v1", undefined],
    ["", undefined],
    [undefined, undefined],
  ])("%s -> %s", (tag, base) => {
    expect(patchBaseTag(tag)).toBe(base);
  });
});

describe("artifactTypeOf", () => {
  it("reads target.artifactType, then target.config.mediaType, and nothing else", () => {
    expect(artifactTypeOf({ target: { artifactType: "application/spdx+json" } })).toBe(
      "application/spdx+json",
    );
    expect(
      artifactTypeOf({
        target: { config: { mediaType: "application/vnd.cncf.helm.config.v1+json" } },
      }),
    ).toBe("application/vnd.cncf.helm.config.v1+json");
    expect(artifactTypeOf({ target: { artifactType: 3, config: null } })).toBeUndefined();
    expect(artifactTypeOf({ target: "x" })).toBeUndefined();
    expect(artifactTypeOf(undefined)).toBeUndefined();
  });
});

describe("eventAttributes: classification with the event's fields", () => {
  const event = {
    action: "push",
    registry: "r.azurecr.io",
    repository: "charts/api",
    tag: "0.1.0",
    mediaType: OCI_MANIFEST,
    origin: "webhook" as const,
  };

  it("derives the kind from the event, its payload's artifact type included", () => {
    expect(eventAttributes(event)).toMatchObject({ artifactKind: "image", tagged: "true" });
    const payload = {
      target: { config: { mediaType: "application/vnd.cncf.helm.config.v1+json" } },
    };
    expect(eventAttributes({ ...event, payload })).toMatchObject({ artifactKind: "helm-chart" });
  });

  it("keeps a kind already decided (a patch, or a recorded delivery's)", () => {
    expect(eventAttributes({ ...event, artifactKind: "patch" })).toMatchObject({
      artifactKind: "patch",
      tagged: "true",
    });
  });
});
