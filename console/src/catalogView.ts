import jsonpointer from "jsonpointer";
import { api } from "./api";
import { h, table } from "./dom";

/** The parts of the AsyncAPI 3 document `GET /api/catalog` serves that the view shows. */
interface Catalog {
  info: { title: string; version: string };
  channels: Record<string, { address: string; messages: Record<string, Ref> }>;
  components: {
    messages: Record<string, CatalogMessage>;
    schemas: Record<string, PropertiesSchema>;
  };
}

interface Ref {
  $ref: string;
}

interface CatalogMessage {
  name: string;
  title?: string;
  summary?: string;
  headers?: Ref | PropertiesSchema;
  examples?: {
    name?: string;
    summary?: string;
    headers?: Record<string, unknown>;
    payload?: unknown;
  }[];
}

interface PropertiesSchema {
  required?: string[];
  properties?: Record<string, { type?: string | string[]; description?: string }>;
}

/** What a local `$ref` (`#/components/messages/<name>`) points at; anything else as it is. */
function resolve<T>(catalog: Catalog, ref: Ref | T | undefined): T | undefined {
  if (typeof ref !== "object" || ref === null || !("$ref" in ref)) return ref as T | undefined;
  return jsonpointer.get(catalog, ref.$ref.replace(/^#/, "")) as T | undefined;
}

/**
 * `#catalog`: every topic of the bridge, the CloudEvents types published to it, the application
 * properties a subscription filter can select on, and examples, read from the AsyncAPI document
 * the bridge serves (linked, for tools).
 */
export async function renderCatalog(target: HTMLElement): Promise<undefined> {
  const catalog = await api<Catalog>("catalog");
  target.append(
    h("h2", {}, "Event catalog"),
    h(
      "p",
      { class: "hint" },
      `${catalog.info.title} ${catalog.info.version}: every message is a CloudEvents 1.0 envelope; `,
      "subscription filters select on the application properties listed for its type. ",
      h("a", { href: "/api/catalog", target: "_blank", rel: "noopener" }, "The AsyncAPI document"),
      " (JSON) is what code generators and validators read.",
    ),
    ...Object.values(catalog.channels).map((channel) =>
      h(
        "section",
        { class: "topic", "data-topic": channel.address },
        h("h3", {}, "Topic ", h("code", {}, channel.address)),
        ...Object.values(channel.messages).map((ref) =>
          messageSection(catalog, resolve<CatalogMessage>(catalog, ref)),
        ),
      ),
    ),
  );
  return undefined;
}

function messageSection(catalog: Catalog, message: CatalogMessage | undefined): Node {
  if (!message) return h("p", { class: "error" }, "A message the document names is missing.");
  const properties = resolve<PropertiesSchema>(catalog, message.headers);
  const required = new Set(properties?.required ?? []);
  return h(
    "div",
    { class: "message", "data-type": message.name },
    h("h4", {}, h("code", {}, message.name), message.title ? ` — ${message.title}` : ""),
    message.summary ? h("p", {}, message.summary) : undefined,
    table(
      ["Application property", "Type", "Always there", "Meaning"],
      Object.entries(properties?.properties ?? {}).map(([name, property]) => [
        h("code", {}, name),
        [property.type ?? ""].flat().join(" or "),
        required.has(name) ? "yes" : "no",
        property.description ?? "",
      ]),
    ),
    ...(message.examples ?? []).map((example) =>
      h(
        "details",
        {},
        h(
          "summary",
          {},
          `Example: ${example.name ?? ""}`,
          example.summary ? ` — ${example.summary}` : "",
        ),
        h(
          "pre",
          {},
          JSON.stringify({ properties: example.headers, body: example.payload }, null, 2),
        ),
      ),
    ),
  );
}
