import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { fromDeliveryEntity, toDeliveryEntity } from "../../src/adapters/deliveryEntity";
import {
  eventIdKeys,
  logicalKeys,
  occurredKeys,
  pendingKeys,
  recordKeys,
  tagKeys,
  windowKeys,
} from "../../src/adapters/tableLayout";
import {
  type AcrWebhookPayload,
  MAX_PAYLOAD_DEPTH,
  validateAcrWebhookPayload,
} from "../../src/core/acrWebhookPayload";
import { withArrival } from "../../src/core/crossCheck";
import type { DeliveryRecord } from "../../src/core/deliveryRecord";
import { type RegistryEvent, registryEventFromWebhook } from "../../src/core/registryEvent";
import { resolveRegistry } from "../../src/core/registryIdentity";
import { topicMessageFor } from "../../src/core/topicMessage";
import {
  type JsonObject,
  mutatedText,
  mutationArb,
  validPayloadArb,
} from "../support/payloadArbitraries";

const RUNS = { numRuns: 500 };
const FALLBACK_LOGIN_SERVER = "fallback.azurecr.io";
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const FORBIDDEN_IN_KEYS = /[/\\#?\u0000-\u001f\u007f-\u009f]/;
const RECEIVED_AT = Date.UTC(2024, 0, 2, 3, 4, 5);
const WINDOW_MS = 300_000;

const prototypeKeys = () => Object.getOwnPropertyNames(Object.prototype).sort();
const prototypeBefore = prototypeKeys();

afterAll(() => {
  // Nothing above may have polluted the prototype every object shares.
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(prototypeKeys()).toEqual(prototypeBefore);
});

/** What the webhook handler does with an accepted payload, up to the table entity and the message. */
function normalise(payload: AcrWebhookPayload, registryQuery?: string): RegistryEvent {
  return registryEventFromWebhook(payload, {
    registry: resolveRegistry(payload, registryQuery, FALLBACK_LOGIN_SERVER),
    receivedAt: RECEIVED_AT,
    fallbackEventId: "00000000-0000-4000-8000-000000000000",
  });
}

function expectValidKey(key: string): void {
  expect(key.length).toBeLessThanOrEqual(1024);
  expect(key).not.toMatch(FORBIDDEN_IN_KEYS);
}

/** Everything that must hold for a payload the validator accepted, whatever its origin. */
function expectAcceptedPayloadInvariants(text: string): void {
  const result = validateAcrWebhookPayload(JSON.parse(text));
  if (!result.ok) return;
  const event = normalise(result.value);

  expect(typeof event.eventId).toBe("string");
  expect(event.eventId).not.toBe("");
  expect(Number.isFinite(event.occurredAt)).toBe(true);

  const logical = withArrival(undefined, event, RECEIVED_AT, WINDOW_MS);

  // The payload reaches the topic exactly as it was sent, unknown and `__proto__` keys included.
  const original = JSON.stringify(JSON.parse(text));
  expect(JSON.stringify(topicMessageFor(event).body.data)).toBe(original);

  // ... and survives the table entity, chunks and all.
  const record: DeliveryRecord = {
    event,
    route: { kind: "not-routed", reason: "unknown-action" },
    receivedAt: RECEIVED_AT,
    request: { method: "POST", uri: "https://bridge.example/api/acr/webhook", headers: {} },
    publishState: "not-routed",
    deliveryCount: 1,
    arrivals: [],
    publishedTopics: [],
    publishAttempts: 0,
  };
  const keys = recordKeys(record);
  const stored = fromDeliveryEntity(toDeliveryEntity(keys, record));
  expect(JSON.stringify(stored.event.payload)).toBe(original);
  expect(validateAcrWebhookPayload(stored.event.payload).ok).toBe(true);

  // Every row one arrival writes has legal keys, in one partition (one transaction), each its own.
  const rows = [
    keys,
    occurredKeys(record),
    eventIdKeys(event),
    logicalKeys(logical),
    windowKeys(logical),
    pendingKeys(record),
    ...(event.tag ? [tagKeys({ ...event, tag: event.tag })] : []),
  ];
  for (const row of rows) {
    expectValidKey(row.partitionKey);
    expectValidKey(row.rowKey);
  }
  expect(new Set(rows.map((row) => row.partitionKey)).size).toBe(1);
  expect(new Set(rows.map((row) => row.rowKey)).size).toBe(rows.length);
}

describe("validateAcrWebhookPayload never throws", () => {
  it("on any JSON value", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value);
        expect(() => validateAcrWebhookPayload(JSON.parse(text))).not.toThrow();
        expectAcceptedPayloadInvariants(text);
      }),
      RUNS,
    );
  });

  it("on any JSON object that names an action", () => {
    const bodies = fc
      .tuple(
        fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 4 }), { maxKeys: 6 }),
        fc.constantFrom("ping", "push", "delete", "chart_push", "quarantine", "retag"),
      )
      .map(([fields, action]) => ({ ...fields, action }));
    fc.assert(
      fc.property(bodies, (body) => {
        const text = JSON.stringify(body);
        expect(() => validateAcrWebhookPayload(JSON.parse(text))).not.toThrow();
        expectAcceptedPayloadInvariants(text);
      }),
      RUNS,
    );
  });

  it("on valid payloads with fields dropped, replaced, retyped or given prototype keys", () => {
    fc.assert(
      fc.property(
        validPayloadArb,
        fc.array(mutationArb, { minLength: 1, maxLength: 3 }),
        (payload, mutations) => {
          const text = mutatedText(payload, mutations);
          expect(() => validateAcrWebhookPayload(JSON.parse(text))).not.toThrow();
          expectAcceptedPayloadInvariants(text);
        },
      ),
      RUNS,
    );
  });
});

