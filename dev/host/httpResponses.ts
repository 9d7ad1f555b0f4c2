import type { OutgoingHttpHeaders, ServerResponse } from "node:http";

export function writeJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: OutgoingHttpHeaders = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

/** The project's one error shape, `{ error: { code, message } }`; never a stack trace. */
export function writeError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers?: OutgoingHttpHeaders,
): void {
  writeJson(res, status, { error: { code, message } }, headers);
}

export function writeEmpty(
  res: ServerResponse,
  status: number,
  headers: OutgoingHttpHeaders = {},
): void {
  res.writeHead(status, { ...headers, "content-length": 0 });
  res.end();
}
