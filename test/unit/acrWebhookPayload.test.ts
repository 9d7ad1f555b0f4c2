import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { validateAcrWebhookPayload } from "../../src/core/acrWebhookPayload";

type Json = Record<string, unknown>;

function fixture(name: string): Json {
  const url = join(__dirname, "../fixtures/acr-webhook", name);
  return JSON.parse(readFileSync(url, "utf8")) as Json;
}

/** A fresh deep copy, so a case can change it without touching another case's input. */
function copy<T>(value: T): T {
  return structuredClone(value);
}

const listEvents = fixture("webhook-listEvents.specs-example.json") as {
  value: { eventRequestMessage: { content: Json } }[];
};

const push = fixture("webhook-push.doc.json");

const documented: [string, Json][] = [
  ["push", push],
  ["delete", fixture("webhook-delete.doc.json")],
  ["chart_push", fixture("webhook-chart_push.doc.json")],
  ["chart_delete", fixture("webhook-chart_delete.doc.json")],
  ["quarantine", fixture("webhook-quarantine.acr-preview.json")],
  ["list-events content", listEvents.value[0].eventRequestMessage.content],
];

function accepted(body: unknown): Json {
  const result = validateAcrWebhookPayload(body);
  if (!result.ok)
    throw new Error(`expected a valid payload, got ${JSON.stringify(result.failure)}`);
  return result.value as Json;
}

function issuesOf(body: unknown) {
  const result = validateAcrWebhookPayload(body);
  if (result.ok) throw new Error(`expected a refusal, got ${JSON.stringify(result.value)}`);
  return result.failure;
}

describe("validateAcrWebhookPayload: documented payloads", () => {
  it.each(documented)("%s validates and keeps every field", (_name, body) => {
    expect(accepted(copy(body))).toStrictEqual(body);
  });

  it.each(documented)(
    "%s keeps unknown fields at the top level, in target and in request",
    (_name, body) => {
      const extended = copy(body);
      extended.futureField = { nested: [1, "two", null] };
      extended.target = { ...(extended.target as Json), artifactType: "application/x.example" };
      extended.request = {
        ...((extended.request as Json | undefined) ?? {}),
        traceparent: "00-ab",
      };
      const payload = accepted(copy(extended));
      expect(payload).toStrictEqual(extended);
      expect(payload.futureField).toEqual({ nested: [1, "two", null] });
      expect((payload.target as Json).artifactType).toBe("application/x.example");
      expect((payload.request as Json).traceparent).toBe("00-ab");
    },
  );

  it("keeps the list-events example's actor, source, target.url and request.addr", () => {
    const content = listEvents.value[0].eventRequestMessage.content;
    const payload = accepted(copy(content));
    expect(payload.actor).toEqual({});
    expect(payload.source).toEqual({
      addr: "xtal.local:5000",
      instanceID: "00000000-0000-0000-0000-000000000000",
    });
    expect((payload.target as Json).url).toBe(
      "http://192.168.100.227:5000/v2/hello-world/manifests/sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf",
    );
    expect((payload.request as Json).addr).toBe("192.168.64.11:42961");
  });

  it("keeps the chart fields name and version", () => {
    const payload = accepted(fixture("webhook-chart_push.doc.json"));
    expect(payload.target).toMatchObject({ name: "wordpress", version: "5.4.0.tgz" });
  });
});

function pushWith(change: (body: Json) => void): Json {
  const body = copy(push);
  change(body);
  return body;
}

const target = (body: Json) => body.target as Json;
const request = (body: Json) => body.request as Json;

