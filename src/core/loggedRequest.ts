import { MASK, maskHeaders, maskUri, type RecordedRequest } from "./deliveryRecord";

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
 * The most a record keeps of one logged text (the URI, a header's name or value), in
 * characters: what ACR itself sends is far shorter.
 */
export const LOGGED_TEXT_KEPT = 1024;

/**
 * What a record keeps of a logged request: masked (below) first, so no part of a secret is kept,
 * then each text cut to `LOGGED_TEXT_KEPT`, and the headers in their logged order while the
 * request's JSON stays within `maxChars` (what a record holds of it); `headersLeftOut` counts
 * the others.
 */
export function recordedLoggedRequest(
  logged: LoggedRequest,
  options: { authHeader: string; secrets: readonly string[]; maxChars: number },
): RecordedRequest {
  const request: RecordedRequest = {
    method: "POST",
    uri: logged.uri ? keptText(maskLoggedUri(logged.uri, options.secrets)) : "",
    headers: {},
    loggedResponse: { status: logged.responseStatus },
  };
  const headers = Object.entries(
    maskLoggedHeaders(logged.headers, options.authHeader, options.secrets),
  );
  // What is left for the headers once the rest, and a count of those left out, are in.
  let room =
    options.maxChars - JSON.stringify({ ...request, headersLeftOut: headers.length }).length;
  const kept: [string, string][] = [];
  for (const header of headers) {
    const [name, value] = header.map(keptText);
    // `"name":"value",` in the object.
    room -= JSON.stringify(name).length + JSON.stringify(value).length + 2;
    if (room < 0) break;
    kept.push([name, value]);
  }
  request.headers = Object.fromEntries(kept);
  // Two names cut to the same text keep one header: the count is of the headers kept.
  const leftOut = headers.length - Object.keys(request.headers).length;
  return leftOut > 0 ? { ...request, headersLeftOut: leftOut } : request;
}

/**
 * The text, or its first `LOGGED_TEXT_KEPT` characters and how long it was:
 * `…[cut from 70000 characters]`.
 */
export function keptText(text: string): string {
  if (text.length <= LOGGED_TEXT_KEPT) return text;
  // Never between the halves of a surrogate pair: what is kept stays well-formed.
  const end = isHighSurrogate(text.charCodeAt(LOGGED_TEXT_KEPT - 1))
    ? LOGGED_TEXT_KEPT - 1
    : LOGGED_TEXT_KEPT;
  return `${text.slice(0, end)}…[cut from ${text.length} characters]`;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
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
