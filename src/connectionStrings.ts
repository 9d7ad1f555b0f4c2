import type { Result } from "./core/result";

/**
 * What is wrong with a connection string, for the settings that hold one. The SDKs parse them
 * (`Key=value;Key=value`, keys in any case) and fail on a malformed one with their own errors, or a
 * TypeError; these checks come first, so a wrong setting stops the app with an error naming it. A
 * problem names keys and positions, never a value: the values hold the secrets.
 */

/** The parts of a connection string by lower-case key, or which part is not `Key=value`. */
function connectionStringParts(text: string): Result<Map<string, string>, string> {
  const parts = new Map<string, string>();
  const entries = text
    .split(";")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  for (const [index, entry] of entries.entries()) {
    const equals = entry.indexOf("=");
    const key = entry.slice(0, Math.max(equals, 0)).trim();
    if (key === "") {
      return { ok: false, failure: `part ${index + 1} of ${entries.length} is not Key=value` };
    }
    parts.set(key.toLowerCase(), entry.slice(equals + 1).trim());
  }
  return { ok: true, value: parts };
}

/** Keys by their documented spelling; the parts are looked up in lower case. */
function missingKeys(parts: Map<string, string>, keys: string[]): string[] {
  return keys.filter((key) => !parts.get(key.toLowerCase()));
}

/** A URL naming a host, of one of `protocols` (any when not said). */
function isUrl(text: string | undefined, protocols?: string[]): boolean {
  if (text === undefined || !URL.canParse(text)) return false;
  const url = new URL(text);
  return (protocols ?? [url.protocol]).includes(url.protocol) && url.hostname !== "";
}

/** What is wrong with `text` by `rules` over its parts, followed by the forms it may take. */
function problemOf(
  text: string,
  forms: string,
  rules: (parts: Map<string, string>) => string | undefined,
): string | undefined {
  const parsed = connectionStringParts(text);
  const problem = parsed.ok ? rules(parsed.value) : `is not a connection string: ${parsed.failure}`;
  return problem === undefined ? undefined : `${problem} (expected ${forms})`;
}

const TABLES_FORMS =
  "UseDevelopmentStorage=true, DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…;EndpointSuffix=… (or TableEndpoint=…), or TableEndpoint=…;SharedAccessSignature=…";

/** A Table Storage connection string as `@azure/data-tables` reads one: development, account key, or SAS. */
export function tablesConnectionProblem(connectionString: string): string | undefined {
  return problemOf(connectionString, TABLES_FORMS, (parts) => {
    if (parts.get("usedevelopmentstorage")?.toLowerCase() === "true") return undefined;
    const tableEndpoint = parts.get("tableendpoint");
    if (tableEndpoint !== undefined && !isUrl(tableEndpoint, ["https:", "http:"])) {
      return "has a TableEndpoint that is not an http(s) URL";
    }
    const isAccountKey = parts.has("defaultendpointsprotocol") && parts.has("accountkey");
    const missing = !isAccountKey
      ? missingKeys(parts, ["TableEndpoint", "SharedAccessSignature"])
      : tableEndpoint
        ? missingKeys(parts, ["AccountName", "AccountKey"])
        : missingKeys(parts, ["AccountName", "AccountKey", "EndpointSuffix"]);
    if (missing.length > 0) return `has no ${missing.join(", ")}`;
    const protocol = parts.get("defaultendpointsprotocol")?.toLowerCase();
    if (isAccountKey && !tableEndpoint && protocol !== "https" && protocol !== "http") {
      return "has a DefaultEndpointsProtocol other than https or http";
    }
    return undefined;
  });
}

const SERVICE_BUS_FORMS =
  "Endpoint=sb://<namespace>/;SharedAccessKeyName=…;SharedAccessKey=…, or Endpoint=…;SharedAccessSignature=…";

/**
 * A namespace's Service Bus connection string: the bridge sends to several topics and a queue, so
 * one scoped to a single entity (`EntityPath`) cannot serve it.
 */
export function serviceBusConnectionProblem(connectionString: string): string | undefined {
  return problemOf(connectionString, SERVICE_BUS_FORMS, (parts) => {
    if (!parts.get("endpoint")) return "has no Endpoint";
    if (!isUrl(parts.get("endpoint"))) return "has an Endpoint that is not a URL";
    const keyed = missingKeys(parts, ["SharedAccessKeyName", "SharedAccessKey"]).length === 0;
    if (!keyed && !parts.get("sharedaccesssignature")) {
      return "has neither SharedAccessKeyName and SharedAccessKey nor SharedAccessSignature";
    }
    if (parts.has("entitypath")) {
      return "names one entity (EntityPath); the bridge needs the namespace's connection string";
    }
    return undefined;
  });
}
