import { tmpdir } from "node:os";
import { join } from "node:path";
import { generate } from "selfsigned";

export interface LocalCertificate {
  /** PEM; give it to clients as a trusted CA (`NODE_EXTRA_CA_CERTS`, or an https.Agent's `ca`). */
  cert: string;
  key: string;
}

/** A fresh self-signed certificate for localhost and 127.0.0.1, made at every start. */
export async function localCertificate(): Promise<LocalCertificate> {
  const now = Date.now();
  const pems = await generate([{ name: "commonName", value: "localhost" }], {
    keyType: "ec",
    curve: "P-256",
    algorithm: "sha256",
    notBeforeDate: new Date(now - 60_000),
    notAfterDate: new Date(now + 365 * 86_400_000),
    extensions: [
      { name: "basicConstraints", cA: true, critical: true },
      { name: "keyUsage", digitalSignature: true, keyCertSign: true, critical: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [
          { type: 2, value: "localhost" },
          { type: 7, ip: "127.0.0.1" },
        ],
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

/**
 * Where a running local broker leaves its certificate, so that tools on this machine (the
 * subscribe command) can trust its administration endpoint; removed when it stops.
 */
export function localCertificatePath(port: number): string {
  return join(tmpdir(), "acr-event-bridge-servicebus", `${port}.pem`);
}
