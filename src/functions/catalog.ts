import { app } from "@azure/functions";
import { getBridge } from "../bridge";
import { catalogTopicsOf } from "../catalog/eventCatalog";
import { serveCatalog } from "../catalog/serveCatalog";

const bridge = getBridge();

// Anonymous: it documents message shapes and topic names, no recorded data.
app.http("catalog", {
  route: "catalog",
  methods: ["GET"],
  authLevel: "anonymous",
  handler: serveCatalog(
    catalogTopicsOf(bridge.routing, bridge.crossCheckSettings.discrepancyTopic),
  ),
});
