import { z } from "zod";
import { CONTROL_CHARACTERS, printable } from "./printable";
import type { Result } from "./result";

/**
 * The body of one ACR webhook delivery: a bare event, no envelope.
 * Schema: https://learn.microsoft.com/azure/container-registry/container-registry-webhook-reference
 *
 * Lenient on purpose: only `id`, `timestamp` and `action` can be relied on (none of them on
 * `ping`), registries omit fields the docs show, and unknown fields are kept untouched.
 * Strict on types: a field that is present must have its documented type.
 */

export const text = (max: number) =>
  z
    .string()
    .max(max)
    .refine(
      (value) => !CONTROL_CHARACTERS.test(value),
      "must not contain control characters or bidirectional formatting characters",
    )
    .refine((value) => value.isWellFormed(), "must be well-formed Unicode");

/**
 * What the bridge accepts of the text that names an event, and so of what it stores and looks it
 * up by: an event id and a login server, percent-encoded as in a URL (a login server is a DNS name:
 * at most 253 characters), and a timestamp's year (what a millisecond clock of 13 digits reaches).
 * The store's adapters check that names built from values at these bounds fit what they write.
 */
export const EVENT_NAME_LIMITS = {
  encodedEventId: 480,
  encodedLoginServer: 253,
  firstYear: 1601,
  lastYear: 2285,
} as const;

/** Timestamps keep their original string: JS dates drop ACR's 7th to 9th fractional digits. */
const timestamp = z.iso.datetime({ offset: true }).refine((value) => {
  const year = new Date(value).getUTCFullYear();
  // Not a date at all is the format check's to report, once.
  return (
    Number.isNaN(year) ||
    (year >= EVENT_NAME_LIMITS.firstYear && year <= EVENT_NAME_LIMITS.lastYear)
  );
}, `must be between the years ${EVENT_NAME_LIMITS.firstYear} and ${EVENT_NAME_LIMITS.lastYear}`);

const count = z.number().int().nonnegative();

/**
 * Characters no registry can put in a repository name (Docker distribution's grammar is lowercase
 * path components; ACR adds nothing to it): whitespace, `#`, `?`, `\` and `%` would also break the
 * `repo:tag` subject and URLs built from it. Anything else (uppercase, non-ASCII) is kept, so a
 * registry that bends the grammar loses no event.
 */
