/**
 * Why a request to the bridge got no answer, in one line: its URL without the query (in Azure it
 * may carry the function key, `?code=`) and the network's reason (`ECONNREFUSED`), not fetch's
 * bare "fetch failed".
 */
export function bridgeUnreachable(url: string | URL, error: unknown): string {
  const { origin, pathname } = new URL(url);
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const reason = cause?.code ?? cause?.message;
  return `bridge not reachable at ${origin}${pathname}${reason ? ` (${reason})` : ""}`;
}