describe("validateAcrWebhookPayload: variants ACR really sends", () => {
  const variants: [string, Json][] = [
    ["push without request.useragent", pushWith((b) => delete request(b).useragent)],
    ["push without request", pushWith((b) => delete b.request)],
    ["push with an empty tag", pushWith((b) => (target(b).tag = ""))],
    ["digest-only push (no tag)", pushWith((b) => delete target(b).tag)],
    [
      "OCI image index push",
      pushWith((b) => (target(b).mediaType = "application/vnd.oci.image.index.v1+json")),
    ],
    ["push without target", pushWith((b) => delete b.target)],
    ["9 fractional digits", pushWith((b) => (b.timestamp = "2023-11-17T16:52:01.343145347Z"))],
    ["7 fractional digits", pushWith((b) => (b.timestamp = "2023-03-05T23:45:31.2614267Z"))],
    ["+00:00 offset", pushWith((b) => (b.timestamp = "2023-11-17T16:52:01.3431453+00:00"))],
    ["non-UTC offset", pushWith((b) => (b.timestamp = "2023-11-17T18:52:01.3431453+02:00"))],
    ["no fractional digits", pushWith((b) => (b.timestamp = "2023-11-17T16:52:01Z"))],
    ["unicode repository", pushWith((b) => (target(b).repository = "équipe/日本/app🚀"))],
  ];

  it.each(variants)("%s is accepted unchanged", (_name, body) => {
    expect(accepted(copy(body))).toStrictEqual(body);
  });

  it.each([
    "2023-11-17T16:52:01.343145347Z",
    "2023-11-17T16:52:01.3431453+00:00",
    "2023-11-17T16:52:01.1Z",
  ])("keeps the timestamp %s as the exact original string", (timestamp) => {
    expect(accepted(pushWith((b) => (b.timestamp = timestamp))).timestamp).toBe(timestamp);
  });

  it("accepts a bare ping", () => {
    expect(accepted({ action: "ping" })).toStrictEqual({ action: "ping" });
  });

  it("accepts a ping with id and timestamp and keeps them", () => {
    const ping = {
      id: "a1b2c3d4-0000-0000-0000-000000000000",
      timestamp: "2024-01-02T03:04:05.123456789Z",
      action: "ping",
      extra: true,
    };
    expect(accepted(copy(ping))).toStrictEqual(ping);
  });

  it.each(["retag", "import", "__proto__", "constructor"])(
    "accepts the unknown action %s and keeps the payload",
    (action) => {
      const body = pushWith((b) => (b.action = action));
      const payload = accepted(copy(body));
      expect(payload.action).toBe(action);
      expect(payload).toStrictEqual(body);
    },
  );
});

