import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { z } from "zod";
import type { TableQueries, TimeWindow } from "../adapters/tableQueries";
import { type Parsed, registryName, text } from "../core/acrWebhookPayload";
import { crossCheckOf } from "../core/crossCheck";
import type { DeliveryRecord } from "../core/deliveryRecord";
import { isoTime } from "../core/isoTime";
import { answerQuery } from "../query/answerQuery";
import { type EventLookup, findEvent } from "../query/queryEventById";
import { parseEventId, readQuery, windowOf, windowShape } from "../query/queryParameters";

export interface SearchDeps {
  lookup: EventLookup;
  queries: Pick<TableQueries, "listDeliveries">;
}

interface SearchQuery {
  q: string;
  window: TimeWindow;
  registry?: string;
}

const searchSchema = z.object({
  ...windowShape,
  registry: registryName.optional(),
  q: text(512)
    .transform((value) => value.trim())
    .pipe(z.string().min(1, "must name an event id, repository, digest or tag")),
});

/** One search reads at most this many deliveries of the window, newest first. */
const MAX_SCANNED = 2000;
const PAGE = 500;
/** At most this many matches are listed, newest first; `truncated` says when more matched. */
const MAX_RESULTS = 100;

function parseSearch(query: URLSearchParams, now: number): Parsed<SearchQuery> {
  const read = readQuery(searchSchema, query);
  if (!read.ok) return read;
  const window = windowOf(read.value, now);
  if (!window.ok) return window;
  return {
    ok: true,
    value: { q: read.value.q, window: window.value, registry: read.value.registry },
  };
}

/**
 * `GET /api/search?q=`: an event id (exact, any time), or a repository (part of its name), digest
 * or tag (exact) among the window's newest deliveries. Results are summaries; the story of each
 * is `/api/story/{id}`.
 */
export function searchEvents(
  request: HttpRequest,
  context: InvocationContext,
  deps: SearchDeps,
): Promise<HttpResponseInit> {
  return answerQuery(
    request,
    context,
    (r, now) => parseSearch(r.query, now),
    async ({ q, window, registry }) => {
      // Only what can be an event id is looked up as one (a key has a bounded length).
      const byId = parseEventId(q).ok ? (await findEvent(deps.lookup, q)).deliveries : [];
      const matches = byId.filter(
        (record) => registry === undefined || record.event.registry === registry,
      );
      const needle = q.toLowerCase();
      let scanned = 0;
      let truncated = false;
      let after: Parameters<TableQueries["listDeliveries"]>[0]["after"];
      do {
        const page = await deps.queries.listDeliveries({
          window,
          filter: { by: "arrived", registry },
          limit: PAGE,
          after,
        });
        scanned += page.items.length;
        for (const record of page.items) {
          const { event } = record;
          const hit =
            event.digest === q ||
            event.tag === q ||
            (event.repository ?? "").toLowerCase().includes(needle);
          // Found by its id already (an id that is also its tag or in its repository's name).
          const listed = (match: DeliveryRecord) =>
            match.event.eventId === event.eventId &&
            match.event.origin === event.origin &&
            match.event.registry === event.registry;
          if (!hit || matches.some(listed)) continue;
          if (matches.length < MAX_RESULTS) matches.push(record);
          else truncated = true;
        }
        after = page.next;
      } while (after && scanned < MAX_SCANNED && !truncated);
      return {
        status: 200,
        jsonBody: {
          q,
          scanned,
          complete: after === undefined,
          truncated,
          items: matches.map(summary),
        },
      };
    },
  );
}

function summary(record: DeliveryRecord) {
  const { event } = record;
  return {
    id: event.eventId,
    origin: event.origin,
    action: event.action,
    registry: event.registry,
    region: event.region,
    repository: event.repository,
    tag: event.tag,
    digest: event.digest,
    occurredAt: isoTime(event.occurredAt),
    receivedAt: isoTime(record.receivedAt),
    publishState: record.publishState,
    // Its verdict, else `open` while a twin is awaited, else `not cross-checked` (a ping).
    crossCheck: crossCheckOf(undefined, [record]),
  };
}
