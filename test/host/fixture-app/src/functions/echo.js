const { app, HttpRequest, InvocationContext } = require("@azure/functions");

app.http("echo", {
  route: "items/{category}/{id?}",
  methods: ["GET", "POST"],
  authLevel: "function",
  handler: async (request, context) => {
    context.warn(`echo ${request.method} ${request.params.category}`);
    return {
      status: 201,
      headers: { "x-echo": "yes" },
      cookies: [{ name: "session", value: "abc", httpOnly: true, sameSite: "Lax" }],
      jsonBody: {
        method: request.method,
        url: request.url,
        params: request.params,
        query: request.query.getAll("tag"),
        header: request.headers.get("x-test"),
        body: await request.text(),
        invocationId: context.invocationId,
        functionName: context.functionName,
        realClasses: request instanceof HttpRequest && context instanceof InvocationContext,
      },
    };
  },
});

app.http("defaultRoute", {
  handler: () => ({ body: "default route" }),
});

app.http("fail", {
  methods: ["GET"],
  handler: () => {
    throw new Error("secret detail");
  },
});

app.http("slow", {
  methods: ["GET"],
  handler: async (request, context) => {
    context.log("slow started");
    await new Promise((resolve) => setTimeout(resolve, Number(request.query.get("ms"))));
    return { body: "slow done" };
  },
});
