import { randomUUID } from "node:crypto";
import { connect } from "node:net";
import { odata } from "@azure/data-tables";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventTables } from "../../src/adapters/eventTables";
import { eventStoreTableOf, REGISTRIES_TABLE } from "../../src/adapters/tableLayout";
import { type LocalStack, startLocalStack, TEST_SECRET } from "../support/localStack";
import { eventTables } from "../support/records";
import { type Inventory, inventory } from "../support/stackInventory";
import { postWebhook } from "../support/webhookClient";

/**
 * Hostile and malformed input against one local stack with its own Azurite: every case gets a
 * clear JSON error (or, where marked, is accepted by design) and changes nothing: no entity in
 * any table, no message on any topic or queue.
 */

const LOGIN_SERVER = "fallback.azurecr.io";
const MB = 1024 * 1024;

type Json = Record<string, unknown>;

interface Expected {
  status: number;
  /** `error.code`; several when the answer legitimately races (raw HTTP with a lying length). */
  code?: string | string[];
  /** A substring of `error.message`. */
  message?: string;
  /** A path `details.issues` must name. */
  issue?: string;
  /** Accepted by design: 200, one record, and a message when `published`. */
  accepted?: "published" | "not-routed";
}

interface HttpCase extends Expected {
  name: string;
  method?: string;
  body?: string | Uint8Array;
  /** Over the defaults (the right secret, JSON); `null` removes a default. */
  headers?: Record<string, string | null>;
  query?: string;
}

interface RawCase extends Expected {
  name: string;
  /** The request's bytes up to the body, without the port: written as is over a socket. */
  head: string;
  body?: Buffer;
  /** Half-closes the socket after the body, as a client that sent less than it declared. */
  endAfterBody?: boolean;
}

let sequence = 0;

/** A valid push, unique so that nothing else is stored under its keys. */
function push(change: (body: Json & { target: Json; request: Json }) => void = () => {}): Json {
  sequence += 1;
  const body = {
    id: randomUUID(),
    timestamp: new Date(Date.UTC(2024, 0, 1, 0, 0, sequence)).toISOString(),
    action: "push",
    target: {
      mediaType: "application/vnd.docker.distribution.manifest.v2+json",
      size: 524,
      digest: `sha256:${randomUUID().replaceAll("-", "")}${randomUUID().replaceAll("-", "")}`,
      length: 524,
      repository: "hello-world",
      tag: "v1",
    },
    request: {
      id: randomUUID(),
      host: "myregistry.azurecr.io",
      method: "PUT",
      useragent: "docker/24.0.7 go/go1.20.10",
    },
  };
  change(body);
  return body;
}

function chartPush(change: (body: Json & { target: Json }) => void): Json {
  const body = {
    id: randomUUID(),
    timestamp: "2023-03-05T23:45:31.2614267Z",
    action: "chart_push",
    target: {
      mediaType: "application/vnd.acr.helm.chart",
      size: 25265,
      digest: `sha256:${randomUUID().replaceAll("-", "")}`,
      repository: "repo",
      tag: "wordpress-5.4.0.tgz",
      name: "wordpress",
      version: "5.4.0.tgz",
    },
  };
  change(body);
  return body;
}

const json = (value: unknown) => JSON.stringify(value);
/** A valid push's JSON text with `extra` spliced in as raw JSON text before the closing brace. */
const pushWithRaw = (extra: string) => `${json(push()).slice(0, -1)},${extra}}`;
const nestedArrays = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;
const nestedObjects = (depth: number) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
const bytes = (...parts: (string | number[])[]) =>
  Buffer.concat(
    parts.map((part) => (typeof part === "string" ? Buffer.from(part) : Buffer.from(part))),
  );

const invalidPayload = (issue: string, message?: string): Expected => ({
  status: 400,
  code: "invalid_payload",
  issue,
  message,
});
const invalidJson: Expected = { status: 400, code: "invalid_json" };
const invalidEncoding: Expected = { status: 400, code: "invalid_encoding" };
const invalidQuery = (parameter: "registry" | "region"): Expected => ({
  status: 400,
  code: "invalid_query",
  issue: `query.${parameter}`,
  message: `invalid parameter: ${parameter}`,
});
const unsupportedMedia: Expected = { status: 415, code: "unsupported_media_type" };
const notFound: Expected = { status: 404, code: "not_found" };
const tooLarge: Expected = { status: 413, code: "payload_too_large" };

const LONG = "a".repeat(1100);

