import { createHmac, timingSafeEqual } from "node:crypto";

export interface SharedAccessKey {
  keyName: string;
  key: string;
}

export type SasVerdict = { valid: true; resource: string } | { valid: false; reason: string };

/**
 * Checks a `SharedAccessSignature sr=…&sig=…&se=…&skn=…` token the way Service Bus does:
 * the signature is an HMAC-SHA256 of the URL-encoded resource and the expiry, keyed by the key.
 */
export function verifySasToken(
  token: string,
  expected: SharedAccessKey,
  nowMs: number,
): SasVerdict {
  const prefix = "SharedAccessSignature ";
  if (!token.startsWith(prefix))
    return { valid: false, reason: "not a SharedAccessSignature token" };
  const fields = new Map(
    token
      .slice(prefix.length)
      .split("&")
      .map((pair): [string, string] => {
        const equals = pair.indexOf("=");
        return equals < 0 ? [pair, ""] : [pair.slice(0, equals), pair.slice(equals + 1)];
      }),
  );
  const encodedResource = fields.get("sr");
  const signature = fields.get("sig");
  const expiry = fields.get("se");
  const keyName = fields.get("skn");
  if (!encodedResource || !signature || !expiry || !keyName) {
    return { valid: false, reason: "the token lacks one of sr, sig, se, skn" };
  }
  if (safeDecode(keyName) !== expected.keyName) {
    return { valid: false, reason: `unknown SharedAccessKeyName "${safeDecode(keyName)}"` };
  }
  if (!/^\d+$/.test(expiry) || Number(expiry) * 1000 <= nowMs) {
    return { valid: false, reason: "the token has expired" };
  }
  const computed = createHmac("sha256", expected.key)
    .update(`${encodedResource}\n${expiry}`)
    .digest();
  const given = Buffer.from(safeDecode(signature), "base64");
  if (given.length !== computed.length || !timingSafeEqual(given, computed)) {
    return { valid: false, reason: "InvalidSignature: the token signature does not match the key" };
  }
  return { valid: true, resource: safeDecode(encodedResource) };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
