import fc from "fast-check";

/**
 * fast-check generators of ACR webhook payloads, shared by the pure property tests
 * (test/unit/payloadProperties.test.ts) and the ones over HTTP (test/e2e/propertyHttp.e2e.test.ts).
 */

export type JsonObject = Record<string, unknown>;

const TOP_FIELDS = ["id", "timestamp", "action", "target", "request", "actor", "source"];
const TARGET_FIELDS = [
  "mediaType",
  "size",
  "length",
  "digest",
  "repository",
  "tag",
  "url",
  "name",
  "version",
];
const REQUEST_FIELDS = ["id", "host", "method", "useragent", "addr"];

/** Unknown fields, as a future ACR version might add them: any JSON, shallow. */
const extraFields = (known: string[]) =>
  fc.dictionary(
    fc.string({ minLength: 1, maxLength: 12 }).filter((key) => !known.includes(key)),
    fc.jsonValue({ maxDepth: 3 }),
    { maxKeys: 3 },
  );

const hex = (length: number) =>
  fc.array(fc.constantFrom(..."0123456789abcdef"), { minLength: length, maxLength: length });

const digestArb = hex(64).map((digits) => `sha256:${digits.join("")}`);

/** Docker distribution's repository grammar: lowercase path components. */
const repositoryArb = fc
  .stringMatching(/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*){0,3}$/)
  .filter((name) => name.length <= 255);

/** Docker distribution's tag grammar, and the empty tag ACR sometimes sends. */
const tagArb = fc.oneof(fc.constant(""), fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/));

const OFFSETS: [string, number][] = [
  ["Z", 0],
  ["+00:00", 0],
  ["+02:00", 120],
  ["-05:30", -330],
  ["+14:00", 840],
];

/** ISO 8601 with 0 to 9 fractional digits and an offset, as ACR and Event Grid write them. */
const timestampArb = fc
  .record({
    at: fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2099, 11, 31) }),
    fraction: fc.constantFrom(0, 1, 3, 6, 7, 9),
    extraDigits: fc.array(fc.constantFrom(..."0123456789"), { minLength: 6, maxLength: 6 }),
    offset: fc.constantFrom(...OFFSETS),
  })
  .map(({ at, fraction, extraDigits, offset: [suffix, minutes] }) => {
    const local = new Date(at + minutes * 60_000).toISOString();
    const digits = `${local.slice(20, 23)}${extraDigits.join("")}`.slice(0, fraction);
    return `${local.slice(0, 19)}${fraction > 0 ? `.${digits}` : ""}${suffix}`;
  });

const hostArb = fc.oneof(
  fc.constantFrom(
    "myregistry.azurecr.io",
    "Demo.AzureCR.io",
    "192.168.100.227:5000",
    "[registry].azurecr.io",
  ),
  fc.domain(),
);

const targetArb = (chart: boolean) =>
  fc
    .tuple(
      fc.record(
        {
          mediaType: fc.constantFrom(
            "application/vnd.docker.distribution.manifest.v2+json",
            "application/vnd.oci.image.index.v1+json",
            "application/vnd.acr.helm.chart",
          ),
          size: fc.nat(),
          length: fc.nat(),
          digest: digestArb,
          repository: repositoryArb,
          tag: tagArb,
          url: fc.webUrl(),
          ...(chart
            ? { name: fc.string({ maxLength: 40 }), version: fc.stringMatching(/^[0-9.]{1,12}$/) }
            : {}),
        },
        { requiredKeys: [] },
      ),
      extraFields(TARGET_FIELDS),
    )
    .map(([fields, extra]) => ({ ...extra, ...fields }));

const requestArb = fc
  .tuple(
    fc.record(
      {
        id: fc.uuid(),
        host: hostArb,
        method: fc.constantFrom("PUT", "DELETE", "HEAD", "GET"),
        useragent: fc.string({ maxLength: 80 }),
        addr: fc.ipV4(),
      },
      { requiredKeys: [] },
    ),
    extraFields(REQUEST_FIELDS),
  )
  .map(([fields, extra]) => ({ ...extra, ...fields }));

const UNKNOWN_ACTIONS = ["retag", "import", "artifact_push", "toString", "constructor"];

