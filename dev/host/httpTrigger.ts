import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { RpcHttpCookie, RpcInvocationResponse, RpcTypedData } from "./functionsCoreTypes";
import { writeEmpty } from "./httpResponses";

/** The HTTP trigger's input as the host sends it to the worker; the library makes the HttpRequest. */
export function httpTriggerData(
  req: IncomingMessage,
  url: string,
  body: Buffer,
  params: Record<string, string>,
): RpcTypedData {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  // No `query`: the library then reads it from the URL, repeated keys included.
  return {
    http: {
      method: req.method ?? "GET",
      url,
      headers,
      params,
      ...(body.length > 0 ? { body: { bytes: body } } : {}),
    },
  };
}

/** Writes what the library made of the handler's HttpResponse / HttpResponseInit. */
export function writeHttpResult(res: ServerResponse, result: RpcInvocationResponse): void {
  const http = result.returnValue?.http;
  if (!http) {
    // The handler returned nothing.
    writeEmpty(res, 204);
    return;
  }
  const headers: OutgoingHttpHeaders = { ...http.headers };
  const cookies = (http.cookies ?? []).map(serializeCookie);
  if (cookies.length > 0) headers["set-cookie"] = cookies;
  const body = bodyBytes(http.body);
  headers["content-length"] = body.length;
  res.writeHead(Number(http.statusCode ?? 200), headers);
  res.end(body);
}

function bodyBytes(body: RpcTypedData | null | undefined): Buffer {
  if (body?.bytes) return Buffer.from(body.bytes);
  if (typeof body?.string === "string") return Buffer.from(body.string);
  return Buffer.alloc(0);
}

const SAME_SITE: Record<string, string | undefined> = {
  lax: "Lax",
  strict: "Strict",
  explicitNone: "None",
};

function serializeCookie(cookie: RpcHttpCookie): string {
  const attributes = [`${cookie.name}=${cookie.value}`];
  if (cookie.domain?.value) attributes.push(`Domain=${cookie.domain.value}`);
  if (cookie.path?.value) attributes.push(`Path=${cookie.path.value}`);
  const expires = cookie.expires?.value?.seconds;
  if (typeof expires === "number")
    attributes.push(`Expires=${new Date(expires * 1000).toUTCString()}`);
  if (typeof cookie.maxAge?.value === "number") attributes.push(`Max-Age=${cookie.maxAge.value}`);
  if (cookie.secure?.value) attributes.push("Secure");
  if (cookie.httpOnly?.value) attributes.push("HttpOnly");
  const sameSite = SAME_SITE[cookie.sameSite ?? ""];
  if (sameSite) attributes.push(`SameSite=${sameSite}`);
  return attributes.join("; ");
}
