import { describe, expect, it } from "vitest";
import { ConfigError, DEFAULT_TOPICS, loadRoutingTable, topicSettingFor } from "../../src/config";
import { PUBLISHABLE_ACTIONS } from "../../src/core/actions";
import type { RegistryEvent } from "../../src/core/registryEvent";
import { isNotRoutedReason, type Route, routeForEvent } from "../../src/core/routing";

function event(
  action: string,
  target: { repository?: string; tag?: string } = { repository: "hello-world", tag: "v1" },
): RegistryEvent {
  return {
    eventId: "e1",
    action,
    timestamp: "2023-11-17T16:52:01.343145347Z",
    occurredAt: Date.parse("2023-11-17T16:52:01.343Z"),
    registry: "myregistry.azurecr.io",
    ...target,
    origin: "webhook",
    payload: { id: "e1", action },
  };
}

const unscoped = loadRoutingTable({});

describe("routeForEvent with the default routing table", () => {
  it.each<[string, Route]>([
    ["push", { kind: "topic", topic: "acr-push" }],
    ["delete", { kind: "topic", topic: "acr-delete" }],
    ["chart_push", { kind: "topic", topic: "acr-chart-push" }],
    ["chart_delete", { kind: "topic", topic: "acr-chart-delete" }],
    ["quarantine", { kind: "topic", topic: "acr-quarantine" }],
    ["ping", { kind: "not-routed", reason: "ping" }],
    ["retag", { kind: "not-routed", reason: "unknown-action" }],
    ["PUSH", { kind: "not-routed", reason: "unknown-action" }],
    ["__proto__", { kind: "not-routed", reason: "unknown-action" }],
    ["toString", { kind: "not-routed", reason: "unknown-action" }],
  ])("%s -> %j", (action, route) => {
    expect(routeForEvent(event(action), unscoped)).toEqual(route);
  });

  it("routes every publishable action to its default topic", () => {
    for (const action of PUBLISHABLE_ACTIONS) {
      expect(routeForEvent(event(action), unscoped)).toEqual({
        kind: "topic",
        topic: DEFAULT_TOPICS[action],
      });
    }
  });

  it("routes a delete without a tag when unscoped", () => {
    expect(routeForEvent(event("delete", { repository: "hello-world" }), unscoped)).toEqual({
      kind: "topic",
      topic: "acr-delete",
    });
  });

  it("routes an event without any target when unscoped", () => {
    expect(routeForEvent(event("push", {}), unscoped).kind).toBe("topic");
  });
});

describe("routeForEvent with scopes from settings", () => {
  const routing = loadRoutingTable({
    TOPIC_PUSH_SCOPE: "hello-world:v1, samples/app:*",
    TOPIC_DELETE_SCOPE: "samples/app:*",
    TOPIC_CHART_PUSH_SCOPE: "helm/wordpress",
    TOPIC_QUARANTINE_SCOPE: "",
  });

  it.each<[string, { repository?: string; tag?: string }, Route]>([
    ["push", { repository: "hello-world", tag: "v1" }, { kind: "topic", topic: "acr-push" }],
    ["push", { repository: "samples/app", tag: "any" }, { kind: "topic", topic: "acr-push" }],
    ["push", { repository: "samples/app" }, { kind: "topic", topic: "acr-push" }],
    [
      "push",
      { repository: "hello-world", tag: "v2" },
      { kind: "not-routed", reason: "out-of-scope" },
    ],
    ["push", { repository: "hello-world" }, { kind: "not-routed", reason: "out-of-scope" }],
    [
      "push",
      { repository: "samples/app2", tag: "x" },
      { kind: "not-routed", reason: "out-of-scope" },
    ],
    ["push", {}, { kind: "not-routed", reason: "out-of-scope" }],
    ["delete", { repository: "samples/app" }, { kind: "topic", topic: "acr-delete" }],
    ["delete", { repository: "hello-world" }, { kind: "not-routed", reason: "out-of-scope" }],
    [
      "chart_push",
      { repository: "helm/wordpress", tag: "latest" },
      { kind: "topic", topic: "acr-chart-push" },
    ],
    [
      "chart_push",
      { repository: "helm/wordpress", tag: "5.4.0" },
      { kind: "not-routed", reason: "out-of-scope" },
    ],
    ["chart_delete", { repository: "anything" }, { kind: "topic", topic: "acr-chart-delete" }],
    ["quarantine", { repository: "any", tag: "1" }, { kind: "topic", topic: "acr-quarantine" }],
    ["ping", { repository: "nowhere" }, { kind: "not-routed", reason: "ping" }],
    [
      "retag",
      { repository: "hello-world", tag: "v1" },
      { kind: "not-routed", reason: "unknown-action" },
    ],
  ])("%s %j -> %j", (action, target, route) => {
    expect(routeForEvent(event(action, target), routing)).toEqual(route);
  });

  it("a scope for one action does not restrict another", () => {
    const pushOnly = loadRoutingTable({ TOPIC_PUSH_SCOPE: "only-this:*" });
    expect(routeForEvent(event("push"), pushOnly).kind).toBe("not-routed");
    expect(routeForEvent(event("delete"), pushOnly).kind).toBe("topic");
    expect(routeForEvent(event("quarantine"), pushOnly).kind).toBe("topic");
  });
});

