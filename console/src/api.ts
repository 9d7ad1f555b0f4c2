/**
 * The console's calls to the function app. The function key comes from the URL the operator
 * opened (`?code=`), is kept for this tab only and sent as a header, never in a URL.
 */
const KEY_STORAGE = "acr-console-key";

function takeKey(): string | undefined {
  const params = new URLSearchParams(location.search);
  const fromUrl = params.get("code");
  if (fromUrl) {
    sessionStorage.setItem(KEY_STORAGE, fromUrl);
    params.delete("code");
    const query = params.toString();
    history.replaceState(
      null,
      "",
      `${location.pathname}${query ? `?${query}` : ""}${location.hash}`,
    );
  }
  return sessionStorage.getItem(KEY_STORAGE) ?? undefined;
}

const functionKey = takeKey();

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function api<T>(
  path: string,
  init: { method?: string; body?: unknown } = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (functionKey) headers["x-functions-key"] = functionKey;
  if (init.body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`/api/${path}`, {
    method: init.method ?? "GET",
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    credentials: "same-origin",
    referrerPolicy: "no-referrer",
  });
  const json = (await response.json().catch(() => undefined)) as
    | (T & { error?: { message?: string } })
    | undefined;
  if (!response.ok) {
    throw new ApiError(response.status, json?.error?.message ?? `HTTP ${response.status}`);
  }
  return json as T;
}

export function query(params: Record<string, string | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value) search.set(name, value);
  const text = search.toString();
  return text ? `?${text}` : "";
}
