import { describe, expect, it } from "vitest";
import {
  anyScopeMatches,
  parseScope,
  parseScopeList,
  type Scope,
  type ScopedTarget,
  scopeMatches,
} from "../../src/core/scope";
import { scopeOf } from "../support/scopes";

/** The scopes of a list that must be valid. */
function scopesOf(text: string | undefined): Scope[] {
  const scopes = parseScopeList(text);
  if (!scopes.ok) throw new Error(scopes.failure);
  return scopes.value;
}

describe("parseScope", () => {
  it.each<[string, Scope]>([
    ["", { kind: "everything" }],
    ["   ", { kind: "everything" }],
    ["hello-world:v1", { kind: "tag", repository: "hello-world", tag: "v1" }],
    ["hello-world:*", { kind: "repository", repository: "hello-world" }],
    ["hello-world", { kind: "tag", repository: "hello-world", tag: "latest" }],
    [" hello-world:v1 ", { kind: "tag", repository: "hello-world", tag: "v1" }],
    ["samples/hello-world:1.0", { kind: "tag", repository: "samples/hello-world", tag: "1.0" }],
    ["team.a/app_x/web-1:*", { kind: "repository", repository: "team.a/app_x/web-1" }],
    ["library/nginx", { kind: "tag", repository: "library/nginx", tag: "latest" }],
    ["helm/wordpress:5.4.0", { kind: "tag", repository: "helm/wordpress", tag: "5.4.0" }],
    ["Team/App:V_1", { kind: "tag", repository: "Team/App", tag: "V_1" }],
  ])("%j parses to %j", (text, scope) => {
    expect(parseScope(text)).toEqual({ ok: true, value: scope });
  });

  // A scope outside ACR's syntax would match no event at all: every one is refused, with why.
  it.each<[string, string, RegExp]>([
    ["a wildcard repository", "*", /repository must not contain '\*'/],
    ["a wildcard repository and tag", "*:*", /repository must not contain '\*'/],
    ["a repository glob", "samples/*", /repository must not contain '\*'/],
    ["a partial tag wildcard", "repo:v*", /tag must be '\*' or a tag/],
    ["whitespace", "a b:c d", /repository must be a repository name/],
    ["whitespace in the tag", "repo:c d", /tag must be '\*' or a tag/],
    ["no repository", ":v1", /names no repository/],
    ["no tag", "repo:", /tag must be '\*' or a tag/],
    ["two colons", "a:b:c", /repository must not contain .*':'/],
    ["a registry host with a port", "myregistry.azurecr.io:443/repo:v1", /':'/],
    ["'#'", "repo#1:v1", /repository must be a repository name/],
    ["'%'", "repo%20x", /repository must be a repository name/],
    ["a tag too long", `repo:${"v".repeat(129)}`, /tag must be '\*' or a tag/],
    ["a tag starting with '.'", "repo:.v1", /tag must be '\*' or a tag/],
    ["a control character", "repo\u0007:v1", /control characters/],
  ])("refuses %s (%j), saying why", (_name, text, why) => {
    const parsed = parseScope(text);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.failure).toContain(JSON.stringify(text.trim()));
    expect(parsed.failure).toMatch(why);
  });
});

