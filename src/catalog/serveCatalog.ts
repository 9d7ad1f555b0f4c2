import type { HttpResponseInit } from "@azure/functions";
import { asyncApiDocument, type CatalogTopics } from "./eventCatalog";

/** `GET /api/catalog`: the AsyncAPI document of the topics this deployment publishes to. */
export function serveCatalog(topics: CatalogTopics): () => HttpResponseInit {
  // Built on the first request, not at load: the host's start stays short.
  let body: string | undefined;
  return () => {
    body ??= JSON.stringify(asyncApiDocument(topics));
    return {
      status: 200,
      headers: { "content-type": "application/json", "cache-control": "public, max-age=300" },
      body,
    };
  };
}
