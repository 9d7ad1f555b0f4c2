import { app } from "@azure/functions";
import { serveConsoleAsset } from "../console/serveConsole";

// Anonymous: the compiled scripts and styles hold no data and no secret, and a browser loading
// them from the page cannot add the function key without putting it in the page.
app.http("consoleAssets", {
  route: "console/assets/{file}",
  methods: ["GET"],
  authLevel: "anonymous",
  handler: (request) => serveConsoleAsset(request),
});
