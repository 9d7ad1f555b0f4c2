/** The naive bridge's one table; the benchmark creates it before the naive app runs. */
export const NAIVE_TABLE = "NaiveDeliveries";

/** The bridge's topics by action (its default settings), which the naive bridge publishes to too. */
export const TOPIC_BY_ACTION: Readonly<Record<string, string>> = {
  push: "acr-push",
  delete: "acr-delete",
  chart_push: "acr-chart-push",
  chart_delete: "acr-chart-delete",
  quarantine: "acr-quarantine",
};