describe("valid payloads", () => {
  it("are accepted, normalised to valid keys and round-trip to the topic message unchanged", () => {
    fc.assert(
      fc.property(validPayloadArb, (payload) => {
        const text = JSON.stringify(payload);
        const result = validateAcrWebhookPayload(JSON.parse(text));
        if (!result.ok) throw new Error(`refused: ${JSON.stringify(result.failure)}\n${text}`);
        expectAcceptedPayloadInvariants(text);
      }),
      RUNS,
    );
  });

  it("keep the registry query parameter out of the keys' forbidden characters", () => {
    fc.assert(
      fc.property(
        validPayloadArb,
        fc.stringMatching(/^[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$/),
        (payload, registry) => {
          const result = validateAcrWebhookPayload(payload);
          if (!result.ok) return;
          const event = normalise(result.value, registry);
          const keys = recordKeys({ event, receivedAt: RECEIVED_AT });
          expectValidKey(keys.partitionKey);
          expectValidKey(keys.rowKey);
        },
      ),
      { numRuns: 200 },
    );
  });
});

/** The examples behind the rules the properties rely on. */
describe("hostile field values", () => {
  const push = (change: (body: JsonObject & { target: JsonObject }) => void): JsonObject => {
    const body = {
      id: "cb8c3971-9adc-488b-0000-43cbb4974ff5",
      timestamp: "2023-11-17T16:52:01.343145347Z",
      action: "push",
      target: { repository: "hello-world", tag: "v1", digest: `sha256:${"a".repeat(64)}` },
      request: { host: "myregistry.azurecr.io" },
    };
    change(body);
    return body;
  };
  const pathsOf = (body: unknown) => {
    const result = validateAcrWebhookPayload(body);
    return result.ok ? "accepted" : [...new Set(result.failure.map((issue) => issue.path))];
  };

  it.each([
    ["#", "a#b"],
    ["?", "a?b"],
    ["\\", "a\\b"],
    ["%", "a%2Fb"],
    ["a space", "a b"],
    ["a tab", "a\tb"],
    ["NUL", "a\u0000b"],
    ["a line feed", "a\nb"],
    ["DEL", "a\u007fb"],
    ["a no-break space", "a\u00a0b"],
  ])("refuses %s in target.repository", (_name, repository) => {
    expect(pathsOf(push((b) => (b.target.repository = repository)))).toEqual(["target.repository"]);
  });

  it.each([
    ["lowercase path components", "prod/team/api"],
    ["uppercase (not produced by ACR, kept rather than lost)", "Hello-World"],
    ["non-ASCII", "équipe/日本/app🚀"],
    ["dots, dashes and underscores", "a.b-c__d/e"],
  ])("accepts %s in target.repository", (_name, repository) => {
    expect(pathsOf(push((b) => (b.target.repository = repository)))).toBe("accepted");
  });

  it.each([
    ["/", "v1/latest"],
    ["#", "v1#x"],
    ["?", "v1?x"],
    ["\\", "v1\\x"],
    ["a leading dot", ".v1"],
    ["a leading dash", "-v1"],
    ["a space", "v 1"],
    ["NUL", "v1\u0000"],
    ["non-ASCII", "vé"],
    ["129 characters", `v${"1".repeat(128)}`],
  ])("refuses %s in target.tag", (_name, tag) => {
    expect(pathsOf(push((b) => (b.target.tag = tag)))).toEqual(["target.tag"]);
  });

  it.each(["", "v1", "latest", "V1.2.3-rc_1", "_x", "wordpress-5.4.0.tgz", "1".repeat(128)])(
    "accepts the tag %j",
    (tag) => {
      expect(pathsOf(push((b) => (b.target.tag = tag)))).toBe("accepted");
    },
  );

  it("refuses an id that would make the RowKey longer than Azure allows", () => {
    expect(pathsOf(push((b) => (b.id = "é".repeat(256))))).toEqual(["id"]);
    expect(pathsOf(push((b) => (b.id = "x".repeat(256))))).toBe("accepted");
    expect(pathsOf(push((b) => (b.id = "x".repeat(257))))).toEqual(["id"]);
  });

  it("refuses a request.host that would make the PartitionKey longer than Azure allows", () => {
    expect(pathsOf(push((b) => (b.request = { host: "é".repeat(255) })))).toEqual(["request.host"]);
    expect(pathsOf(push((b) => (b.request = { host: "a".repeat(254) })))).toEqual(["request.host"]);
    expect(pathsOf(push((b) => (b.request = { host: "a".repeat(253) })))).toBe("accepted");
  });

  it(`refuses a payload nested deeper than ${MAX_PAYLOAD_DEPTH} levels, naming the field`, () => {
    const nested = (depth: number): unknown => {
      let value: unknown = 1;
      for (let level = 0; level < depth; level++) value = [value];
      return value;
    };
    expect(pathsOf({ ...push(() => {}), future: nested(100_000) })).toEqual(["future"]);
    expect(pathsOf({ ...push(() => {}), future: nested(MAX_PAYLOAD_DEPTH - 2) })).toBe("accepted");
    expect(pathsOf(push((b) => (b.target.deep = nested(MAX_PAYLOAD_DEPTH))))).toEqual(["target"]);
  });

  it("keeps a __proto__ key as data without touching any prototype", () => {
    const text =
      '{"__proto__":{"polluted":"yes"},"id":"x","timestamp":"2024-01-01T00:00:00Z","action":"push",' +
      '"target":{"__proto__":{"polluted":"yes"},"repository":"r","tag":"v1"},' +
      '"constructor":{"prototype":{"polluted":"yes"}}}';
    const result = validateAcrWebhookPayload(JSON.parse(text));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(Object.getPrototypeOf(result.value)).toBe(Object.prototype);
    expect(Object.hasOwn(result.value, "__proto__")).toBe(true);
    expect(JSON.stringify(topicMessageFor(normalise(result.value)).body.data)).toBe(
      JSON.stringify(JSON.parse(text)),
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
