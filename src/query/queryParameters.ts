import { z } from "zod";
import type {
  DeliveryFilter,
  DiscrepancyFilter,
  ListQuery,
  TimeWindow,
} from "../adapters/tableQueries";
import { LISTING_TIMES } from "../adapters/tableQueries";
import {
  eventFields,
  type FieldIssue,
  invalid,
  type Parsed,
  registryName,
  text,
  toFieldIssues,
} from "../core/acrWebhookPayload";
import { ARTIFACT_KINDS } from "../core/artifactKind";
import { DISCREPANCY_KINDS, VERDICTS } from "../core/crossCheck";
import { PUBLISH_STATES, type PublishState } from "../core/deliveryRecord";
import { FINDING_STATES } from "../core/discrepancy";
import { decodeContinuationToken } from "./continuationToken";

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 1000;
const DAY_MS = 86_400_000;
const MAX_WINDOW_DAYS = 31;
const STATES = [...PUBLISH_STATES, ...VERDICTS, "awaiting-release"] as const;

function isPublishState(state: string | undefined): state is PublishState {
  return (PUBLISH_STATES as readonly (string | undefined)[]).includes(state);
}

const isoDateTime = z.iso.datetime({ offset: true });
const isoDate = z.iso.date();

const instant = z
  .string()
  .refine(
    (value) =>
      (isoDateTime.safeParse(value).success || isoDate.safeParse(value).success) &&
      Number.isFinite(Date.parse(value)),
    "must be an ISO 8601 date-time with a zone, such as 2026-05-01T12:00:00Z, or a date",
  )
  .transform((value) => Date.parse(value));

const LIMIT_RULE = `must be a whole number from 1 to ${MAX_LIMIT}`;
const limit = z
  .string()
  .regex(/^[0-9]{1,4}$/, LIMIT_RULE)
  .transform(Number)
  .refine((value) => value >= 1 && value <= MAX_LIMIT, LIMIT_RULE);

export const windowShape = { from: instant.optional(), to: instant.optional() };
const pagingShape = { limit: limit.optional(), continuationToken: z.string().max(8192).optional() };

const eventsSchema = z.object({
  ...windowShape,
  ...pagingShape,
  registry: registryName.optional(),
  repository: text(512).min(1).optional(),
  connectedRegistry: text(256).min(1).optional(),
  by: z
    .enum(LISTING_TIMES, { error: `must be one of ${LISTING_TIMES.join(", ")}` })
    .default("arrived"),
  action: z
    .string()
    .regex(
      /^[a-z][a-z0-9_]{0,63}$/,
      "must be an action such as push, delete, chart_push, chart_delete, quarantine or ping",
    )
    .optional(),
  state: z.enum(STATES, { error: `must be one of ${STATES.join(", ")}` }).optional(),
  artifactKind: z
    .enum(ARTIFACT_KINDS, { error: `must be one of ${ARTIFACT_KINDS.join(", ")}` })
    .optional(),
  tagged: z.enum(["true", "false"], { error: "must be true or false" }).optional(),
});

const discrepanciesSchema = z.object({
  ...windowShape,
  ...pagingShape,
  registry: registryName.optional(),
  kind: z
    .enum(DISCREPANCY_KINDS, { error: `must be one of ${DISCREPANCY_KINDS.join(", ")}` })
    .optional(),
  state: z
    .enum(FINDING_STATES, { error: `must be one of ${FINDING_STATES.join(", ")}` })
    .default("open"),
});

const statsSchema = z.object({ ...windowShape, registry: registryName.optional() });

export interface PagedQuery<F> extends ListQuery<F> {
  /** What a continuation token is bound to: the route, its filters and the `from`/`to` given. */
  fingerprint: string;
}

export interface StatsQuery {
  window: TimeWindow;
  registry?: string;
}

export function parseEventsQuery(
  query: URLSearchParams,
  now: number,
): Parsed<PagedQuery<DeliveryFilter>> {
  const read = readQuery(eventsSchema, query);
  if (!read.ok) return read;
  const { by, registry, repository, connectedRegistry, action, state, artifactKind, tagged } =
    read.value;
  const fields = { by, registry, repository, connectedRegistry, action, artifactKind, tagged };
  const filter: DeliveryFilter = isPublishState(state)
    ? { ...fields, publishState: state }
    : { ...fields, crossCheck: state };
  return pagedQuery("events", read.value, filter, now);
}

