import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { HttpRequest, HttpResponseInit } from "@azure/functions";
import { errorResponse } from "../http/errorResponse";

/** Where `npm run build` (Vite) writes the console: dist/console, beside dist/src. */
const CONSOLE_DIR = resolve(__dirname, "..", "..", "console");

/**
 * Only the app's own files: no inline script or style, no other origin, no framing, no form
 * posts, no referrer (the page's URL may carry the function key).
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
};

const CONTENT_TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

/** Vite's hashed asset names: a name and a content hash, nothing that could leave the folder. */
const ASSET_NAME = /^[A-Za-z0-9_-]{1,100}\.(js|css|svg)$/;

/** `GET /api/console`: the page; it holds no data and no secret, the data comes from the JSON routes. */
export async function serveConsolePage(): Promise<HttpResponseInit> {
  const html = await readBuilt("index.html");
  if (html === undefined) {
    return errorResponse(503, "console_not_built", "the console is not built: run npm run build");
  }
  return {
    status: 200,
    body: html,
    headers: {
      ...SECURITY_HEADERS,
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
    },
  };
}

/** `GET /api/console/assets/{file}`: the built scripts and styles, immutable (hashed names). */
export async function serveConsoleAsset(request: HttpRequest): Promise<HttpResponseInit> {
  const name = request.params.file ?? "";
  const match = ASSET_NAME.exec(name);
  const content = match ? await readBuilt(join("assets", name)) : undefined;
  if (!match || content === undefined)
    return errorResponse(404, "not_found", "no such console asset");
  return {
    status: 200,
    body: content,
    headers: {
      ...SECURITY_HEADERS,
      "content-type": CONTENT_TYPES[`.${match[1]}`],
      "cache-control": "public, max-age=31536000, immutable",
    },
  };
}

async function readBuilt(path: string): Promise<string | undefined> {
  try {
    return await readFile(join(CONSOLE_DIR, path), "utf8");
  } catch {
    return undefined;
  }
}
