import { app } from "@azure/functions";
import { serveConsolePage } from "../console/serveConsole";

// Behind a function key like the query API: open it as /api/console?code=<key>.
app.http("consolePage", {
  route: "console",
  methods: ["GET"],
  authLevel: "function",
  handler: () => serveConsolePage(),
});
