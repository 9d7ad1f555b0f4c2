/**
 * What a registry event is about, for subscribers that want "released images" and not every
 * manifest a push produces. A webhook names only the manifest's media type and tag: it carries
 * no artifact type and no config media type, so the kind is read from media types and tag
 * conventions, and its limits are those of the conventions (see README, "Artifact kinds").
 */
export const ARTIFACT_KINDS = [
  "image",
  "index",
  "signature",
  "attestation",
  "sbom",
  "helm-chart",
  "patch",
  "unknown",
] as const;

export type ArtifactKind = (typeof ARTIFACT_KINDS)[number];

export interface ArtifactClassification {
  artifactKind: ArtifactKind;
  /** `"true"` when the event carries a non-empty tag; a string, as message properties are. */
  tagged: "true" | "false";
}

export interface ClassificationInput {
  action: string;
  tag?: string;
  mediaType?: string;
  /**
   * An artifact type when a payload carries one (`target.artifactType` or
   * `target.config.mediaType`); ACR sends none today, so this only sharpens future payloads.
   */
  artifactType?: string;
  /** Whether the tag a patch tag is derived from was seen before (see `patchBaseTag`). */
  baseTagSeen?: boolean;
}

/** Multi-arch manifests: the OCI image index and the Docker manifest list. */
const INDEX_MEDIA_TYPES = new Set([
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
]);

/** Single-platform manifests (OCI, Docker v2 schema 2 and the legacy schema 1). */
const IMAGE_MEDIA_TYPES = new Set([
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v1+prettyjws",
]);

/** cosign's fallback tags when a registry has no referrers API: `sha256-<hex>.sig|.att|.sbom`. */
const COSIGN_TAG = /^sha256-[0-9a-f]{64}\.(sig|att|sbom)$/;
const COSIGN_SUFFIX_KIND = { sig: "signature", att: "attestation", sbom: "sbom" } as const;

/** Artifact types of OCI 1.1 referrers and Helm charts, for payloads that carry one. */
const ARTIFACT_TYPE_KINDS: [RegExp, ArtifactKind][] = [
  [/^application\/vnd\.cncf\.helm\.config\.v1\+json$/, "helm-chart"],
  [/^application\/vnd\.dev\.cosign\.artifact\.sig\.v1\+json$/, "signature"],
  [/^application\/vnd\.cncf\.notary\.signature$/, "signature"],
  [/^application\/vnd\.in-toto\+json$/, "attestation"],
  [/^application\/vnd\.dev\.sigstore\.bundle(\.v[0-9.]+)?\+json/, "attestation"],
  [/^application\/(spdx\+json|vnd\.cyclonedx\+json|vnd\.syft\+json)$/, "sbom"],
];

/**
 * ACR Continuous Patching tags a patched image `<tag>-1` .. `<tag>-999` (incremental) or
 * `<tag>-patched` (floating). `1.25-1` is just as common as an ordinary release tag, so the suffix
 * alone proves nothing: it is a patch only when `<tag>` itself was seen in the repository.
 */
const PATCH_TAG = /^(.+)-([1-9][0-9]{0,2}|patched)$/;

/** The tag a patch tag would have been derived from, or undefined when the tag has no patch suffix. */
export function patchBaseTag(tag: string | undefined): string | undefined {
  return tag ? PATCH_TAG.exec(tag)?.[1] : undefined;
}

export function classifyArtifact(input: ClassificationInput): ArtifactClassification {
  return { artifactKind: artifactKindOf(input), tagged: input.tag ? "true" : "false" };
}

function artifactKindOf({
  action,
  tag,
  mediaType,
  artifactType,
  baseTagSeen,
}: ClassificationInput): ArtifactKind {
  if (action === "chart_push" || action === "chart_delete") return "helm-chart";
  const cosign = tag === undefined ? null : COSIGN_TAG.exec(tag);
  if (cosign) return COSIGN_SUFFIX_KIND[cosign[1] as keyof typeof COSIGN_SUFFIX_KIND];
  if (artifactType !== undefined) {
    const known = ARTIFACT_TYPE_KINDS.find(([pattern]) => pattern.test(artifactType));
    if (known) return known[1];
  }
  if (mediaType !== undefined && INDEX_MEDIA_TYPES.has(mediaType)) return "index";
  if (mediaType !== undefined && IMAGE_MEDIA_TYPES.has(mediaType)) {
    return baseTagSeen === true && patchBaseTag(tag) !== undefined ? "patch" : "image";
  }
  return "unknown";
}

/** The artifact type a payload's target carries, if any (an unknown field ACR may add). */
export function artifactTypeOf(payload: Record<string, unknown> | undefined): string | undefined {
  const target = payload?.target;
  if (typeof target !== "object" || target === null) return undefined;
  const { artifactType, config } = target as { artifactType?: unknown; config?: unknown };
  if (typeof artifactType === "string" && artifactType !== "") return artifactType;
  const configType = (config as { mediaType?: unknown } | null | undefined)?.mediaType;
  return typeof configType === "string" && configType !== "" ? configType : undefined;
}
