import { z } from "zod";
import type { ListPosition } from "../adapters/tablePaging";
import type { TimeWindow } from "../adapters/tableQueries";
import { parseJsonText } from "../core/parseJsonText";
import { shortHash } from "../core/shortHash";

/** Where the next page starts, and the time window every page of the listing shares. */
export interface Cursor {
  window: TimeWindow;
  after: ListPosition;
}

/**
 * Keys as Table Storage holds them: well-formed Unicode. A lone surrogate in a token made by hand
 * cannot go into a query's URL (it was a 503, storage blamed for the request's fault).
 */
const wellFormed = (value: string) => value.isWellFormed();

const tokenSchema = z.strictObject({
  from: z.number().int(),
  to: z.number().int(),
  rowKey: z
    .string()
    .max(1024)
    .regex(/^([do]\|)?[0-9]{13}\|/)
    .refine(wellFormed),
  sourceKey: z.string().max(4096).refine(wellFormed),
  check: z.string(),
});

/**
 * base64url JSON of the cursor, with a check over the cursor and the query it pages through, so an
 * edited token or one from another query is refused. Not a secret: a token grants nothing a query
 * could not ask for.
 */
export function encodeContinuationToken(cursor: Cursor, fingerprint: string): string {
  const body = { ...cursor.window, ...cursor.after };
  return Buffer.from(JSON.stringify({ ...body, check: checkOf(body, fingerprint) })).toString(
    "base64url",
  );
}

export function decodeContinuationToken(token: string, fingerprint: string): Cursor | undefined {
  const json = parseJsonText(Buffer.from(token, "base64url").toString("utf8"));
  if (!json.ok) return undefined;
  const parsed = tokenSchema.safeParse(json.value);
  if (!parsed.success) return undefined;
  const { check, ...body } = parsed.data;
  if (check !== checkOf(body, fingerprint)) return undefined;
  return {
    window: { from: body.from, to: body.to },
    after: { rowKey: body.rowKey, sourceKey: body.sourceKey },
  };
}

function checkOf(body: TimeWindow & ListPosition, fingerprint: string): string {
  return shortHash([
    JSON.stringify([fingerprint, body.from, body.to, body.rowKey, body.sourceKey]),
  ]);
}
