import { randomUUID } from "node:crypto";
import { Agent } from "node:https";
import { ServiceBusAdministrationClient } from "@azure/service-bus";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sqlFilterFor } from "../../dev/subscribe/globFilter";
import { type LocalStack, startLocalStack } from "../support/localStack";
import { deliverWebhook } from "../support/webhookClient";

const INDEX = "application/vnd.oci.image.index.v1+json";
const MANIFEST = "application/vnd.oci.image.manifest.v1+json";

let stack: LocalStack;
const registry = `r${randomUUID().replaceAll("-", "").slice(0, 12)}.azurecr.io`;

beforeAll(async () => {
  stack = await startLocalStack();
});

afterAll(async () => {
  await stack?.stop();
});

const digest = () =>
  `sha256:${randomUUID().replaceAll("-", "")}${randomUUID().replaceAll("-", "")}`;

/** A push webhook as ACR sends it. */
function pushTo(host: string, repository: string, target: Record<string, unknown>) {
  return {
    id: randomUUID(),
    timestamp: new Date().toISOString(),
    action: "push",
    target: { repository, ...target },
    request: { id: randomUUID(), host, method: "PUT" },
  };
}

/** A multi-arch push as ACR delivers it: each platform manifest, the tagged index, its signature. */
function multiArchPush(repository: string, tag: string) {
  const index = digest();
  const push = (target: Record<string, unknown>) => pushTo(registry, repository, target);
  return [
    push({ mediaType: MANIFEST, digest: digest() }),
    push({ mediaType: MANIFEST, digest: digest(), tag: "" }),
    push({ mediaType: INDEX, digest: index, tag }),
    push({ mediaType: MANIFEST, digest: digest(), tag: `sha256-${index.slice(7)}.sig` }),
  ];
}

describe("for subscribers", () => {
  it("serves the event catalog at GET /api/catalog", async () => {
    const response = await fetch(`${stack.url}/api/catalog`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("application/json");
    const catalog = (await response.json()) as { asyncapi: string; channels: object };
    expect(catalog.asyncapi).toBe("3.0.0");
    expect(Object.keys(catalog.channels)).toContain("acr-push");
  });

  it("classifies every message and records it; a glob subscription gets one message per released image", async () => {
    const filter = sqlFilterFor({
      repositories: ["prod/*"],
      tags: ["v*"],
      actions: [],
      kinds: ["image", "index"],
      tagged: true,
    });
    if (!filter.ok) throw new Error(filter.failure.join());
    const admin = new ServiceBusAdministrationClient(stack.serviceBusConnection, {
      agent: new Agent({ ca: stack.broker().certificate }),
    });
    await admin.createSubscription("acr-push", "released", {
      defaultRuleOptions: { name: "globs", filter: { sqlExpression: filter.value } },
    });

    for (const payload of [
      ...multiArchPush("prod/api", "v1.4.0"),
      ...multiArchPush("dev/api", "v9"),
    ]) {
      await deliverWebhook(stack, payload);
    }

    const all = stack
      .broker()
      .messages("acr-push", "all")
      .map((message) => message.applicationProperties)
      .filter((properties) => properties.registry === registry);
    expect(
      all.map(({ repository, artifactKind, tagged }) => [repository, artifactKind, tagged]),
    ).toEqual([
      ["prod/api", "image", "false"],
      ["prod/api", "image", "false"],
      ["prod/api", "index", "true"],
      ["prod/api", "signature", "true"],
      ["dev/api", "image", "false"],
      ["dev/api", "image", "false"],
      ["dev/api", "index", "true"],
      ["dev/api", "signature", "true"],
    ]);
    expect(
      stack
        .broker()
        .messages("acr-push", "released")
        .map((message) => message.applicationProperties.tag),
    ).toEqual(["v1.4.0"]);

    const listed = await fetch(
      `${stack.url}/api/events?registry=${registry}&artifactKind=index&tagged=true`,
    );
    expect(listed.status).toBe(200);
    const { items } = (await listed.json()) as {
      items: { repository: string; artifactKind: string }[];
    };
    expect(items.map((item) => [item.repository, item.artifactKind]).sort()).toEqual([
      ["dev/api", "index"],
      ["prod/api", "index"],
    ]);
  });

  it("marks a Continuous Patching push of an earlier tag as patch, on its message and in the query API", async () => {
    const patchRegistry = `p${randomUUID().replaceAll("-", "").slice(0, 12)}.azurecr.io`;
    const filter = sqlFilterFor({
      repositories: [],
      tags: [],
      actions: [],
      kinds: ["patch"],
      tagged: false,
    });
    if (!filter.ok) throw new Error(filter.failure.join());
    const admin = new ServiceBusAdministrationClient(stack.serviceBusConnection, {
      agent: new Agent({ ca: stack.broker().certificate }),
    });
    await admin.createSubscription("acr-push", "patches", {
      defaultRuleOptions: { name: "kind", filter: { sqlExpression: filter.value } },
    });

    // `1.25-1` follows its base tag `1.25`; `2.0-1` has no base tag in the repository.
    for (const tag of ["1.25", "1.25-1", "2.0-1"]) {
      await deliverWebhook(
        stack,
        pushTo(patchRegistry, "prod/web", { mediaType: MANIFEST, digest: digest(), tag }),
      );
    }

    const kinds = stack
      .broker()
      .messages("acr-push", "all")
      .map((message) => message.applicationProperties)
      .filter((properties) => properties.registry === patchRegistry)
      .map(({ tag, artifactKind }) => [tag, artifactKind]);
    expect(kinds).toEqual([
      ["1.25", "image"],
      ["1.25-1", "patch"],
      ["2.0-1", "image"],
    ]);
    expect(
      stack
        .broker()
        .messages("acr-push", "patches")
        .map((message) => message.applicationProperties.tag),
    ).toEqual(["1.25-1"]);

    const listed = await fetch(
      `${stack.url}/api/events?registry=${patchRegistry}&artifactKind=patch`,
    );
    expect(listed.status).toBe(200);
    const { items } = (await listed.json()) as { items: { tag: string; artifactKind: string }[] };
    expect(items.map((item) => [item.tag, item.artifactKind])).toEqual([["1.25-1", "patch"]]);
  });
});
