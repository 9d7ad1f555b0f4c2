import type { TableClient, TableEntityQueryOptions, TableEntityResult } from "@azure/data-tables";
import type { TableAccess } from "./tableAccess";

/** Table Storage ends a query page after 5 s with a continuation, so a page never needs longer. */
export const PAGE_TIMEOUT_MS = 6000;

/** The most entities Table Storage returns in one page. */
const MAX_PAGE_SIZE = 1000;

/**
 * Every entity a query matches, fetched a page at a time as they are consumed; each page is one
 * bounded call, so a long listing is not cut short by a single timeout.
 */
export async function* queryEntities<T extends object>(
  access: TableAccess,
  table: TableClient,
  queryOptions: TableEntityQueryOptions,
  pageSize = MAX_PAGE_SIZE,
): AsyncGenerator<TableEntityResult<T>> {
  let continuationToken: string | undefined;
  do {
    const page = await access.call(async () => {
      const pages = table
        .listEntities<T>({ queryOptions, ...access.signal() })
        .byPage({ maxPageSize: Math.min(pageSize, MAX_PAGE_SIZE), continuationToken });
      return (await pages.next()).value;
    });
    if (!page) return;
    yield* page;
    continuationToken = page.continuationToken;
  } while (continuationToken);
}

/**
 * Where a newest-first listing stopped: the last item's RowKey and, when several sources were
 * merged, the key of the source it came from.
 */
export interface ListPosition {
  rowKey: string;
  sourceKey: string;
}

/** One query of a merged listing; its RowKeys start with an inverted time, so they sort newest first. */
export interface ListSource<T> {
  key: string;
  /** The rows to list, and those the source read only to leave out (see `PassedRow`). */
  entities: AsyncIterator<TableEntityResult<T> | PassedRow>;
}

/**
 * A row a source read and left out, which its query could not (a pointer whose record does not
 * match): it moves the listing's position on, and is not listed.
 */
export interface PassedRow {
  rowKey: string;
  passed: true;
}

function isPassed<T>(row: TableEntityResult<T> | PassedRow): row is PassedRow {
  return "passed" in row && row.passed === true;
}

export interface ListPage<T> {
  items: TableEntityResult<T>[];
  next?: ListPosition;
}

/**
 * Merges sources newest first, ordered by (RowKey, source key), and stops after `limit` items, or
 * after `mostPassed` rows left out (each cost a read: a page that finds few matches is cut short
 * rather than outlast the request); `next` is set only when more remain.
 */
export async function mergeNewestFirst<T>(
  sources: readonly ListSource<T>[],
  limit: number,
  mostPassed = Number.POSITIVE_INFINITY,
): Promise<ListPage<T>> {
  const heads: Head<T>[] = await Promise.all(
    sources.map(async (source) => ({ source, head: await source.entities.next() })),
  );
  const items: TableEntityResult<T>[] = [];
  let passed = 0;
  let last: ListPosition | undefined;
  while (items.length < limit && passed < mostPassed) {
    let first: Head<T> | undefined;
    for (const candidate of heads) {
      if (candidate.head.done) continue;
      if (!first || compare(candidate, first) < 0) first = candidate;
    }
    if (!first || first.head.done) break;
    const row = first.head.value;
    if (isPassed(row)) passed++;
    else items.push(row);
    last = { rowKey: rowKeyOf(first.head), sourceKey: first.source.key };
    first.head = await first.source.entities.next();
  }
  const more = heads.some((candidate) => !candidate.head.done);
  return { items, next: more ? last : undefined };
}

type Head<T> = { source: ListSource<T>; head: IteratorResult<TableEntityResult<T> | PassedRow> };

/** Table Storage orders keys by ordinal comparison, as `<` does. */
function compare<T>(a: Head<T>, b: Head<T>): number {
  return ordinal(rowKeyOf(a.head), rowKeyOf(b.head)) || ordinal(a.source.key, b.source.key);
}

function ordinal(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function rowKeyOf<T>(head: IteratorResult<TableEntityResult<T> | PassedRow>): string {
  return head.done ? "" : (head.value.rowKey ?? "");
}

/** Whether a source's rows equal to the position's RowKey come after it (and are still to list). */
export function tiesFollow(sourceKey: string, after: ListPosition): boolean {
  return sourceKey > after.sourceKey;
}
