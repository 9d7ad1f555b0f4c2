import { app } from "@azure/functions";
import { getBridge } from "../bridge";
import { serveCatalog } from "../catalog/serveCatalog";
import { PUBLISHABLE_ACTIONS } from "../core/actions";

const bridge = getBridge();

// Anonymous: it documents message shapes and topic names, no recorded data.
app.http("catalog", {
  route: "catalog",
  methods: ["GET"],
  authLevel: "anonymous",
  handler: serveCatalog({
    actions: Object.fromEntries(
      PUBLISHABLE_ACTIONS.map((action) => [action, bridge.routing[action].topic]),
    ) as Record<(typeof PUBLISHABLE_ACTIONS)[number], string>,
    discrepancies: bridge.crossCheckSettings.discrepancyTopic,
  }),
});
