// The module object, not named bindings: a test can then spy on the comparison it relies on.
import crypto from "node:crypto";
import { DONE, type Result } from "./result";

export interface WebhookAuthSettings {
  secrets: readonly string[];
  /** Lower-case header name. `authorization` carries `Bearer <secret>`; any other the raw secret. */
  header: string;
}

export type AuthFailure = "missing-credential" | "wrong-credential";

export type AuthOutcome = Result<void, AuthFailure>;

/** The credential ACR sent in its custom header, or undefined when absent. */
export function presentedSecret(
  settings: WebhookAuthSettings,
  headerValue: string | null,
): string | undefined {
  if (headerValue === null) return undefined;
  if (settings.header !== "authorization") return headerValue;
  // The auth scheme is case-insensitive (RFC 9110 section 11.1): `bearer <secret>` is the same.
  const match = /^Bearer (.*)$/is.exec(headerValue);
  return match ? match[1] : undefined;
}

/**
 * Constant-time: both sides are hashed to equal length before `timingSafeEqual`, and every
 * accepted secret is compared, so neither a secret's length nor which one matched shows in timing.
 */
export function authenticateWebhook(
  settings: WebhookAuthSettings,
  headerValue: string | null,
): AuthOutcome {
  return checkSecret(settings.secrets, presentedSecret(settings, headerValue));
}

export function checkSecret(
  secrets: readonly string[],
  candidate: string | undefined,
): AuthOutcome {
  if (candidate === undefined || candidate === "")
    return { ok: false, failure: "missing-credential" };
  const candidateDigest = sha256(candidate);
  let matched = false;
  for (const secret of secrets) {
    matched = crypto.timingSafeEqual(candidateDigest, sha256(secret)) || matched;
  }
  return matched ? DONE : { ok: false, failure: "wrong-credential" };
}

function sha256(value: string): Buffer {
  return crypto.createHash("sha256").update(value, "utf8").digest();
}