const IMPOSSIBLE_IN_REPOSITORY = /[\s#?\\%]/;

/** Docker distribution's tag grammar. */
export const TAG_GRAMMAR = "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}";

/** A repository name as a registry sends it (and as a scope names it). */
export const repositoryName = text(512).refine(
  (value) => !IMPOSSIBLE_IN_REPOSITORY.test(value),
  "must be a repository name (no whitespace, '#', '?', '\\' or '%')",
);

/** A tag as a registry sends it: Docker's grammar, or empty (ACR sends an empty tag too). */
export const tagName = text(256).regex(
  new RegExp(`^(${TAG_GRAMMAR})?$`),
  `must be a tag: ${TAG_GRAMMAR}, or empty`,
);

/** Text bounded both as it is and percent-encoded (see `EVENT_NAME_LIMITS`). */
const encodedText = (max: number, maxEncoded: number) =>
  text(max).refine(
    (value) => !value.isWellFormed() || encodeURIComponent(value).length <= maxEncoded,
    `must be at most ${maxEncoded} characters once percent-encoded`,
  );

const target = z.looseObject({
  mediaType: text(255).optional(),
  size: count.optional(),
  length: count.optional(),
  digest: text(255).optional(),
  repository: repositoryName.optional(),
  tag: tagName.optional(),
  url: text(4096).optional(),
});

export const chartTarget = target.extend({
  name: text(256).optional(),
  version: text(256).optional(),
});

const LOGIN_SERVER_RULE = `must be at most ${EVENT_NAME_LIMITS.encodedLoginServer} characters once lower-cased and percent-encoded`;

function loginServerFits(value: string): boolean {
  return (
    !value.isWellFormed() ||
    encodeURIComponent(value.toLowerCase()).length <= EVENT_NAME_LIMITS.encodedLoginServer
  );
}

/**
 * A registry to find events by, spelled as recorded ones are (trimmed, lower case) and no longer
 * than a recorded one can be: the store looks it up by name.
 */
export const registryName = text(255)
  .transform((value) => value.trim().toLowerCase())
  .pipe(z.string().min(1, "must name a registry").refine(loginServerFits, LOGIN_SERVER_RULE));

const request = z.looseObject({
  id: text(256).optional(),
  // The registry's login server, which names the delivery's registry lower-cased.
  host: text(255).refine(loginServerFits, LOGIN_SERVER_RULE).optional(),
  method: text(16).optional(),
  useragent: text(1024).optional(),
  addr: text(256).optional(),
});

export const eventFields = {
  id: encodedText(256, EVENT_NAME_LIMITS.encodedEventId)
    .min(1)
    // A URL path cannot name such an id: `/api/events/..` is `/api/`.
    .refine((value) => value !== "." && value !== "..", "must not be '.' or '..'"),
  timestamp,
  request: request.optional(),
  actor: z.looseObject({}).optional(),
  source: z.looseObject({}).optional(),
};

const imageEvent = (action: "push" | "delete" | "quarantine") =>
  z.looseObject({ ...eventFields, action: z.literal(action), target: target.optional() });

const chartEvent = (action: "chart_push" | "chart_delete") =>
  z.looseObject({ ...eventFields, action: z.literal(action), target: chartTarget.optional() });

const pingEvent = z.looseObject({
  ...eventFields,
  id: eventFields.id.optional(),
  timestamp: timestamp.optional(),
  action: z.literal("ping"),
  target: target.optional(),
});

/** A new ACR action must never lose data: it is recorded, answered 200 and routed nowhere. */
const unknownActionEvent = z.looseObject({
  ...eventFields,
  action: text(64).min(1),
  target: target.optional(),
});

export const schemaByAction = {
  push: imageEvent("push"),
  delete: imageEvent("delete"),
  quarantine: imageEvent("quarantine"),
  chart_push: chartEvent("chart_push"),
  chart_delete: chartEvent("chart_delete"),
  ping: pingEvent,
} as const;

export type AcrWebhookPayload =
  | z.infer<(typeof schemaByAction)[keyof typeof schemaByAction]>
  | z.infer<typeof unknownActionEvent>;

/** Where and why a payload failed validation, readable by whoever configured the webhook. */
export interface FieldIssue {
  path: string;
  message: string;
}

/** Field issues as one line for logs and reasons: `path: message; path: message`. */
export function describeFieldIssues(issues: readonly FieldIssue[]): string {
  return issues.map((issue) => `${issue.path}: ${issue.message}`).join("; ");
}

/** A value read from input, or where and why it was refused. */
export type Parsed<T> = Result<T, FieldIssue[]>;

/** The refusal of one field. */
export function invalid(path: string, message: string): { ok: false; failure: FieldIssue[] } {
  return { ok: false, failure: [{ path, message }] };
}

const envelope = z.looseObject({ action: text(64).min(1) });

/**
 * Deeper than any registry nests (ACR: 3 levels); the payload is stored and serialised
 * recursively, so a hostile one nested thousands deep is refused here rather than overflow there.
 */
export const MAX_PAYLOAD_DEPTH = 32;

/** Picks the schema by `action` first, so a failure names the fields, not a union's branches. */
export function validateAcrWebhookPayload(body: unknown): Parsed<AcrWebhookPayload> {
  const head = envelope.safeParse(body);
  if (!head.success) return { ok: false, failure: toFieldIssues(head.error) };
  const action = head.data.action;
  const schema = Object.hasOwn(schemaByAction, action)
    ? schemaByAction[action as keyof typeof schemaByAction]
    : unknownActionEvent;
  const parsed = schema.safeParse(body);
  if (!parsed.success) return { ok: false, failure: toFieldIssues(parsed.error) };
  const tooDeep = pathDeeperThan(body, MAX_PAYLOAD_DEPTH);
  if (tooDeep !== undefined) {
    return invalid(fieldPath(tooDeep), `must not nest deeper than ${MAX_PAYLOAD_DEPTH} levels`);
  }
  // The body itself, not the parser's copy: the schemas transform nothing, and the copy drops an
  // own `__proto__` key (to spare the prototype), which is data like any unknown field.
  return { ok: true, value: body as AcrWebhookPayload };
}

/** The top-level field (or `(body)`) holding a value nested deeper than `max`; iterative. */
export function pathDeeperThan(body: unknown, max: number): string | undefined {
  const stack: { value: unknown; depth: number; field: string }[] = [
    { value: body, depth: 1, field: "(body)" },
  ];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { value, depth, field } = item;
    if (value === null || typeof value !== "object") continue;
    if (depth > max) return field;
    for (const [key, child] of Object.entries(value)) {
      stack.push({ value: child, depth: depth + 1, field: depth === 1 ? key : field });
    }
  }
  return undefined;
}

/** Zod's issues as field paths under `prefix`: `target.size`, `query.from`, `[0].data.action`. */
export function toFieldIssues(error: z.ZodError, ...prefix: string[]): FieldIssue[] {
  return error.issues.flatMap((issue) => {
    const path = [...prefix, ...issue.path.map(String)];
    // A strict object names each field it does not know, as any other bad field is named.
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({ path: fieldPath(...path, key), message: "unknown field" }));
    }
    return [{ path: fieldPath(...path), message: issue.message }];
  });
}

/**
 * Segments joined with `.`, empty ones left out; `(body)` for the root. A segment may be a field
 * name the sender chose: its control and bidirectional characters are escaped (`printable`), as
 * the path goes into log lines and dead-letter reasons as well as answers.
 */
export function fieldPath(...segments: string[]): string {
  const path = segments
    .filter((segment) => segment !== "")
    .map(printable)
    .join(".");
  return path === "" ? "(body)" : path;
}
