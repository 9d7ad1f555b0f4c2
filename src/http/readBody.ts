import type { HttpRequest, HttpResponseInit } from "@azure/functions";
import { decodeUtf8 } from "../core/parseJsonText";
import type { Result } from "../core/result";
import { errorResponse } from "./errorResponse";

type LimitedBody = Result<string, "too-large" | "invalid-utf8">;

/**
 * Reads the body as UTF-8 text, stopping as soon as it passes `maxBytes` so an oversized body is
 * never buffered whole. Invalid UTF-8 is refused rather than silently replaced.
 */
async function readLimitedBody(request: HttpRequest, maxBytes: number): Promise<LimitedBody> {
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (declared > maxBytes) return { ok: false, failure: "too-large" };
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => undefined);
        return { ok: false, failure: "too-large" };
      }
      chunks.push(value);
    }
  }
  return decodeUtf8(Buffer.concat(chunks));
}

/** `application/json` and every `application/…+json` (CloudEvents' `cloudevents(-batch)+json`). */
const JSON_MEDIA_TYPE = /^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i;

/** The 415 for a body declared as something other than JSON; none declared is taken as JSON. */
function unsupportedMediaType(request: HttpRequest): HttpResponseInit | undefined {
  const contentType = request.headers.get("content-type");
  if (contentType === null || JSON_MEDIA_TYPE.test(contentType)) return undefined;
  return errorResponse(415, "unsupported_media_type", "the body must be application/json");
}

export type JsonBody = Result<unknown, HttpResponseInit>;

/**
 * The body as JSON, or the error response that says why not (415 media type, 413, 400 encoding,
 * 400 JSON).
 */
export async function readJsonBody(request: HttpRequest, maxBytes: number): Promise<JsonBody> {
  const wrongType = unsupportedMediaType(request);
  if (wrongType) return { ok: false, failure: wrongType };
  const body = await readLimitedBody(request, maxBytes);
  if (!body.ok) {
    return {
      ok: false,
      failure:
        body.failure === "too-large"
          ? errorResponse(413, "payload_too_large", `the body exceeds ${maxBytes} bytes`)
          : errorResponse(400, "invalid_encoding", "the body is not valid UTF-8"),
    };
  }
  try {
    return { ok: true, value: JSON.parse(body.value) };
  } catch (error) {
    return {
      ok: false,
      failure: errorResponse(
        400,
        "invalid_json",
        `the body is not JSON: ${(error as Error).message}`,
      ),
    };
  }
}
