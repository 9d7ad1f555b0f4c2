import { describe, expect, it } from "vitest";
import type { RegisteredFunction } from "../../dev/host/functionsCoreStandIn";
import { HttpRouteTable, routePath } from "../../dev/host/httpRoutes";

function httpFunction(
  name: string,
  route?: string,
  methods: string[] = ["GET"],
): RegisteredFunction {
  return {
    name,
    functionId: name,
    triggerType: "httpTrigger",
    triggerBindingName: "httpTrigger1",
    route: route ?? name,
    methods,
    authLevel: "anonymous",
    metadata: { name, bindings: {} },
    handler: () => undefined,
  };
}

const matchedName = (table: HttpRouteTable, method: string, path: string) => {
  const match = table.match(method, path);
  return match.kind === "matched" ? { name: match.fn.name, params: match.params } : undefined;
};

describe("HTTP route templates", () => {
  const table = new HttpRouteTable([
    httpFunction("byId", "items/{id}"),
    httpFunction("special", "items/special"),
    httpFunction("page", "pages/{slug?}"),
    httpFunction("pagesIndex", "pages"),
    httpFunction("anyMethod", "any", []),
  ]);

  it("prefer a literal segment to a parameter, whatever the registration order", () => {
    expect(matchedName(table, "GET", "/api/items/special")).toEqual({
      name: "special",
      params: {},
    });
    expect(matchedName(table, "GET", "/api/items/7")).toEqual({
      name: "byId",
      params: { id: "7" },
    });
  });

  it("prefer a template that ends to one with an optional parameter left", () => {
    expect(matchedName(table, "GET", "/api/pages")?.name).toBe("pagesIndex");
    expect(matchedName(table, "GET", "/api/pages/home")).toEqual({
      name: "page",
      params: { slug: "home" },
    });
  });

  it("decode parameters and take any method when none is declared", () => {
    expect(matchedName(table, "GET", "/api/items/a%20b")?.params).toEqual({ id: "a b" });
    expect(matchedName(table, "PATCH", "/api/any")?.name).toBe("anyMethod");
    expect(matchedName(table, "POST", "/api/items/7")).toBeUndefined();
    expect(matchedName(table, "GET", "/api/items/7/more")).toBeUndefined();
  });

  it("are printed under /api", () => {
    expect(routePath(httpFunction("byId", "/items/{id}/"))).toBe("/api/items/{id}");
  });

  it("refuse what the local host cannot match faithfully", () => {
    expect(() => new HttpRouteTable([httpFunction("typed", "items/{id:int}")])).toThrow(
      /"typed": route segment "\{id:int\}" is not supported/,
    );
    expect(() => new HttpRouteTable([httpFunction("early", "{a?}/b")])).toThrow(
      /optional route parameters must come last/,
    );
  });
});