describe("topic overrides", () => {
  it.each([
    ["push", "TOPIC_PUSH"],
    ["delete", "TOPIC_DELETE"],
    ["chart_push", "TOPIC_CHART_PUSH"],
    ["chart_delete", "TOPIC_CHART_DELETE"],
    ["quarantine", "TOPIC_QUARANTINE"],
  ] as const)("%s reads %s", (action, setting) => {
    expect(topicSettingFor(action)).toBe(setting);
    const routing = loadRoutingTable({ [setting]: `custom-${action}` });
    expect(routeForEvent(event(action), routing)).toEqual({
      kind: "topic",
      topic: `custom-${action}`,
    });
    for (const other of PUBLISHABLE_ACTIONS.filter((a) => a !== action)) {
      expect(routing[other].topic).toBe(DEFAULT_TOPICS[other]);
    }
  });

  it("an override combined with a scope", () => {
    const routing = loadRoutingTable({
      TOPIC_PUSH: "prod-images",
      TOPIC_PUSH_SCOPE: "prod/api:*",
    });
    expect(routeForEvent(event("push", { repository: "prod/api", tag: "1" }), routing)).toEqual({
      kind: "topic",
      topic: "prod-images",
    });
    expect(routeForEvent(event("push", { repository: "prod/web", tag: "1" }), routing)).toEqual({
      kind: "not-routed",
      reason: "out-of-scope",
    });
  });

  it("a repository glob is no ACR scope: refused, not a scope that matches nothing", () => {
    expect(() => loadRoutingTable({ TOPIC_PUSH_SCOPE: "prod/*:*" })).toThrow(
      /^setting TOPIC_PUSH_SCOPE: scope "prod\/\*:\*"/,
    );
  });

  it("an empty or blank override keeps the default topic", () => {
    expect(loadRoutingTable({ TOPIC_PUSH: "" }).push.topic).toBe("acr-push");
    expect(loadRoutingTable({ TOPIC_PUSH: "   " }).push.topic).toBe("acr-push");
  });

  it("an override is trimmed", () => {
    expect(loadRoutingTable({ TOPIC_DELETE: " deletes " }).delete.topic).toBe("deletes");
  });

  it("an invalid topic name is a ConfigError naming the setting", () => {
    expect(() => loadRoutingTable({ TOPIC_CHART_PUSH: "bad topic" })).toThrow(ConfigError);
    expect(() => loadRoutingTable({ TOPIC_CHART_PUSH: "bad topic" })).toThrow(/TOPIC_CHART_PUSH/);
  });
});

describe("isNotRoutedReason", () => {
  it.each([
    ["ping", true],
    ["unknown-action", true],
    ["out-of-scope", true],
    ["topic", false],
    ["", false],
    [undefined, false],
    [1, false],
  ])("%j -> %s", (value, expected) => {
    expect(isNotRoutedReason(value)).toBe(expected);
  });
});
