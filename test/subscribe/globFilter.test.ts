import { describe, expect, it } from "vitest";
import { parseSqlFilter, sqlFilterMatches } from "../../dev/servicebus/sqlFilter";
import { type SubscriptionCriteria, sqlFilterFor } from "../../dev/subscribe/globFilter";

const none: SubscriptionCriteria = {
  repositories: [],
  tags: [],
  actions: [],
  kinds: [],
  tagged: false,
};

function sql(criteria: Partial<SubscriptionCriteria>): string {
  const result = sqlFilterFor({ ...none, ...criteria });
  if (!result.ok) throw new Error(result.failure.join("; "));
  return result.value;
}

describe("sqlFilterFor: globs to a Service Bus SQL filter", () => {
  it.each([
    [{}, "1=1"],
    [{ repositories: ["prod/*"] }, "repository LIKE 'prod/%'"],
    [{ repositories: ["prod/api"] }, "repository = 'prod/api'"],
    [{ tags: ["v?.*"] }, "tag LIKE 'v_.%'"],
    [{ tags: ["release_*"] }, "tag LIKE 'release~_%' ESCAPE '~'"],
    [
      { repositories: ["prod/*", "shared/base"], tags: ["v*"] },
      "(repository LIKE 'prod/%' OR repository = 'shared/base') AND tag LIKE 'v%'",
    ],
    [{ actions: ["push"] }, "action = 'push'"],
    [{ actions: ["push", "delete"] }, "action IN ('push', 'delete')"],
    [
      { repositories: ["prod/*"], tags: ["v*"], kinds: ["image", "index"], tagged: true },
      "repository LIKE 'prod/%' AND tag LIKE 'v%' AND artifactKind IN ('image', 'index') AND tagged = 'true'",
    ],
  ] as [Partial<SubscriptionCriteria>, string][])("%j -> %s", (criteria, expected) => {
    expect(sql(criteria)).toBe(expected);
  });

  it.each([
    [{ repositories: [""] }, "--repository must not be empty"],
    [{ repositories: ["prod/[ab]*"] }, "no Service Bus LIKE equivalent"],
    [{ tags: ["v{1,2}"] }, '"{" is not allowed'],
    [{ tags: ["a/b"] }, "a tag name cannot contain it"],
    [{ repositories: ["it's"] }, `"'" is not allowed`],
    [{ repositories: ["100%"] }, '"%" is not allowed'],
    [{ actions: ["ping"] }, '--action "ping" is not one of push, delete'],
    [{ kinds: ["chart"] }, '--kind "chart" is not one of image, index'],
  ] as [Partial<SubscriptionCriteria>, string][])("refuses %j", (criteria, problem) => {
    const result = sqlFilterFor({ ...none, ...criteria });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.failure.join("\n")).toContain(problem);
  });

  it("reports every problem at once", () => {
    const result = sqlFilterFor({ ...none, repositories: [""], kinds: ["x"] });
    expect(!result.ok && result.failure).toHaveLength(2);
  });

  describe("selects on the local broker exactly what the globs describe", () => {
    const message = (properties: Record<string, string>) => ({
      system: { messageId: "m" },
      applicationProperties: properties,
    });
    const filter = parseSqlFilter(
      sql({
        repositories: ["prod/*"],
        tags: ["v*", "release_?"],
        kinds: ["image", "index"],
        tagged: true,
      }),
    );
    it.each([
      [{ repository: "prod/api", tag: "v1.4.0", artifactKind: "index", tagged: "true" }, true],
      [{ repository: "prod/team/api", tag: "v2", artifactKind: "image", tagged: "true" }, true],
      [{ repository: "prod/api", tag: "release_7", artifactKind: "image", tagged: "true" }, true],
      [{ repository: "prod/api", tag: "releaseX7", artifactKind: "image", tagged: "true" }, false],
      [{ repository: "dev/api", tag: "v1", artifactKind: "image", tagged: "true" }, false],
      [{ repository: "production/api", tag: "v1", artifactKind: "image", tagged: "true" }, false],
      [{ repository: "prod/api", tag: "latest", artifactKind: "image", tagged: "true" }, false],
      [{ repository: "prod/api", tag: "v1", artifactKind: "signature", tagged: "true" }, false],
      [{ repository: "prod/api", artifactKind: "image", tagged: "false" }, false],
    ])("%j -> %s", (properties, expected) => {
      expect(sqlFilterMatches(filter, message(properties))).toBe(expected);
    });
  });
});
