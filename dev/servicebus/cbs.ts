import type { Connection, Message } from "rhea";
import { type SharedAccessKey, verifySasToken } from "./sasToken";

export interface CbsAnswer {
  statusCode: number;
  description: string;
}

/** "sb://host:port/a/b" or "a/b" → "a/b", lower-case as entity names are case-insensitive. */
const entityPath = (uriOrAddress: string) =>
  uriOrAddress
    .replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, "")
    .replace(/^\/+|\/+$/g, "")
    .toLowerCase();

const covers = (granted: string, path: string) =>
  granted === "" || path === granted || path.startsWith(`${granted}/`);

/**
 * The `$cbs` node: checks the SAS tokens a connection puts, and remembers which entities each
 * connection may then attach to, as Service Bus refuses links without a token.
 */
export class ClaimsBasedSecurity {
  private readonly grants = new WeakMap<Connection, Set<string>>();

  constructor(private readonly key: SharedAccessKey) {}

  putToken(connection: Connection, request: Message, now: number): CbsAnswer {
    const properties = request.application_properties ?? {};
    if (properties.operation !== "put-token") {
      return {
        statusCode: 400,
        description: `Unsupported $cbs operation "${properties.operation}".`,
      };
    }
    if (properties.type !== "servicebus.windows.net:sastoken") {
      return {
        statusCode: 401,
        description: "The local broker accepts only SAS tokens (servicebus.windows.net:sastoken).",
      };
    }
    const audience = String(properties.name ?? "");
    const verdict = verifySasToken(String(request.body ?? ""), this.key, now);
    if (!verdict.valid) return { statusCode: 401, description: verdict.reason };
    if (!covers(entityPath(verdict.resource), entityPath(audience))) {
      return {
        statusCode: 401,
        description: `The token is for ${verdict.resource}, not for ${audience}.`,
      };
    }
    const granted = this.grants.get(connection) ?? new Set<string>();
    granted.add(entityPath(audience));
    this.grants.set(connection, granted);
    return { statusCode: 202, description: "Accepted" };
  }

  /** Whether a token put on this connection covers the address. */
  allows(connection: Connection, address: string): boolean {
    const path = entityPath(address);
    return [...(this.grants.get(connection) ?? [])].some((granted) => covers(granted, path));
  }
}
