import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import type { Page } from "../adapters/tableQueries";
import { answerQuery } from "./answerQuery";
import { encodeContinuationToken } from "./continuationToken";
import type { PagedQuery, Parsed } from "./queryParameters";

/**
 * A paged listing, newest first: `{ items, continuationToken? }`, the token only when another
 * page follows.
 */
export function answerPage<F, T>(
  request: HttpRequest,
  context: InvocationContext,
  parse: (query: URLSearchParams, now: number) => Parsed<PagedQuery<F>>,
  list: (query: PagedQuery<F>) => Promise<Page<T>>,
  view: (item: T) => unknown,
): Promise<HttpResponseInit> {
  return answerQuery(
    request,
    context,
    (r, now) => parse(r.query, now),
    async (query) => {
      const page = await list(query);
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
