import { describe, expect, it } from "vitest";
import { parseSqlFilter, SqlFilterError, sqlFilterMatches } from "../../dev/servicebus/sqlFilter";

const message = (applicationProperties: Record<string, unknown>, subject?: string) => ({
  system: { messageId: "m-1", subject, contentType: "application/cloudevents+json" },
  applicationProperties,
});

const PUSH = message(
  {
    action: "push",
    repository: "prod/api",
    tag: "v1.2",
    artifactKind: "index",
    tagged: "true",
    size: 3,
  },
  "prod/api:v1.2",
);
const CHILD = message({
  action: "push",
  repository: "prod/api",
  artifactKind: "image",
  tagged: "false",
});

const matches = (expression: string, subject = PUSH) =>
  sqlFilterMatches(parseSqlFilter(expression), subject);

describe("the local broker's SQL filters", () => {
  it.each([
    ["1=1", true],
    ["1=0", false],
    ["action = 'push'", true],
    ["action <> 'push'", false],
    ["action != 'delete'", true],
    ["repository LIKE 'prod/%'", true],
    ["repository LIKE 'prod/_pi'", true],
    ["repository LIKE 'prod/_'", false],
    ["repository NOT LIKE 'dev/%'", true],
    ["tag LIKE 'v1!.%' ESCAPE '!'", true],
    ["tag LIKE 'v1!%' ESCAPE '!'", false],
    ["artifactKind IN ('image', 'index')", true],
    ["artifactKind NOT IN ('signature', 'sbom')", true],
    ["digest IS NULL", true],
    ["tag IS NOT NULL", true],
    ["EXISTS(tag)", true],
    ["NOT (action = 'delete' OR tagged = 'false')", true],
    ["action = 'push' AND (tag LIKE 'v%' OR tag = 'latest') AND tagged = 'true'", true],
    ["sys.Label = 'prod/api:v1.2'", true],
    ["sys.MessageId = 'm-1' and user.action = 'push'", true],
    ["[artifactKind] = 'index'", true],
    ["size > 2 AND size <= 3", true],
    ["tagged = TRUE", false], // the string 'true' is not the boolean TRUE
    ["tag = 'it''s'", false],
  ])("%s -> %s", (expression, expected) => {
    expect(matches(expression)).toBe(expected);
  });

  it("treats a missing property as UNKNOWN: neither it nor its negation selects", () => {
    expect(matches("tag LIKE 'v%'", CHILD)).toBe(false);
    expect(matches("NOT (tag LIKE 'v%')", CHILD)).toBe(false);
    expect(matches("tag = 'x' OR action = 'push'", CHILD)).toBe(true);
    expect(matches("tag IS NULL", CHILD)).toBe(true);
    expect(matches("digest IN ('a', 'b')", CHILD)).toBe(false);
  });

  it.each([
    "",
    "action =",
    "action = 'push",
    "size + 1 > 2",
    "UPPER(action) = 'PUSH'",
    "tag LIKE 'v%' ESCAPE '!!'",
    "action = 'push' AND",
  ])("refuses %j with an error naming the expression", (expression) => {
    expect(() => parseSqlFilter(expression)).toThrow(SqlFilterError);
    expect(() => parseSqlFilter(expression)).toThrow(`SQL filter "${expression}"`);
  });
});