export function parseDiscrepanciesQuery(
  query: URLSearchParams,
  now: number,
): Parsed<PagedQuery<DiscrepancyFilter>> {
  const read = readQuery(discrepanciesSchema, query);
  if (!read.ok) return read;
  const { registry, kind, state } = read.value;
  return pagedQuery("discrepancies", read.value, { registry, kind, state }, now);
}

export function parseStatsQuery(query: URLSearchParams, now: number): Parsed<StatsQuery> {
  const read = readQuery(statsSchema, query);
  if (!read.ok) return read;
  const window = windowOf(read.value, now);
  if (!window.ok) return window;
  return { ok: true, value: { window: window.value, registry: read.value.registry } };
}

/** `POST /api/backfill`'s optional window: none given, the backfill follows its cursors. */
export function parseBackfillQuery(
  query: URLSearchParams,
  now: number,
): Parsed<TimeWindow | undefined> {
  const read = readQuery(z.object(windowShape), query);
  if (!read.ok) return read;
  if (read.value.from === undefined && read.value.to === undefined) {
    return { ok: true, value: undefined };
  }
  return windowOf(read.value, now);
}

/** The `{id}` of `/events/{id}`: what the intakes take as an event id (no other was recorded). */
export function parseEventId(id: string | undefined): Parsed<string> {
  const parsed = eventFields.id.safeParse(id);
  if (parsed.success) return { ok: true, value: parsed.data };
  return invalid("route.id", parsed.error.issues.map((issue) => issue.message).join("; "));
}

/**
 * Reads the schema's parameters from the query string: an empty value counts as absent, a
 * repeated one is refused; other parameters (the function key's `code`) are left alone.
 */
export function readQuery<S extends z.ZodObject>(
  schema: S,
  query: URLSearchParams,
): Parsed<z.output<S>> {
  const raw: Record<string, string> = {};
  const issues: FieldIssue[] = [];
  for (const name of Object.keys(schema.shape)) {
    const values = query.getAll(name).filter((value) => value !== "");
    if (values.length > 1) issues.push({ path: `query.${name}`, message: "must be given once" });
    if (values.length > 0) raw[name] = values[0];
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    issues.push(...toFieldIssues(parsed.error, "query"));
  }
  return parsed.success && issues.length === 0
    ? { ok: true, value: parsed.data }
    : { ok: false, failure: issues };
}

function pagedQuery<F>(
  route: string,
  values: { from?: number; to?: number; limit?: number; continuationToken?: string },
  filter: F,
  now: number,
): Parsed<PagedQuery<F>> {
  const fingerprint = JSON.stringify([route, filter, values.from ?? null, values.to ?? null]);
  const limit = values.limit ?? DEFAULT_LIMIT;
  if (values.continuationToken !== undefined) {
    const cursor = decodeContinuationToken(values.continuationToken, fingerprint);
    // The check is no secret: a token made by hand must still keep to a query's bounds.
    if (!cursor || spanProblem(cursor.window)) {
      return invalid(
        "query.continuationToken",
        "is not a continuation token of this query (same route, filters, from and to)",
      );
    }
    return { ok: true, value: { ...cursor, filter, limit, fingerprint } };
  }
  const window = windowOf(values, now);
  if (!window.ok) return window;
  return { ok: true, value: { window: window.value, filter, limit, fingerprint } };
}

/** `to` defaults to now, `from` to 24 hours before `to`. */
export function windowOf(values: { from?: number; to?: number }, now: number): Parsed<TimeWindow> {
  const to = values.to ?? now;
  const window = { from: values.from ?? to - DAY_MS, to };
  // `to` not given is now: "after to" would name a parameter the request did not send.
  const problem = spanProblem(window, values.to === undefined ? "now" : "to");
  return problem ? invalid("query.from", problem) : { ok: true, value: window };
}

/** What one query may read: filters apply inside the window, so its span is the cost. */
function spanProblem({ from, to }: TimeWindow, toName = "to"): string | undefined {
  if (from > to) return `must not be after ${toName}`;
  if (to - from > MAX_WINDOW_DAYS * DAY_MS)
    return `must be at most ${MAX_WINDOW_DAYS} days before ${toName}`;
  return undefined;
}
