import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import type { Page, TableQueries } from "../adapters/tableQueries";
import type { Parsed } from "../core/acrWebhookPayload";
import { answerQuery } from "./answerQuery";
import { encodeContinuationToken } from "./continuationToken";
import type { PagedQuery } from "./queryParameters";

export type ListingHandler = (
  request: HttpRequest,
  context: InvocationContext,
  queries: TableQueries,
) => Promise<HttpResponseInit>;

/**
 * A paged listing, newest first: `{ items, continuationToken? }`, the token only when another
 * page follows.
 */
export function pagedListing<F, T>(
  parse: (query: URLSearchParams, now: number) => Parsed<PagedQuery<F>>,
  list: (queries: TableQueries, query: PagedQuery<F>) => Promise<Page<T>>,
  view: (item: T) => unknown,
): ListingHandler {
  return (request, context, queries) =>
    answerQuery(
      request,
      context,
      (r, now) => parse(r.query, now),
      async (query) => {
        const page = await list(queries, query);
        const continuationToken =
          page.next &&
          encodeContinuationToken({ window: query.window, after: page.next }, query.fingerprint);
        return {
          status: 200,
          jsonBody: { items: page.items.map((item) => view(item)), continuationToken },
        };
      },
    );
}