describe("scopeMatches: ACR scope semantics", () => {
  const cases: [string, ScopedTarget, boolean][] = [
    // repo:tag is exact
    ["hello-world:v1", { repository: "hello-world", tag: "v1" }, true],
    ["hello-world:v1", { repository: "hello-world", tag: "v2" }, false],
    ["hello-world:v1", { repository: "hello-world", tag: "V1" }, false],
    ["hello-world:v1", { repository: "hello-world", tag: "v1.0" }, false],
    ["hello-world:v1", { repository: "hello-world2", tag: "v1" }, false],
    ["hello-world:v1", { repository: "hello", tag: "v1" }, false],
    ["hello-world:v1", { repository: "hello-world" }, false],
    ["hello-world:v1", { repository: "hello-world", tag: "" }, false],
    // repo:* is any tag of that repository only
    ["repo:*", { repository: "repo", tag: "v1" }, true],
    ["repo:*", { repository: "repo", tag: "latest" }, true],
    ["repo:*", { repository: "repo" }, true],
    ["repo:*", { repository: "repo", tag: "" }, true],
    ["repo:*", { repository: "repo2", tag: "v1" }, false],
    ["repo:*", { repository: "repo/sub", tag: "v1" }, false],
    ["repo:*", { repository: "other/repo", tag: "v1" }, false],
    ["repo:*", { repository: "Repo", tag: "v1" }, false],
    ["repo:*", { tag: "v1" }, false],
    ["repo:*", {}, false],
    // bare repo is repo:latest
    ["repo", { repository: "repo", tag: "latest" }, true],
    ["repo", { repository: "repo", tag: "v1" }, false],
    ["repo", { repository: "repo" }, false],
    ["repo", { repository: "repo2", tag: "latest" }, false],
    // empty is everything, tagless events included
    ["", { repository: "anything/at/all", tag: "v9" }, true],
    ["", { repository: "repo" }, true],
    ["", {}, true],
    // repositories with '/' and registry-style names
    ["samples/hello-world:v1", { repository: "samples/hello-world", tag: "v1" }, true],
    ["samples/hello-world:v1", { repository: "hello-world", tag: "v1" }, false],
    ["samples/hello-world:*", { repository: "samples/hello-world", tag: "x" }, true],
    ["samples/hello-world:*", { repository: "samples/hello-world/extra", tag: "x" }, false],
    ["team.a/app_x/web-1:2.0.1", { repository: "team.a/app_x/web-1", tag: "2.0.1" }, true],
  ];

  it.each(cases)("scope %j, target %j -> %s", (text, target, expected) => {
    expect(scopeMatches(scopeOf(text), target)).toBe(expected);
  });

  it("a delete (no tag) matches only repo:* and the empty scope", () => {
    const deleteTarget = { repository: "hello-world" };
    const matching = ["hello-world:*", ""];
    const notMatching = ["hello-world", "hello-world:latest", "hello-world:v1"];
    for (const text of matching) expect(scopeMatches(scopeOf(text), deleteTarget)).toBe(true);
    for (const text of notMatching) {
      expect(scopeMatches(scopeOf(text), deleteTarget)).toBe(false);
    }
  });
});

describe("parseScopeList", () => {
  it.each<[string | undefined, Scope[]]>([
    [undefined, []],
    ["", []],
    [" , ,, ", []],
    ["repo:v1", [{ kind: "tag", repository: "repo", tag: "v1" }]],
    [
      "repo:v1,other:*",
      [
        { kind: "tag", repository: "repo", tag: "v1" },
        { kind: "repository", repository: "other" },
      ],
    ],
    [
      " repo:v1 , , other ,",
      [
        { kind: "tag", repository: "repo", tag: "v1" },
        { kind: "tag", repository: "other", tag: "latest" },
      ],
    ],
  ])("%j parses to %j", (text, scopes) => {
    expect(parseScopeList(text)).toEqual({ ok: true, value: scopes });
  });

  it("refuses a list with any entry outside the syntax, naming each such entry", () => {
    expect(parseScopeList("repo:v1, * ,other:*,a b")).toEqual({
      ok: false,
      failure: expect.stringMatching(/^scope "\*": .*; scope "a b": /),
    });
  });
});

describe("anyScopeMatches", () => {
  const cases: [string | undefined, ScopedTarget, boolean][] = [
    [undefined, { repository: "x", tag: "y" }, true],
    [undefined, {}, true],
    ["", { repository: "x" }, true],
    [" , ", { repository: "x", tag: "y" }, true],
    ["a:v1,b:*", { repository: "a", tag: "v1" }, true],
    ["a:v1,b:*", { repository: "b", tag: "anything" }, true],
    ["a:v1,b:*", { repository: "b" }, true],
    ["a:v1,b:*", { repository: "a", tag: "v2" }, false],
    ["a:v1,b:*", { repository: "a" }, false],
    ["a:v1,b:*", { repository: "c", tag: "v1" }, false],
    ["a:v1,,b", { repository: "b", tag: "latest" }, true],
    ["a:v1,,b", { repository: "b", tag: "v1" }, false],
  ];

  it.each(cases)("list %j, target %j -> %s", (text, target, expected) => {
    expect(anyScopeMatches(scopesOf(text), target)).toBe(expected);
  });
});