describe("validateAcrWebhookPayload: refusals name the field", () => {
  const refusals: [string, unknown, string][] = [
    ["missing id", pushWith((b) => delete b.id), "id"],
    ["empty id", pushWith((b) => (b.id = "")), "id"],
    ["missing timestamp", pushWith((b) => delete b.timestamp), "timestamp"],
    ["missing action", pushWith((b) => delete b.action), "action"],
    ["empty action", pushWith((b) => (b.action = "")), "action"],
    ["numeric action", pushWith((b) => (b.action = 1)), "action"],
    ["non-ISO timestamp", pushWith((b) => (b.timestamp = "2023-11-17 16:52:01")), "timestamp"],
    [
      "timestamp without offset",
      pushWith((b) => (b.timestamp = "2023-11-17T16:52:01")),
      "timestamp",
    ],
    ["timestamp as a number", pushWith((b) => (b.timestamp = 1700239921343)), "timestamp"],
    ["impossible date", pushWith((b) => (b.timestamp = "2023-02-30T00:00:00Z")), "timestamp"],
    ["target.size as a string", pushWith((b) => (target(b).size = "524")), "target.size"],
    ["negative target.size", pushWith((b) => (target(b).size = -1)), "target.size"],
    ["target.length as a string", pushWith((b) => (target(b).length = "524")), "target.length"],
    [
      "target.repository as a number",
      pushWith((b) => (target(b).repository = 42)),
      "target.repository",
    ],
    ["target as an array", pushWith((b) => (b.target = [])), "target"],
    ["target as a string", pushWith((b) => (b.target = "hello-world:v1")), "target"],
    [
      "control character in target.tag",
      pushWith((b) => (target(b).tag = "v1\u0007")),
      "target.tag",
    ],
    ["newline in target.tag", pushWith((b) => (target(b).tag = "v1\nv2")), "target.tag"],
    ["C1 control in target.tag", pushWith((b) => (target(b).tag = "v\u00851")), "target.tag"],
    [
      "lone high surrogate in repository",
      pushWith((b) => (target(b).repository = "hello\ud800world")),
      "target.repository",
    ],
    [
      "lone low surrogate in repository",
      pushWith((b) => (target(b).repository = "\udc00")),
      "target.repository",
    ],
    ["request as an array", pushWith((b) => (b.request = [])), "request"],
    ["request.host as a number", pushWith((b) => (request(b).host = 443)), "request.host"],
    ["ping with a non-ISO timestamp", { action: "ping", timestamp: "yesterday" }, "timestamp"],
    ["unknown action without id", { action: "retag", timestamp: push.timestamp }, "id"],
    [
      "chart target.version as a number",
      { ...fixture("webhook-chart_push.doc.json"), target: { version: 5 } },
      "target.version",
    ],
  ];

  it.each(refusals)("%s is refused with the path %s", (_name, body, path) => {
    const issues = issuesOf(body);
    expect(issues.map((issue) => issue.path)).toContain(path);
    for (const issue of issues) expect(issue.message).not.toBe("");
  });

  it.each([
    ["an array", [push]],
    ["null", null],
    ["a string", JSON.stringify(push)],
    ["a number", 42],
  ])("a body that is %s is refused as a whole", (_name, body) => {
    const issues = issuesOf(body);
    expect(issues).toHaveLength(1);
    expect(issues[0].path).toBe("(body)");
  });

  it("names a field the sender named with control or bidirectional characters escaped, as logs show it", () => {
    let nested: unknown = "deep";
    for (let depth = 0; depth < 40; depth++) nested = { level: nested };
    const name = "x\n[warning] forged line \u001b[31m\u202Egnp.exe\u2028\u0085";
    const issues = issuesOf({ ...push, [name]: nested });
    expect(issues.map((issue) => issue.path)).toEqual([
      "x\\u000a[warning] forged line \\u001b[31m\\u202egnp.exe\\u2028\\u0085",
    ]);
  });

  it("names every failing field, not a union's branches", () => {
    const body = pushWith((b) => {
      delete b.id;
      target(b).size = "524";
    });
    expect(
      issuesOf(body)
        .map((issue) => issue.path)
        .sort(),
    ).toEqual(["id", "target.size"]);
  });
});

describe("timestamps Table Storage and the keys can hold", () => {
  it.each(["1600-12-31T23:59:59Z", "2286-01-01T00:00:00Z", "0001-01-01T00:00:00Z"])(
    "refuses %s, naming timestamp",
    (timestamp) => {
      const result = validateAcrWebhookPayload({ id: "x", timestamp, action: "push" });
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.failure.map((issue) => issue.path)).toEqual(["timestamp"]);
    },
  );

  it.each(["1601-01-01T00:00:00Z", "2285-12-31T23:59:59.9999999Z"])("accepts %s", (timestamp) => {
    expect(validateAcrWebhookPayload({ id: "x", timestamp, action: "push" }).ok).toBe(true);
  });
});

describe("text that would display other than it reads, and ids no URL can name", () => {
  it.each([
    [
      "a right-to-left override in the repository",
      { target: { repository: "team/x\u202egnp.exe" } },
      "target.repository",
    ],
    ["a first-strong isolate in the tag", { target: { tag: "v1\u2068" } }, "target.tag"],
    [
      "a right-to-left mark in the user agent",
      { request: { useragent: "docker\u200f" } },
      "request.useragent",
    ],
    ["an id of two dots", { id: ".." }, "id"],
    ["an id of one dot", { id: "." }, "id"],
  ])("refuses %s, naming the field", (_name, change, path) => {
    const payload = { id: "x", timestamp: "2026-01-01T00:00:00Z", action: "push", ...change };
    const result = validateAcrWebhookPayload(payload);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.failure.map((issue) => issue.path)).toContain(path);
  });

  it("accepts ids with dots among other characters", () => {
    const payload = { id: "v1.2.3", timestamp: "2026-01-01T00:00:00Z", action: "push" };
    expect(validateAcrWebhookPayload(payload).ok).toBe(true);
  });
});