const cases: HttpCase[] = [
  // Truncated and malformed JSON.
  { name: "empty body", body: "", ...invalidJson },
  { name: "whitespace-only body", body: " \r\n\t ", ...invalidJson },
  { name: "truncated: a lone brace", body: "{", ...invalidJson },
  { name: "truncated: after a key", body: '{"id":', ...invalidJson },
  { name: "truncated: inside a string", body: '{"id":"x","action":"pu', ...invalidJson },
  {
    name: "truncated: a valid push minus its last byte",
    body: json(push()).slice(0, -1),
    ...invalidJson,
  },
  { name: "truncated: a valid push cut in half", body: json(push()).slice(0, 120), ...invalidJson },
  { name: "truncated: an open array", body: "[", ...invalidJson },
  { name: "trailing comma", body: '{"action":"ping",}', ...invalidJson },
  { name: "single quotes", body: "{'action':'ping'}", ...invalidJson },
  { name: "NaN", body: "NaN", ...invalidJson },
  { name: "invalid escape", body: '{"action":"\\x"}', ...invalidJson },
  { name: "raw NUL inside a JSON string", body: '{"action":"pi\u0000ng"}', ...invalidJson },
  {
    name: "two JSON documents",
    body: `${json({ action: "ping" })}${json({ action: "ping" })}`,
    ...invalidJson,
  },

  // Not an object.
  { name: "null body", body: "null", ...invalidPayload("(body)") },
  { name: "a number", body: "42", ...invalidPayload("(body)") },
  { name: "a string", body: '"push"', ...invalidPayload("(body)") },
  {
    name: "an array instead of the body object",
    body: json([push()]),
    ...invalidPayload("(body)"),
  },
  { name: "an empty array", body: "[]", ...invalidPayload("(body)") },

  // Wrong types for every field.
  { name: "id as a number", body: json(push((b) => (b.id = 42))), ...invalidPayload("id") },
  { name: "id as null", body: json(push((b) => (b.id = null))), ...invalidPayload("id") },
  {
    name: "id as an object",
    body: json(push((b) => (b.id = { $ne: "" }))),
    ...invalidPayload("id"),
  },
  { name: "id empty", body: json(push((b) => (b.id = ""))), ...invalidPayload("id") },
  { name: "id of 1 KiB+", body: json(push((b) => (b.id = LONG))), ...invalidPayload("id") },
  {
    name: "id that percent-encodes past the key limit",
    body: json(push((b) => (b.id = "é".repeat(256)))),
    ...invalidPayload("id", "percent-encoded"),
  },
  {
    name: "id of separators too long for a table key once percent-encoded",
    body: json(push((b) => (b.id = `p${"|".repeat(170)}`))),
    ...invalidPayload("id", "percent-encoded"),
  },
  { name: "id missing", body: json(push((b) => delete b.id)), ...invalidPayload("id") },
  {
    name: "timestamp past the last year a key can order",
    body: json(push((b) => (b.timestamp = "2286-06-01T00:00:00Z"))),
    ...invalidPayload("timestamp"),
  },
  {
    name: "timestamp as a number",
    body: json(push((b) => (b.timestamp = 1700239921343))),
    ...invalidPayload("timestamp"),
  },
  {
    name: "timestamp not ISO 8601",
    body: json(push((b) => (b.timestamp = "yesterday"))),
    ...invalidPayload("timestamp"),
  },
  {
    name: "timestamp with a space",
    body: json(push((b) => (b.timestamp = "2023-11-17 16:52:01Z"))),
    ...invalidPayload("timestamp"),
  },
  {
    name: "timestamp without an offset",
    body: json(push((b) => (b.timestamp = "2023-11-17T16:52:01"))),
    ...invalidPayload("timestamp"),
  },
  {
    name: "timestamp on 30 February",
    body: json(push((b) => (b.timestamp = "2023-02-30T00:00:00Z"))),
    ...invalidPayload("timestamp"),
  },
  {
    name: "timestamp at hour 25",
    body: json(push((b) => (b.timestamp = "2023-11-17T25:00:00Z"))),
    ...invalidPayload("timestamp"),
  },
  { name: "action empty", body: json(push((b) => (b.action = ""))), ...invalidPayload("action") },
  {
    name: "action as a number",
    body: json(push((b) => (b.action = 1))),
    ...invalidPayload("action"),
  },
  {
    name: "action as an array",
    body: json(push((b) => (b.action = ["push"]))),
    ...invalidPayload("action"),
  },
  {
    name: "action as null",
    body: json(push((b) => (b.action = null))),
    ...invalidPayload("action"),
  },
  { name: "action missing", body: json(push((b) => delete b.action)), ...invalidPayload("action") },
  {
    name: "action of 65 characters",
    body: json(push((b) => (b.action = "x".repeat(65)))),
    ...invalidPayload("action"),
  },
  {
    name: "action with a control character",
    body: json(push((b) => (b.action = "push\u0007"))),
    ...invalidPayload("action"),
  },
  {
    name: "target as a string",
    body: json(push((b) => (b.target = "hello-world:v1" as never))),
    ...invalidPayload("target"),
  },
  {
    name: "target as an array",
    body: json(push((b) => (b.target = [b.target] as never))),
    ...invalidPayload("target"),
  },
  {
    name: "target as null",
    body: json(push((b) => (b.target = null as never))),
    ...invalidPayload("target"),
  },
  {
    name: "target.mediaType as a number",
    body: json(push((b) => (b.target.mediaType = 1))),
    ...invalidPayload("target.mediaType"),
  },
  {
    name: "target.size as a string",
    body: json(push((b) => (b.target.size = "524"))),
    ...invalidPayload("target.size"),
  },
  {
    name: "target.size negative",
    body: json(push((b) => (b.target.size = -1))),
    ...invalidPayload("target.size"),
  },
  {
    name: "target.size fractional",
    body: json(push((b) => (b.target.size = 1.5))),
    ...invalidPayload("target.size"),
  },
  {
    name: "target.size 1e309 (Infinity)",
    body: json(push()).replace('"size":524', '"size":1e309'),
    ...invalidPayload("target.size"),
  },
  {
    name: "target.length as a string",
    body: json(push((b) => (b.target.length = "524"))),
    ...invalidPayload("target.length"),
  },
  {
    name: "target.digest as a number",
    body: json(push((b) => (b.target.digest = 7))),
    ...invalidPayload("target.digest"),
  },
  {
    name: "target.repository as a number",
    body: json(push((b) => (b.target.repository = 42))),
    ...invalidPayload("target.repository"),
  },
  {
    name: "target.repository as an array",
    body: json(push((b) => (b.target.repository = ["a"]))),
    ...invalidPayload("target.repository"),
  },
  {
    name: "target.tag as a number",
    body: json(push((b) => (b.target.tag = 1))),
    ...invalidPayload("target.tag"),
  },
  {
    name: "target.tag as an object",
    body: json(push((b) => (b.target.tag = {}))),
    ...invalidPayload("target.tag"),
  },
  {
    name: "target.url as an object",
    body: json(push((b) => (b.target.url = { href: "x" }))),
    ...invalidPayload("target.url"),
  },
  {
    name: "chart target.name as a number",
    body: json(chartPush((b) => (b.target.name = 5))),
    ...invalidPayload("target.name"),
  },
  {
    name: "chart target.version as an array",
    body: json(chartPush((b) => (b.target.version = []))),
    ...invalidPayload("target.version"),
  },
  {
    name: "request as a string",
    body: json(push((b) => (b.request = "PUT" as never))),
    ...invalidPayload("request"),
  },
  {
    name: "request as an array",
    body: json(push((b) => (b.request = [] as never))),
    ...invalidPayload("request"),
  },
  {
    name: "request.id as a number",
    body: json(push((b) => (b.request.id = 1))),
    ...invalidPayload("request.id"),
  },
  {
    name: "request.host as a number",
    body: json(push((b) => (b.request.host = 443))),
    ...invalidPayload("request.host"),
  },
  {
    name: "request.host with a control character",
    body: json(push((b) => (b.request.host = "evil\u0000.azurecr.io"))),
    ...invalidPayload("request.host"),
  },
  {
    name: "request.host that percent-encodes past the key limit",
    body: json(push((b) => (b.request.host = "é".repeat(255)))),
    ...invalidPayload("request.host"),
  },
  {
    name: "request.useragent with NUL, BEL and a lone surrogate",
    body: json(push((b) => (b.request.useragent = "bad\u0000nul\u0007\ud800"))),
    ...invalidPayload("request.useragent"),
  },
  {
    name: "target.url with a control character",
    body: json(push((b) => (b.target.url = "https://x.example/\u0000"))),
    ...invalidPayload("target.url"),
  },
  {
    name: "request.host longer than a DNS name",
    body: json(push((b) => (b.request.host = `${"a".repeat(251)}.io`))),
    ...invalidPayload("request.host"),
  },
  {
    name: "request.method as a number",
    body: json(push((b) => (b.request.method = 1))),
    ...invalidPayload("request.method"),
  },
  {
    name: "request.method of 17 characters",
    body: json(push((b) => (b.request.method = "P".repeat(17)))),
    ...invalidPayload("request.method"),
  },
  {
    name: "request.useragent as an object",
    body: json(push((b) => (b.request.useragent = {}))),
    ...invalidPayload("request.useragent"),
  },
  {
    name: "request.addr as a number",
    body: json(push((b) => (b.request.addr = 127001))),
    ...invalidPayload("request.addr"),
  },
  {
    name: "actor as an array",
    body: json(push((b) => (b.actor = []))),
    ...invalidPayload("actor"),
  },
  {
    name: "ping with a timestamp that is not ISO 8601",
    body: json({ action: "ping", timestamp: "now" }),
    ...invalidPayload("timestamp"),
  },

  // Repository and tag: characters no registry can send.
  {
    name: "NUL in target.repository",
    body: json(push((b) => (b.target.repository = "hello\u0000world"))),
    ...invalidPayload("target.repository"),
  },
  {
    name: "a line feed in target.repository",
    body: json(push((b) => (b.target.repository = "hello\nworld"))),
    ...invalidPayload("target.repository"),
  },
  {
    name: "ESC in target.repository",
    body: json(push((b) => (b.target.repository = "hello\u001b[31m"))),
    ...invalidPayload("target.repository"),
  },
  {
    name: "# in target.repository",
    body: json(push((b) => (b.target.repository = "hello#world"))),
    ...invalidPayload("target.repository"),
  },
  {
    name: "? in target.repository",
    body: json(push((b) => (b.target.repository = "hello?world"))),
    ...invalidPayload("target.repository"),
  },
  {
    name: "\\ in target.repository",
    body: json(push((b) => (b.target.repository = "hello\\world"))),
    ...invalidPayload("target.repository"),
  },
  {
    name: "% in target.repository",
    body: json(push((b) => (b.target.repository = "hello%2Fworld"))),
    ...invalidPayload("target.repository"),
  },
  {
    name: "a space in target.repository",
    body: json(push((b) => (b.target.repository = "hello world"))),
    ...invalidPayload("target.repository"),
  },
  {
    name: "target.repository of 1 KiB+",
    body: json(push((b) => (b.target.repository = LONG))),
    ...invalidPayload("target.repository"),
  },
  {
    name: "NUL in target.tag",
    body: json(push((b) => (b.target.tag = "v1\u0000"))),
    ...invalidPayload("target.tag"),
  },
  {
    name: "a bell in target.tag",
    body: json(push((b) => (b.target.tag = "v\u00071"))),
    ...invalidPayload("target.tag"),
  },
  {
    name: "/ in target.tag",
    body: json(push((b) => (b.target.tag = "v1/latest"))),
    ...invalidPayload("target.tag"),
  },
  {
    name: "# in target.tag",
    body: json(push((b) => (b.target.tag = "v1#x"))),
    ...invalidPayload("target.tag"),
  },
  {
    name: "? in target.tag",
    body: json(push((b) => (b.target.tag = "v1?x"))),
    ...invalidPayload("target.tag"),
  },
  {
    name: "\\ in target.tag",
    body: json(push((b) => (b.target.tag = "v1\\x"))),
    ...invalidPayload("target.tag"),
  },
  {
    name: "target.tag of 1 KiB+",
    body: json(push((b) => (b.target.tag = LONG))),
    ...invalidPayload("target.tag"),
  },

  // Prototype keys: data, never a prototype. Accepted where the payload is otherwise valid.
  {
    name: "__proto__ at the top level of a valid push (accepted)",
    body: pushWithRaw('"__proto__":{"polluted":"yes","host":"polluted.example"}'),
    status: 200,
    accepted: "published",
  },
  {
    name: "__proto__ inside target (accepted)",
    body: json(push()).replace(
      '"target":{',
      '"target":{"__proto__":{"polluted":"yes","repository":"x#y"},',
    ),
    status: 200,
    accepted: "published",
  },
  {
    name: "__proto__ inside request (accepted)",
    body: json(push()).replace(
      '"request":{',
      '"request":{"__proto__":{"polluted":"yes","host":"polluted.example"},',
    ),
    status: 200,
    accepted: "published",
  },
  {
    name: "constructor.prototype at the top level (accepted)",
    body: pushWithRaw('"constructor":{"prototype":{"polluted":"yes","host":"polluted.example"}}'),
    status: 200,
    accepted: "published",
  },
  {
    name: "__proto__ as a string (accepted)",
    body: pushWithRaw('"__proto__":"x"'),
    status: 200,
    accepted: "published",
  },
  {
    name: "an action inherited only through __proto__",
    body: json(push()).replace('"action":"push"', '"__proto__":{"action":"push"}'),
    ...invalidPayload("action"),
  },
  {
    name: "action __proto__ (unknown action, accepted)",
    body: json(push((b) => (b.action = "__proto__"))),
    status: 200,
    accepted: "not-routed",
  },

  // Unknown actions: recorded and answered 200, routed nowhere.
  {
    name: "unknown action retag (accepted)",
    body: json(push((b) => (b.action = "retag"))),
    status: 200,
    accepted: "not-routed",
  },
  {
    name: "unknown action constructor (accepted)",
    body: json(push((b) => (b.action = "constructor"))),
    status: 200,
    accepted: "not-routed",
  },

  // Deep nesting.
  { name: "100k nested arrays", body: nestedArrays(100_000), ...tooLarge },
  {
    name: "30k nested arrays as the body",
    body: nestedArrays(30_000),
    ...invalidPayload("(body)"),
  },
  {
    name: "30k nested arrays in an unknown field",
    body: pushWithRaw(`"future":${nestedArrays(30_000)}`),
    ...invalidPayload("future", "nest"),
  },
  {
    name: "10k nested objects in an unknown field",
    body: pushWithRaw(`"future":${nestedObjects(10_000)}`),
    ...invalidPayload("future", "nest"),
  },
  {
    name: "nesting inside target",
    body: json(push()).replace('"target":{', `"target":{"deep":${nestedArrays(1000)},`),
    ...invalidPayload("target", "nest"),
  },

  // Size.
  {
    name: "a 10 MB body with its Content-Length",
    body: pushWithRaw(`"padding":"${"x".repeat(10 * MB)}"`),
    ...tooLarge,
  },
  {
    name: "a body just over the limit",
    body: pushWithRaw(`"padding":"${"x".repeat(65_536)}"`),
    ...tooLarge,
  },

  // Encoding.
  {
    name: "invalid UTF-8: a 0xFF byte",
    body: bytes('{"action":"ping","x":"', [0xff], '"}'),
    ...invalidEncoding,
  },
  {
    name: "invalid UTF-8: an overlong slash",
    body: bytes('{"action":"ping","x":"', [0xc0, 0xaf], '"}'),
    ...invalidEncoding,
  },
  {
    name: "invalid UTF-8: an encoded surrogate",
    body: bytes('{"action":"ping","x":"', [0xed, 0xa0, 0x80], '"}'),
    ...invalidEncoding,
  },
  {
    name: "invalid UTF-8: a truncated sequence",
    body: bytes('{"action":"ping","x":"', [0xe2, 0x82], '"}'),
    ...invalidEncoding,
  },
  {
    name: "UTF-16 with a byte order mark",
    body: Buffer.from(`\ufeff${json({ action: "ping" })}`, "utf16le"),
    ...invalidEncoding,
  },
  {
    name: "a lone surrogate escaped in target.repository",
    body: json(push()).replace('"hello-world"', '"hello\\ud800"'),
    ...invalidPayload("target.repository"),
  },

  // Query parameters: OData quote injection.
  {
    name: "registry with a quote",
    body: json(push()),
    query: "?registry=a'b",
    ...invalidQuery("registry"),
  },
  {
    name: "registry with ' or '",
    body: json(push()),
    query: `?registry=${encodeURIComponent("x' or '1' eq '1")}`,
    ...invalidQuery("registry"),
  },
  {
    name: "registry with eq",
    body: json(push()),
    query: "?registry=PartitionKey%20eq%20x",
    ...invalidQuery("registry"),
  },
  {
    name: "registry with an encoded quote",
    body: json(push()),
    query: "?registry=x%27",
    ...invalidQuery("registry"),
  },
  {
    name: "registry with a double-encoded quote",
    body: json(push()),
    query: "?registry=x%2527",
    ...invalidQuery("registry"),
  },
  {
    name: "registry with NUL",
    body: json(push()),
    query: "?registry=x%00",
    ...invalidQuery("registry"),
  },
  {
    name: "region with a quote",
    body: json(push()),
    query: "?region=west'",
    ...invalidQuery("region"),
  },
  {
    name: "region with ' or ' eq '",
    body: json(push()),
    query: `?region=${encodeURIComponent("west' or 'a' eq 'a")}`,
    ...invalidQuery("region"),
  },
  {
    name: "region with an encoded quote",
    body: json(push()),
    query: "?region=west%27",
    ...invalidQuery("region"),
  },
  { name: "region empty", body: json(push()), query: "?region=", ...invalidQuery("region") },
  {
    name: "region with a slash",
    body: json(push()),
    query: "?region=west/europe",
    ...invalidQuery("region"),
  },

  // Content type.
  {
    name: "text/plain",
    body: json(push()),
    headers: { "content-type": "text/plain" },
    ...unsupportedMedia,
  },
  {
    name: "application/x-www-form-urlencoded",
    body: "action=push&id=1",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    ...unsupportedMedia,
  },
  {
    name: "multipart/form-data",
    body: '--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n{}\r\n--b--\r\n',
    headers: { "content-type": "multipart/form-data; boundary=b" },
    ...unsupportedMedia,
  },
  {
    name: "application/jsonp",
    body: json(push()),
    headers: { "content-type": "application/jsonp" },
    ...unsupportedMedia,
  },
  {
    name: "text/json",
    body: json(push()),
    headers: { "content-type": "text/json" },
    ...unsupportedMedia,
  },

  // Methods.
  { name: "GET", method: "GET", ...notFound },
  { name: "PUT", method: "PUT", body: json(push()), ...notFound },
  { name: "PATCH", method: "PATCH", body: json(push()), ...notFound },
  { name: "DELETE", method: "DELETE", ...notFound },
  { name: "OPTIONS", method: "OPTIONS", ...notFound },
  { name: "HEAD", method: "HEAD", status: 404 },
];

