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

export function parseScope(text: string): Scope {
  const scope = text.trim();
  if (scope === "") return { kind: "everything" };
  // Repository names never contain ':'; a registry host with a port is not part of a scope.
  const separator = scope.lastIndexOf(":");
  if (separator < 0) return { kind: "tag", repository: scope, tag: "latest" };
  const repository = scope.slice(0, separator);
  const tag = scope.slice(separator + 1);
  return tag === "*" ? { kind: "repository", repository } : { kind: "tag", repository, tag };
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

export function parseScopeList(text: string | undefined): Scope[] {
  const entries = (text ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  return entries.map(parseScope);
}