/** A payload every registry could send: valid for the schema of its action. */
export const validPayloadArb: fc.Arbitrary<JsonObject> = fc
  .record({
    action: fc.oneof(
      fc.constantFrom("push", "delete", "quarantine", "chart_push", "chart_delete", "ping"),
      fc.constantFrom(...UNKNOWN_ACTIONS),
      fc.stringMatching(/^[a-z][a-z_]{0,20}$/),
    ),
    id: fc.oneof(fc.uuid(), fc.stringMatching(/^[A-Za-z0-9-]{1,64}$/)),
    timestamp: timestampArb,
    target: fc.option(fc.boolean(), { nil: undefined }),
    request: fc.option(requestArb, { nil: undefined }),
    actor: fc.option(fc.constant({}), { nil: undefined }),
    extra: extraFields(TOP_FIELDS),
    pingWithoutIds: fc.boolean(),
    chartTarget: targetArb(true),
    imageTarget: targetArb(false),
  })
  .map(({ action, id, timestamp, target, request, actor, extra, pingWithoutIds, ...targets }) => {
    const payload: JsonObject = { ...extra, action };
    if (!(action === "ping" && pingWithoutIds)) {
      payload.id = id;
      payload.timestamp = timestamp;
    }
    if (target !== undefined) {
      payload.target = action.startsWith("chart_") ? targets.chartTarget : targets.imageTarget;
    }
    if (request !== undefined) payload.request = request;
    if (actor !== undefined) payload.actor = actor;
    return payload;
  });

/** Every field of the payload that a mutation may drop, replace or retype. */
const FIELD_PATHS: readonly (readonly string[])[] = [
  [],
  ["id"],
  ["timestamp"],
  ["action"],
  ["target"],
  ["request"],
  ["actor"],
  ["source"],
  ...TARGET_FIELDS.map((field) => ["target", field]),
  ...REQUEST_FIELDS.map((field) => ["request", field]),
];

export type Mutation =
  | { kind: "drop"; path: readonly string[] }
  | { kind: "replace"; path: readonly string[]; value: unknown }
  | { kind: "prototype-key"; path: readonly string[]; key: "__proto__" | "constructor" };

/** Wrong-typed or hostile values, besides arbitrary JSON. */
const hostileValueArb = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(
    null,
    true,
    0,
    -1,
    1.5,
    "",
    " ",
    [],
    {},
    "a#b",
    "a?b",
    "a\\b",
    "a%2Fb",
    "a b",
    "a/b",
    "\u0000",
    "\r\n",
    "\u202e",
    "\ud800",
    "x".repeat(1100),
    "é".repeat(256),
    "2023-02-30T00:00:00Z",
    "2023-11-17 16:52:01",
    "1700239921343",
  ),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) }),
);

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant("drop" as const),
    path: fc.constantFrom(...FIELD_PATHS.filter((path) => path.length > 0)),
  }),
  fc.record({
    kind: fc.constant("replace" as const),
    path: fc.constantFrom(...FIELD_PATHS),
    value: hostileValueArb,
  }),
  fc.record({
    kind: fc.constant("prototype-key" as const),
    path: fc.constantFrom([], ["target"], ["request"], ["actor"]),
    key: fc.constantFrom("__proto__" as const, "constructor" as const),
  }),
);

/**
 * Applies mutations to a copy of the payload and returns the JSON text a sender would post: a
 * `__proto__` key is written as an own key, as JSON.parse reads it.
 */
export function mutatedText(payload: JsonObject, mutations: readonly Mutation[]): string {
  let body: unknown = structuredClone(payload);
  for (const mutation of mutations) {
    if (mutation.path.length === 0 && mutation.kind === "replace") {
      body = mutation.value;
      continue;
    }
    if (body === null || typeof body !== "object" || Array.isArray(body)) continue;
    const parent = parentOf(body as JsonObject, mutation.path);
    const field = mutation.path.at(-1);
    switch (mutation.kind) {
      case "drop":
        if (parent && field !== undefined) delete parent[field];
        break;
      case "replace":
        if (parent && field !== undefined) parent[field] = mutation.value;
        break;
      case "prototype-key": {
        const holder =
          mutation.path.length === 0 ? (body as JsonObject) : ensureObject(body, mutation.path);
        if (!holder) break;
        const value =
          mutation.key === "__proto__" ? { polluted: "yes" } : { prototype: { polluted: "yes" } };
        Object.defineProperty(holder, mutation.key, {
          value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
        break;
      }
    }
  }
  return JSON.stringify(body) ?? "null";
}

function parentOf(body: JsonObject, path: readonly string[]): JsonObject | undefined {
  if (path.length === 1) return body;
  return ensureObject(body, path.slice(0, -1));
}

/** The object at `path`, created when absent; undefined when something else is in the way. */
function ensureObject(body: unknown, path: readonly string[]): JsonObject | undefined {
  let current = body as JsonObject;
  for (const segment of path) {
    if (!Object.hasOwn(current, segment)) current[segment] = {};
    const next = current[segment];
    if (next === null || typeof next !== "object" || Array.isArray(next)) return undefined;
    current = next as JsonObject;
  }
  return current;
}
