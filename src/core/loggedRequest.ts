import { MASK, maskHeaders, maskUri, type RecordedRequest } from "./deliveryRecord";
import { keptRequest } from "./keptRequest";

/**
 * ACR's delivery log is read for every webhook of a registry, another consumer's too, whose
 * credentials ride in its service URI (user info, a chat service's path, a signature parameter)
 * or a custom header: what a record keeps of a logged request is only what the intake reads.
 * Nor does anything bound what another consumer configured: what a record keeps of it is cut.
 */

/** A request as ACR's log holds it, its fields checked. */
export interface LoggedRequest {
  uri?: URL;
  headers: Record<string, string>;
  /** The status ACR got; absent when it got none. */
  responseStatus?: number;
}

/**
 * What a record keeps of a logged request: masked (below) first, so no part of a secret is kept,
 * then cut to fit (`keptRequest`).
 */
export function recordedLoggedRequest(
  logged: LoggedRequest,
  options: { authHeader: string; secrets: readonly string[]; maxChars: number },
): RecordedRequest {
  return keptRequest(
    {
      method: "POST",
      uri: logged.uri ? maskLoggedUri(logged.uri, options.secrets) : "",
      headers: maskLoggedHeaders(logged.headers, options.authHeader, options.secrets),
      loggedResponse: { status: logged.responseStatus },
    },
    options.maxChars,
  );
}

/** The headers ACR sets on each delivery itself; any other is a webhook's custom header. */
const ACR_HEADERS = new Set(["content-type", "content-length", "user-agent", "host"]);

/** The query parameters the intake reads (`webhookQuery.ts`). */
const INTAKE_PARAMETERS = new Set(["registry", "region"]);

const INTAKE_PATH = /\/api\/acr\/webhook\/?$/;

/**
 * The logged URI without its user info, its path unless it is the intake's (as the health check
 * shows a URI at another host), and the value of every parameter but `registry` and `region`.
 */
function maskLoggedUri(uri: URL, secrets: readonly string[]): string {
  const intake = INTAKE_PATH.test(uri.pathname);
  const kept = new URL(uri.origin);
  if (intake) kept.pathname = uri.pathname;
  for (const [name, value] of uri.searchParams) {
    kept.searchParams.append(name, INTAKE_PARAMETERS.has(name.toLowerCase()) ? value : MASK);
  }
  const masked = new URL(maskUri(kept.toString(), secrets));
  return intake ? masked.toString() : `${masked.origin}/…${masked.search}`;
}

/** The logged headers with the value of each custom header masked, their names kept. */
function maskLoggedHeaders(
  headers: Record<string, string>,
  authHeader: string,
  secrets: readonly string[],
): Record<string, string> {
  const masked = maskHeaders(Object.entries(headers), authHeader, secrets);
  return Object.fromEntries(
    Object.entries(masked).map(([name, value]) => [
      name,
      ACR_HEADERS.has(name.toLowerCase()) ? value : MASK,
    ]),
  );
}