const HEAD = (extra: string) =>
  "POST /api/acr/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
  `Authorization: Bearer ${TEST_SECRET}\r\nContent-Type: application/json\r\n${extra}`;
const ping = Buffer.from(json({ action: "ping" }));
const badRequest: Expected = { status: 400, code: "bad_request" };

const rawCases: RawCase[] = [
  {
    name: "a bare CR inside a header value",
    head: HEAD(`X-Note: a\rb\r\nContent-Length: ${ping.length}\r\n\r\n`),
    body: ping,
    ...badRequest,
  },
  {
    name: "a bare LF injecting a header",
    head: HEAD(`X-Note: a\nX-Injected: 1\r\nContent-Length: ${ping.length}\r\n\r\n`),
    body: ping,
    ...badRequest,
  },
  {
    name: "a CR injecting a second Authorization header",
    head: HEAD(`X-Note: a\rAuthorization: Bearer other\r\nContent-Length: ${ping.length}\r\n\r\n`),
    body: ping,
    ...badRequest,
  },
  {
    name: "NUL inside a header value",
    head: HEAD(`X-Note: a\u0000b\r\nContent-Length: ${ping.length}\r\n\r\n`),
    body: ping,
    ...badRequest,
  },
  {
    name: "an obsolete folded header line",
    head: HEAD(`X-Note: a\r\n folded\r\nContent-Length: ${ping.length}\r\n\r\n`),
    body: ping,
    ...badRequest,
  },
  {
    name: "a malformed request line",
    head: "POST /api/acr /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    ...badRequest,
  },
  {
    name: "Content-Length and Transfer-Encoding together (smuggling)",
    head: HEAD("Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"),
    body: Buffer.from("0\r\n\r\n"),
    ...badRequest,
  },
  {
    name: "two different Content-Lengths",
    head: HEAD(`Content-Length: ${ping.length}\r\nContent-Length: ${ping.length + 1}\r\n\r\n`),
    body: ping,
    ...badRequest,
  },
  {
    name: "a chunk larger than its declared size",
    head: HEAD("Transfer-Encoding: chunked\r\n\r\n"),
    body: Buffer.from(`5\r\n${ping.toString()}\r\n0\r\n\r\n`),
    ...badRequest,
  },
  {
    name: "a 10 MB body declaring Content-Length: 16",
    head: HEAD("Content-Length: 16\r\n\r\n"),
    body: Buffer.concat([Buffer.from('{"action":"ping"'), Buffer.alloc(10 * MB, "a")]),
    // The 16 bytes are a request of their own (truncated JSON), answered before the connection
    // is closed for the rest, which is not HTTP.
    ...invalidJson,
  },
  {
    name: "a 10 MB body declaring a Content-Length just over the limit",
    head: HEAD("Content-Length: 70000\r\n\r\n"),
    body: Buffer.concat([Buffer.from(pushWithRaw(`"padding":"${"x".repeat(10 * MB)}"`))]),
    ...tooLarge,
  },
  {
    name: "Content-Length: 10 MB with a 17-byte body, then the client stops",
    head: HEAD(`Content-Length: ${10 * MB}\r\n\r\n`),
    body: ping,
    endAfterBody: true,
    ...badRequest,
  },
  {
    name: "a 10 MB chunked body",
    head: HEAD("Transfer-Encoding: chunked\r\n\r\n"),
    body: Buffer.concat([
      Buffer.from(`${(10 * MB).toString(16)}\r\n`),
      Buffer.alloc(10 * MB, "a"),
      Buffer.from("\r\n0\r\n\r\n"),
    ]),
    ...tooLarge,
  },
  // The Host header makes the URL the function is handed: one that makes no URL was a 500.
  ...["a b", "[", "%", "a:99999", "user@a", "user:password@a"].map(
    (host): RawCase => ({
      name: `Host: ${host}`,
      head: HEAD(`Content-Length: ${ping.length}\r\n\r\n`).replace(
        "Host: 127.0.0.1",
        `Host: ${host}`,
      ),
      body: ping,
      ...badRequest,
    }),
  ),
  {
    name: "an absolute URL with credentials as the request target",
    head: HEAD(`Content-Length: ${ping.length}\r\n\r\n`).replace(
      "POST /api/acr/webhook",
      "POST http://user:password@127.0.0.1/api/acr/webhook",
    ),
    body: ping,
    ...badRequest,
  },
  {
    name: "a header section over 16 KiB",
    head: HEAD(`X-Big: ${"a".repeat(20_000)}\r\nContent-Length: ${ping.length}\r\n\r\n`),
    body: ping,
    status: 431,
    code: "headers_too_large",
  },
];

