import { describe, expect, it } from "vitest";
import {
  type AuthFailure,
  authenticateWebhook,
  presentedSecret,
  type WebhookAuthSettings,
} from "../../src/core/webhookAuth";
import { failureOf } from "../support/authFailure";

const SECRET = "s3cret-Ab9_xyz";
const bearer: WebhookAuthSettings = { secrets: [SECRET], header: "authorization" };
const custom: WebhookAuthSettings = { secrets: [SECRET], header: "x-acr-webhook-secret" };

describe("authenticateWebhook with the default Authorization header (Bearer scheme)", () => {
  it.each<[string, string | null, AuthFailure | undefined]>([
    ["the right secret", `Bearer ${SECRET}`, undefined],
    ["lowercase bearer", `bearer ${SECRET}`, undefined],
    ["uppercase BEARER", `BEARER ${SECRET}`, undefined],
    ["no header", null, "missing-credential"],
    ["an empty header", "", "missing-credential"],
    ["Bearer with no secret", "Bearer ", "missing-credential"],
    ["the scheme alone", "Bearer", "missing-credential"],
    ["the raw secret without a scheme", SECRET, "missing-credential"],
    ["another scheme", `Basic ${SECRET}`, "missing-credential"],
    ["a wrong secret", "Bearer not-the-secret", "wrong-credential"],
    ["a prefix of the secret", `Bearer ${SECRET.slice(0, -1)}`, "wrong-credential"],
    ["a one-character prefix", `Bearer ${SECRET[0]}`, "wrong-credential"],
    ["the secret plus one character", `Bearer ${SECRET}x`, "wrong-credential"],
    ["the secret plus a trailing space", `Bearer ${SECRET} `, "wrong-credential"],
    ["the secret plus a trailing newline", `Bearer ${SECRET}\n`, "wrong-credential"],
    ["the secret plus a trailing tab", `Bearer ${SECRET}\t`, "wrong-credential"],
    ["two spaces after the scheme", `Bearer  ${SECRET}`, "wrong-credential"],
    ["the secret in another case", `Bearer ${SECRET.toUpperCase()}`, "wrong-credential"],
  ])("%s", (_name, headerValue, expected) => {
    expect(failureOf(authenticateWebhook(bearer, headerValue))).toBe(expected);
  });
});

describe("authenticateWebhook with a custom header carrying the raw secret", () => {
  it.each<[string, string | null, AuthFailure | undefined]>([
    ["the raw secret", SECRET, undefined],
    ["no header", null, "missing-credential"],
    ["an empty header", "", "missing-credential"],
    ["a Bearer value", `Bearer ${SECRET}`, "wrong-credential"],
    ["a wrong secret", "nope", "wrong-credential"],
    ["a prefix of the secret", SECRET.slice(0, 5), "wrong-credential"],
    ["the secret plus a trailing space", `${SECRET} `, "wrong-credential"],
    ["a leading space", ` ${SECRET}`, "wrong-credential"],
  ])("%s", (_name, headerValue, expected) => {
    expect(failureOf(authenticateWebhook(custom, headerValue))).toBe(expected);
  });
});

describe("secret rotation", () => {
  const OLD = "old-secret-111";
  const NEW = "new-secret-2222222";

  it.each(["authorization", "x-acr-webhook-secret"])("header %s", (header) => {
    const value = (secret: string) => (header === "authorization" ? `Bearer ${secret}` : secret);
    const both: WebhookAuthSettings = { secrets: [OLD, NEW], header };
    expect(failureOf(authenticateWebhook(both, value(OLD)))).toBeUndefined();
    expect(failureOf(authenticateWebhook(both, value(NEW)))).toBeUndefined();
    expect(failureOf(authenticateWebhook(both, value("third")))).toBe("wrong-credential");

    const newOnly: WebhookAuthSettings = { secrets: [NEW], header };
    expect(failureOf(authenticateWebhook(newOnly, value(OLD)))).toBe("wrong-credential");
    expect(failureOf(authenticateWebhook(newOnly, value(NEW)))).toBeUndefined();
  });

  it("the order of the list does not matter", () => {
    const reversed: WebhookAuthSettings = { secrets: [NEW, OLD], header: "authorization" };
    expect(failureOf(authenticateWebhook(reversed, `Bearer ${OLD}`))).toBeUndefined();
    expect(failureOf(authenticateWebhook(reversed, `Bearer ${NEW}`))).toBeUndefined();
  });
});

describe("empty secrets", () => {
  it("an empty presented secret never authenticates, even if an empty secret is listed", () => {
    const withEmpty: WebhookAuthSettings = { secrets: [""], header: "authorization" };
    expect(failureOf(authenticateWebhook(withEmpty, "Bearer "))).toBe("missing-credential");
    const customEmpty: WebhookAuthSettings = { secrets: [""], header: "x-secret" };
    expect(failureOf(authenticateWebhook(customEmpty, ""))).toBe("missing-credential");
  });

  it("no configured secret accepts nothing", () => {
    const none: WebhookAuthSettings = { secrets: [], header: "authorization" };
    expect(failureOf(authenticateWebhook(none, `Bearer ${SECRET}`))).toBe("wrong-credential");
  });
});

describe("non-ASCII secrets", () => {
  it("compares the full UTF-8 value", () => {
    const settings: WebhookAuthSettings = { secrets: ["clé-日本-🚀"], header: "x-secret" };
    expect(failureOf(authenticateWebhook(settings, "clé-日本-🚀"))).toBeUndefined();
    expect(failureOf(authenticateWebhook(settings, "cle-日本-🚀"))).toBe("wrong-credential");
  });
});

describe("presentedSecret", () => {
  it.each<[WebhookAuthSettings, string | null, string | undefined]>([
    [bearer, `Bearer ${SECRET}`, SECRET],
    [bearer, `bearer ${SECRET}`, SECRET],
    [bearer, `Bearer ${SECRET} `, `${SECRET} `],
    [bearer, SECRET, undefined],
    [bearer, null, undefined],
    [custom, SECRET, SECRET],
    [custom, `Bearer ${SECRET}`, `Bearer ${SECRET}`],
    [custom, null, undefined],
  ])("%j, %j -> %j", (settings, headerValue, expected) => {
    expect(presentedSecret(settings, headerValue)).toBe(expected);
  });
});
