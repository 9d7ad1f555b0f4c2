import { maskHeaders, maskUri, type RecordedRequest } from "./deliveryRecord";

/**
 * The most a record keeps of one text of a request (the URI, a header's name or value), in
 * characters: what ACR itself sends is far shorter.
 */
export const TEXT_KEPT = 1024;

/**
 * What a record keeps of a request that reached the bridge: its credentials masked (the header
 * carrying the secret, any value holding one), then cut to fit (`keptRequest`).
 */
export function receivedRequest(
  request: { method: string; url: string; headers: Iterable<[string, string]> },
  options: { authHeader: string; secrets: readonly string[]; maxChars: number },
): RecordedRequest {
  return keptRequest(
    {
      method: request.method,
      uri: maskUri(request.url, options.secrets),
      headers: maskHeaders(request.headers, options.authHeader, options.secrets),
    },
    options.maxChars,
  );
}

/**
 * What a record keeps of a request, already masked: each text cut to `TEXT_KEPT`, and the headers
 * in their order while the request's JSON stays within `maxChars` (what a record holds of it);
 * `headersLeftOut` counts the others. Whatever sent it, a request never makes its record too
 * large to keep.
 */
export function keptRequest(request: RecordedRequest, maxChars: number): RecordedRequest {
  const headers = Object.entries(request.headers);
  const kept: RecordedRequest = { ...request, uri: keptText(request.uri), headers: {} };
  // What is left for the headers once the rest, and a count of those left out, are in.
  let room = maxChars - JSON.stringify({ ...kept, headersLeftOut: headers.length }).length;
  const keptHeaders: [string, string][] = [];
  for (const header of headers) {
    const [name, value] = header.map(keptText);
    // `"name":"value",` in the object.
    room -= JSON.stringify(name).length + JSON.stringify(value).length + 2;
    if (room < 0) break;
    keptHeaders.push([name, value]);
  }
  kept.headers = Object.fromEntries(keptHeaders);
  // Two names cut to the same text keep one header: the count is of the headers kept.
  const leftOut = headers.length - Object.keys(kept.headers).length;
  return leftOut > 0 ? { ...kept, headersLeftOut: leftOut } : kept;
}

/**
 * The text, or its first `TEXT_KEPT` characters and how long it was:
 * `…[cut from 70000 characters]`.
 */
export function keptText(text: string): string {
  if (text.length <= TEXT_KEPT) return text;
  // Never between the halves of a surrogate pair: what is kept stays well-formed.
  const end = isHighSurrogate(text.charCodeAt(TEXT_KEPT - 1)) ? TEXT_KEPT - 1 : TEXT_KEPT;
  return `${text.slice(0, end)}…[cut from ${text.length} characters]`;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
