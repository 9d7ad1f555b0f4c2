import Ajv, { type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";

export interface CatalogMessageObject {
  name: string;
  headers: { $ref: string };
  payload: { $ref: string };
  examples: { name: string; headers: unknown; payload: { type: string } }[];
}

/** The parts of the event catalog (docs/asyncapi.yaml, GET /api/catalog) that messages are checked against. */
export interface CatalogDocument {
  channels: Record<string, { address: string; messages: Record<string, unknown> }>;
  components: {
    schemas: Record<string, object>;
    messages: Record<string, CatalogMessageObject>;
  };
}

/** A topic message as the bridge builds it or a receiver gets it. */
export interface CheckedMessage {
  messageId: string;
  body: unknown;
  applicationProperties: Record<string, unknown>;
}

/** The catalog's schemas, compiled with ajv, and a check of any message against them. */
export function catalogChecker(catalog: CatalogDocument) {
  const ajv = addFormats(new Ajv({ allErrors: true, strict: true }));
  const compiled = new Map<string, ValidateFunction>();
  const schemaAt = (ref: { $ref: string }): ValidateFunction => {
    const name = ref.$ref.replace("#/components/schemas/", "");
    const schema = catalog.components.schemas[name];
    if (!schema) throw new Error(`no schema ${ref.$ref}`);
    const validate = compiled.get(name) ?? ajv.compile(schema);
    compiled.set(name, validate);
    return validate;
  };
  const failures = (validate: ValidateFunction, value: unknown, what: string) =>
    validate(value) ? [] : [`${what}: ${ajv.errorsText(validate.errors)}`];

  /**
   * What the catalog's message of the body's CloudEvents type does not accept in the message:
   * its application properties, its body as it travels (JSON: undefined fields left out), and
   * the catalog's messageId rule. Empty when the message conforms.
   */
  const mismatches = (message: CheckedMessage): string[] => {
    const { type, id } = message.body as { type?: unknown; id?: unknown };
    const described = typeof type === "string" ? catalog.components.messages[type] : undefined;
    if (!described) return [`the catalog has no message of type ${String(type)}`];
    const body: unknown = JSON.parse(JSON.stringify(message.body));
    return [
      ...failures(schemaAt(described.headers), message.applicationProperties, "headers"),
      ...failures(schemaAt(described.payload), body, "payload"),
      ...messageIdMismatches(message, id),
    ];
  };

  return { schemaAt, failures, mismatches };
}

/**
 * The rule the catalog states: messageId = the CloudEvents id, except on a replayed message, whose
 * messageId is its own and whose originalMessageId property is the CloudEvents id.
 */
function messageIdMismatches(message: CheckedMessage, cloudEventId: unknown): string[] {
  const { replayed, originalMessageId } = message.applicationProperties;
  if (replayed === undefined) {
    return message.messageId === cloudEventId ? [] : ["messageId is not the CloudEvents id"];
  }
  return [
    ...(message.messageId === cloudEventId ? ["a replayed messageId is the CloudEvents id"] : []),
    ...(originalMessageId === cloudEventId ? [] : ["originalMessageId is not the CloudEvents id"]),
  ];
}

/** The checker of the catalog a running bridge serves (GET /api/catalog). */
export async function servedCatalogChecker(bridgeUrl: string) {
  const response = await fetch(`${bridgeUrl}/api/catalog`);
  if (response.status !== 200) throw new Error(`GET /api/catalog answered ${response.status}`);
  return catalogChecker((await response.json()) as CatalogDocument);
}
