import type { RegisteredFunction } from "./functionsCoreStandIn";

/** host.json `extensions.http.routePrefix`, at its default. */
export const ROUTE_PREFIX = "api";

type Segment =
  | { readonly kind: "literal"; readonly text: string }
  | { readonly kind: "parameter"; readonly name: string; readonly optional: boolean };

interface HttpRoute {
  readonly fn: RegisteredFunction;
  readonly segments: readonly Segment[];
  readonly methods: ReadonlySet<string>;
}

export type RouteMatch =
  | {
      readonly kind: "matched";
      readonly fn: RegisteredFunction;
      readonly params: Record<string, string>;
    }
  | { readonly kind: "none" };

/**
 * The HTTP functions' route templates under `/api`, matched like ASP.NET Core routing does for the
 * host: literal segments case-insensitively, `{name}` one segment, `{name?}` an optional trailing
 * one; when several templates match, literals win over parameters.
 */
export class HttpRouteTable {
  readonly #routes: HttpRoute[];

  constructor(functions: readonly RegisteredFunction[]) {
    this.#routes = functions
      .filter((fn) => fn.triggerType.toLowerCase() === "httptrigger")
      .map((fn) => ({
        fn,
        segments: parseTemplate(fn.route ?? fn.name, fn.name),
        methods: new Set((fn.methods ?? []).map((method) => method.toUpperCase())),
      }))
      .sort((a, b) => comparePrecedence(a.segments, b.segments));
  }

  /** `path` is the URL path without the query, still percent-encoded. */
  match(method: string, path: string): RouteMatch {
    const segments = pathSegments(path);
    if (!segments || segments[0]?.toLowerCase() !== ROUTE_PREFIX) return { kind: "none" };
    const rest = segments.slice(1);
    for (const route of this.#routes) {
      if (route.methods.size > 0 && !route.methods.has(method.toUpperCase())) continue;
      const params = matchSegments(route.segments, rest);
      if (params) return { kind: "matched", fn: route.fn, params };
    }
    return { kind: "none" };
  }
}

/** The route a function answers on, under `/api`, as `func start` prints it. */
export function routePath(fn: RegisteredFunction): string {
  const template = trimSlashes(fn.route ?? fn.name);
  return template === "" ? `/${ROUTE_PREFIX}` : `/${ROUTE_PREFIX}/${template}`;
}

function parseTemplate(template: string, functionName: string): Segment[] {
  const parts = trimSlashes(template)
    .split("/")
    .filter((part) => part !== "");
  const segments = parts.map((part): Segment => {
    const parameter = /^\{([A-Za-z_][A-Za-z0-9_]*)(\?)?\}$/.exec(part);
    if (parameter) return { kind: "parameter", name: parameter[1], optional: parameter[2] === "?" };
    if (/[{}]/.test(part)) {
      throw new Error(
        `Function "${functionName}": route segment "${part}" is not supported by the local host (only literals, {name} and {name?}).`,
      );
    }
    return { kind: "literal", text: part.toLowerCase() };
  });
  const firstOptional = segments.findIndex((s) => s.kind === "parameter" && s.optional);
  if (
    firstOptional >= 0 &&
    segments.slice(firstOptional).some((s) => !(s.kind === "parameter" && s.optional))
  ) {
    throw new Error(
      `Function "${functionName}": optional route parameters must come last in "${template}".`,
    );
  }
  return segments;
}

function matchSegments(
  template: readonly Segment[],
  path: readonly string[],
): Record<string, string> | undefined {
  if (path.length > template.length) return undefined;
  const params: Record<string, string> = {};
  for (const [index, segment] of template.entries()) {
    const value = path[index];
    if (value === undefined) {
      if (segment.kind === "parameter" && segment.optional) continue;
      return undefined;
    }
    if (segment.kind === "literal") {
      if (value.toLowerCase() !== segment.text) return undefined;
    } else {
      params[segment.name] = value;
    }
  }
  return params;
}

function pathSegments(path: string): string[] | undefined {
  try {
    return trimSlashes(path)
      .split("/")
      .filter((part) => part !== "")
      .map((part) => decodeURIComponent(part));
  } catch {
    return undefined;
  }
}

function comparePrecedence(a: readonly Segment[], b: readonly Segment[]): number {
  for (let index = 0; index < Math.max(a.length, b.length); index++) {
    const difference = rank(a[index]) - rank(b[index]);
    if (difference !== 0) return difference;
  }
  return 0;
}

// A template that ends here is more specific than one going on with an optional parameter.
function rank(segment: Segment | undefined): number {
  if (!segment) return 2;
  if (segment.kind === "literal") return 0;
  return segment.optional ? 3 : 1;
}

function trimSlashes(text: string): string {
  return text.replace(/^\/+|\/+$/g, "");
}