interface Answer {
  status: number;
  contentType: string;
  text: string;
}

/** One raw HTTP/1.1 exchange; the body is written in slices and stops once an answer arrives. */
function rawExchange(port: number, rawCase: RawCase): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const received: Buffer[] = [];
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const data = Buffer.concat(received);
      const end = data.indexOf("\r\n\r\n");
      if (end < 0) {
        reject(new Error(`no HTTP answer: ${JSON.stringify(data.toString("latin1"))}`));
        return;
      }
      const [statusLine, ...headerLines] = data.subarray(0, end).toString("latin1").split("\r\n");
      const headers = new Map(
        headerLines.map((line) => {
          const colon = line.indexOf(":");
          return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
        }),
      );
      const length = Number(headers.get("content-length") ?? 0);
      resolve({
        status: Number(statusLine.split(" ")[1]),
        contentType: headers.get("content-type") ?? "",
        text: data.subarray(end + 4, end + 4 + length).toString("utf8"),
      });
    };
    const timer = setTimeout(finish, 15_000);
    socket.on("data", (chunk: Buffer) => {
      received.push(chunk);
      const data = Buffer.concat(received);
      const end = data.indexOf("\r\n\r\n");
      const length = /content-length:\s*(\d+)/i.exec(data.subarray(0, end).toString("latin1"));
      if (end >= 0 && length && data.length >= end + 4 + Number(length[1])) finish();
    });
    socket.on("close", finish);
    socket.on("error", () => finish());
    socket.on("connect", async () => {
      socket.write(rawCase.head, "latin1");
      const body = rawCase.body ?? Buffer.alloc(0);
      for (let offset = 0; offset < body.length && !settled; offset += 64 * 1024) {
        const ok = socket.write(body.subarray(offset, offset + 64 * 1024));
        if (!ok) await new Promise((drained) => socket.once("drain", drained));
      }
      if (rawCase.endAfterBody && !settled) socket.end();
    });
  });
}

