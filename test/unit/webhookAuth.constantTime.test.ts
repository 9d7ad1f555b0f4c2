import crypto from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  authenticateWebhook,
  checkSecret,
  type WebhookAuthSettings,
} from "../../src/core/webhookAuth";
import { failureOf } from "../support/authFailure";

const SECRETS = [
  "first-secret-aaaaaaaaaaaa",
  "s2",
  "third-secret-with-a-much-longer-value-0123456789",
];
const settings: WebhookAuthSettings = { secrets: SECRETS, header: "authorization" };

afterEach(() => {
  vi.restoreAllMocks();
});

function spyOnComparison() {
  return vi.spyOn(crypto, "timingSafeEqual");
}

describe("the secret comparison is constant-time", () => {
  it.each([
    ["the first secret", SECRETS[0], undefined],
    ["the shortest secret", SECRETS[1], undefined],
    ["the last secret", SECRETS[2], undefined],
    [
      "a wrong secret of the same length as the first",
      "first-secret-aaaaaaaaaaab",
      "wrong-credential",
    ],
    ["a one-character candidate (length mismatch)", "x", "wrong-credential"],
    ["a prefix of a secret (length mismatch)", SECRETS[2].slice(0, 10), "wrong-credential"],
    ["a secret plus one character (length mismatch)", `${SECRETS[0]}x`, "wrong-credential"],
    ["a 10 KiB candidate (length mismatch)", "y".repeat(10_240), "wrong-credential"],
  ])(
    "compares %s against every configured secret, with no early exit",
    (_name, candidate, expected) => {
      const compare = spyOnComparison();
      expect(failureOf(authenticateWebhook(settings, `Bearer ${candidate}`))).toBe(expected);
      expect(compare).toHaveBeenCalledTimes(SECRETS.length);
      // Both sides are SHA-256 digests: equal lengths, so nothing about a secret's length leaks and
      // timingSafeEqual never throws.
      for (const [a, b] of compare.mock.calls) {
        expect(a.byteLength).toBe(32);
        expect(b.byteLength).toBe(32);
      }
      // The digest of the candidate, never the candidate or a secret itself, is compared.
      const compared = compare.mock.calls.flat().map((buffer) => Buffer.from(buffer as Uint8Array));
      for (const buffer of compared) {
        expect(buffer.toString("utf8")).not.toBe(candidate);
        for (const secret of SECRETS) expect(buffer.toString("utf8")).not.toBe(secret);
      }
    },
  );

  it("compares against each secret once per configured secret, whatever the list's size", () => {
    for (const count of [1, 2, 5]) {
      const secrets = Array.from({ length: count }, (_, index) => `secret-${index}`);
      const compare = spyOnComparison();
      checkSecret(secrets, "secret-0");
      checkSecret(secrets, "wrong");
      expect(compare).toHaveBeenCalledTimes(2 * count);
      compare.mockRestore();
    }
  });

  it("with a custom header carrying the raw secret as well", () => {
    const compare = spyOnComparison();
    const custom: WebhookAuthSettings = { secrets: SECRETS, header: "x-acr-secret" };
    expect(failureOf(authenticateWebhook(custom, SECRETS[1]))).toBeUndefined();
    expect(failureOf(authenticateWebhook(custom, "nope"))).toBe("wrong-credential");
    expect(compare).toHaveBeenCalledTimes(2 * SECRETS.length);
  });

  it.each([
    ["no header", null],
    ["an empty header", ""],
    ["Bearer with nothing after it", "Bearer "],
    ["another scheme", `Basic ${SECRETS[0]}`],
  ])("refuses %s without comparing: nothing about any secret is involved", (_name, header) => {
    const compare = spyOnComparison();
    expect(failureOf(authenticateWebhook(settings, header))).toBe("missing-credential");
    expect(compare).not.toHaveBeenCalled();
  });
});

describe("webhookAuth.ts (reviewed as source)", () => {
  const source = readFileSync(join(__dirname, "../../src/core/webhookAuth.ts"), "utf8")
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/\/\/.*$/gm, "");

  it("compares secrets only with crypto.timingSafeEqual, never with ===, ==, startsWith or includes", () => {
    expect(source).toContain("crypto.timingSafeEqual(");
    for (const line of source
      .split("\n")
      .filter((text) => /[!=]==?|\.(startsWith|includes|indexOf|localeCompare)\(/.test(text))) {
      // The only equality tests allowed: the header's name, and the candidate being absent or empty.
      expect(line).not.toMatch(/secret|digest/i);
    }
  });
});
