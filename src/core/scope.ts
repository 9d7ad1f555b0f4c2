import { repositoryName, TAG_GRAMMAR, tagName } from "./acrWebhookPayload";
import type { Result } from "./result";

/**
 * ACR webhook scope syntax (`az acr webhook create --scope`):
 * `repo:tag` one tag, `repo:*` every tag of repo, bare `repo` means `repo:latest`, empty means
 * every event. Only the tag may be a wildcard, and only as a whole.
 * https://learn.microsoft.com/cli/azure/acr/webhook#az-acr-webhook-create
 */
export type Scope =
  | { kind: "everything" }
  | { kind: "repository"; repository: string }
  | { kind: "tag"; repository: string; tag: string };

/**
 * Besides what no repository name holds, a scope's repository holds no `*` (only the tag may be a
 * wildcard), no `:` (it separates the tag) and no `,` (it separates the scopes of a list).
 */
const NOT_IN_SCOPED_REPOSITORY = /[*:,]/;

/** A scope in ACR's syntax, or why it is not one (a scope that could match no event at all). */
export function parseScope(text: string): Result<Scope, string> {
  const scope = text.trim();
  if (scope === "") return { ok: true, value: { kind: "everything" } };
  // Repository names never contain ':'; a registry host with a port is not part of a scope.
  const separator = scope.lastIndexOf(":");
  const repository = separator < 0 ? scope : scope.slice(0, separator);
  const tag = separator < 0 ? "latest" : scope.slice(separator + 1);
  const problem = repositoryProblem(repository) ?? tagProblem(tag);
  if (problem !== undefined) {
    return { ok: false, failure: `scope ${JSON.stringify(scope)}: ${problem}` };
  }
  return {
    ok: true,
    value: tag === "*" ? { kind: "repository", repository } : { kind: "tag", repository, tag },
  };
}

function repositoryProblem(repository: string): string | undefined {
  if (repository === "") return "names no repository";
  const parsed = repositoryName.safeParse(repository);
  if (!parsed.success) {
    return `the repository ${parsed.error.issues.map((issue) => issue.message).join("; ")}`;
  }
  if (NOT_IN_SCOPED_REPOSITORY.test(repository)) {
    return "the repository must not contain '*', ':' or ',' (only the whole tag may be a wildcard: repo:*)";
  }
  return undefined;
}

function tagProblem(tag: string): string | undefined {
  if (tag === "*") return undefined;
  return tag !== "" && tagName.safeParse(tag).success
    ? undefined
    : `the tag must be '*' or a tag: ${TAG_GRAMMAR}`;
}

export interface ScopedTarget {
  repository?: string;
  tag?: string;
}

/**
 * An event without a tag (every `delete`, digest-only pushes) can only match a scope that does not
 * name a tag: ACR cannot tell which tag it concerned.
 */
export function scopeMatches(scope: Scope, target: ScopedTarget): boolean {
  switch (scope.kind) {
    case "everything":
      return true;
    case "repository":
      return target.repository === scope.repository;
    case "tag":
      return target.repository === scope.repository && target.tag === scope.tag;
  }
}

/** A list of scopes (comma-separated in settings) matches when any one does; none means all. */
export function anyScopeMatches(scopes: readonly Scope[], target: ScopedTarget): boolean {
  return scopes.length === 0 || scopes.some((scope) => scopeMatches(scope, target));
}

/** A comma-separated list of scopes (empty entries skipped), or why some entries are not scopes. */
export function parseScopeList(text: string | undefined): Result<Scope[], string> {
  const parsed = (text ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "")
    .map(parseScope);
  const failures = parsed.flatMap((scope) => (scope.ok ? [] : [scope.failure]));
  if (failures.length > 0) return { ok: false, failure: failures.join("; ") };
  return { ok: true, value: parsed.flatMap((scope) => (scope.ok ? [scope.value] : [])) };
}