describe("hostile and malformed input to POST /api/acr/webhook", () => {
  let stack: LocalStack;
  let deliveries: EventTables;

  beforeAll(async () => {
    stack = await startLocalStack({
      ownTables: true,
      env: { ACR_LOGIN_SERVER: LOGIN_SERVER, RECONCILE_SCHEDULE: "0 0 0 1 1 *" },
    });
    deliveries = eventTables(stack.tablesConnection);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  async function send(httpCase: HttpCase): Promise<Answer> {
    const response = await postWebhook(stack, httpCase.body, httpCase);
    return {
      status: response.status,
      contentType: response.headers.get("content-type") ?? "",
      text: await response.text(),
    };
  }

  async function recordOf(eventId: string) {
    const rows = deliveries.scan<Record<string, unknown>>(odata`eventId eq ${eventId}`);
    const found: Record<string, unknown>[] = [];
    for await (const row of rows) found.push(row);
    return found;
  }

  function expectOutcome(expected: Expected, answer: Answer): void {
    if (expected.code === undefined && expected.accepted === undefined) {
      expect(answer.status).toBe(expected.status);
      return;
    }
    expect(answer.contentType).toMatch(/^application\/json/);
    const body = JSON.parse(answer.text) as Json;
    expect(answer.status, answer.text.slice(0, 500)).toBe(expected.status);
    // No stack trace, no file positions, no secret, in any answer.
    expect(answer.text).not.toMatch(/\n\s+at |\bat .+:\d+:\d+|\.(ts|js):\d+/);
    expect(answer.text).not.toContain(TEST_SECRET);
    if (expected.accepted) return;

    expect(Object.keys(body)).toEqual(["error"]);
    const error = body.error as { code: string; message: string; details?: unknown };
    const codes = Array.isArray(expected.code) ? expected.code : [expected.code];
    expect(codes).toContain(error.code);
    expect(typeof error.message).toBe("string");
    expect(error.message).not.toBe("");
    if (expected.message)
      expect(error.message + JSON.stringify(error.details)).toContain(expected.message);
    if (expected.issue) {
      const issues = (error.details as { issues: { path: string; message: string }[] }).issues;
      expect(issues.map((issue) => issue.path)).toContain(expected.issue);
      for (const issue of issues) expect(issue.message).not.toBe("");
    }
  }

  /** The registry index grows with the first event of each registry. */
  function withoutRegistries(counts: Record<string, number>): Record<string, number> {
    const { [REGISTRIES_TABLE]: _, ...rest } = counts;
    return rest;
  }

  async function expectNothingChanged(expected: Expected, before: Inventory, answer: Answer) {
    const after = await inventory(stack);
    if (!expected.accepted) {
      expect(after.entities).toEqual(before.entities);
      expect(after.messages).toBe(before.messages);
      return;
    }
    const { id } = JSON.parse(answer.text) as { id: string };
    const records = await recordOf(id);
    expect(records).toHaveLength(1);
    // The arrival's rows (record, id index, logical event, markers) are all in its shard's table.
    const shard = eventStoreTableOf(String(records[0].partitionKey));
    const { [shard]: eventRows, ...others } = after.entities;
    const { [shard]: eventRowsBefore, ...othersBefore } = before.entities;
    expect(eventRows).toBeGreaterThan(eventRowsBefore ?? 0);
    expect(withoutRegistries(others)).toEqual(withoutRegistries(othersBefore));
    expect(after.messages).toBe(before.messages + (expected.accepted === "published" ? 1 : 0));
  }

  it("serves a valid delivery before the corpus", async () => {
    const answer = await send({ name: "valid", body: json(push()), status: 200 });
    expect(answer.status).toBe(200);
  });

  it.each(cases)("$name -> $status", async (httpCase) => {
    const before = await inventory(stack);
    const answer = await send(httpCase);
    expectOutcome(httpCase, answer);
    await expectNothingChanged(httpCase, before, answer);
  });

  it.each(rawCases)("raw HTTP: $name -> $status", async (rawCase) => {
    const before = await inventory(stack);
    const port = Number(new URL(stack.url).port);
    const answer = await rawExchange(port, rawCase);
    expectOutcome(rawCase, answer);
    await expectNothingChanged(rawCase, before, answer);
  });

  it("stored prototype keys as plain data", async () => {
    const body = pushWithRaw('"__proto__":{"polluted":"yes"}');
    const answer = await send({ name: "proto", body, status: 200 });
    expect(answer.status).toBe(200);
    const [record] = await recordOf((JSON.parse(answer.text) as { id: string }).id);
    expect(String(record.payload0)).toContain('"__proto__":{"polluted":"yes"}');
  });

  it("polluted no prototype: here, nor in the host (a ping without request.host keeps the configured registry)", async () => {
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.hasOwn(Object.prototype, "host")).toBe(false);
    const answer = await send({
      name: "ping",
      body: json({ action: "ping", request: {} }),
      status: 200,
    });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toMatchObject({ registry: LOGIN_SERVER });
  });

  it("an action named __proto__ leaves the console's overview, replay and health working", async () => {
    const payload = push((body) => (body.action = "__proto__"));
    expect((await send({ name: "proto action", body: json(payload), status: 200 })).status).toBe(
      200,
    );
    const overview = await fetch(`${stack.url}/api/overview`);
    const { series } = (await overview.json()) as { series: { deliveries: object } };
    expect(overview.status).toBe(200);
    expect(Object.hasOwn(series.deliveries, "__proto__")).toBe(true);
    const now = Date.now();
    const replay = await fetch(`${stack.url}/api/replay`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        from: new Date(now - 3_600_000).toISOString(),
        to: new Date(now).toISOString(),
        dryRun: true,
      }),
    });
    expect(replay.status, await replay.text()).toBe(200);
    const health = await fetch(`${stack.url}/api/health`);
    expect(health.status, await health.text()).toBe(200);
  });

  it("wrote no stack trace to the host output and still serves a valid delivery", async () => {
    const output = stack.output();
    expect(output.split("\n").filter((line) => /^\s+at /.test(line))).toEqual([]);
    expect(output).not.toContain(TEST_SECRET);
    const payload = push();
    const answer = await send({ name: "valid", body: json(payload), status: 200 });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toMatchObject({ id: payload.id, publishState: "published" });
  });

  it("has a corpus of at least 60 named cases", () => {
    expect(cases.length + rawCases.length).toBeGreaterThanOrEqual(60);
    expect(new Set([...cases, ...rawCases].map((c) => c.name)).size).toBe(
      cases.length + rawCases.length,
    );
  });
});
