import { writeFileSync } from "node:fs";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { gunzipSync } from "node:zlib";
import { generate } from "selfsigned";

/** One Application Insights telemetry item as the exporter sends it (Breeze envelope). */
export interface Envelope {
  name: string;
  time: string;
  iKey: string;
  tags?: Record<string, string>;
  data: {
    baseType: string;
    baseData: Record<string, unknown> & { properties?: Record<string, string> };
  };
}

export interface IngestionCapture {
  /** For APPLICATIONINSIGHTS_CONNECTION_STRING: ingestion and live metrics both point here. */
  readonly connectionString: string;
  /** The capture's certificate, for NODE_EXTRA_CA_CERTS of the process that exports. */
  readonly caFile: string;
  /**
   * The settings of a host that exports here: the connection string, trust of the certificate,
   * loopback only, every trace sampled, no statsbeat.
   */
  hostSettings(): Record<string, string>;
  envelopes(): Envelope[];
  /** Every request body as received (after gzip), to search for what must never be sent. */
  rawBodies(): string[];
  stop(): Promise<void>;
}

/**
 * A stand-in for the Application Insights ingestion endpoint: HTTPS on loopback with a
 * certificate made here (the exporter only speaks TLS), recording what `/v2.1/track` receives and
 * accepting it the way Breeze answers.
 */
export async function startIngestionCapture(dir: string): Promise<IngestionCapture> {
  const pems = await generate([{ name: "commonName", value: "127.0.0.1" }], {
    keySize: 2048,
    extensions: [
      { name: "basicConstraints", cA: true },
      { name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }] },
    ],
  });
  const caFile = join(dir, "ingestion-ca.pem");
  writeFileSync(caFile, pems.cert);
  const received: Envelope[] = [];
  const bodies: string[] = [];
  const server = createServer({ key: pems.private, cert: pems.cert }, (request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      let body = Buffer.concat(chunks);
      if (request.headers["content-encoding"] === "gzip") body = gunzipSync(body);
      const text = body.toString("utf8");
      bodies.push(text);
      if (request.url?.startsWith("/v2.1/track")) {
        const items = JSON.parse(text) as Envelope[];
        received.push(...items);
        response.writeHead(200, { "content-type": "application/json" });
        response.end(
          JSON.stringify({ itemsReceived: items.length, itemsAccepted: items.length, errors: [] }),
        );
        return;
      }
      // Live metrics: not subscribed, so the exporter only pings now and then.
      response.writeHead(200, { "x-ms-qps-subscribed": "false" });
      response.end();
    });
  });
  await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening));
  const { port } = server.address() as AddressInfo;
  const endpoint = `https://127.0.0.1:${port}/`;
  const connectionString = `InstrumentationKey=00000000-0000-4000-8000-000000000001;IngestionEndpoint=${endpoint};LiveEndpoint=${endpoint}`;
  return {
    connectionString,
    caFile,
    hostSettings: () => ({
      APPLICATIONINSIGHTS_CONNECTION_STRING: connectionString,
      NODE_EXTRA_CA_CERTS: caFile,
      NODE_OPTIONS: `--require ${resolve(__dirname, "loopbackOnly.cjs")}`,
      OTEL_TRACES_SAMPLER: "always_on",
      APPLICATIONINSIGHTS_STATSBEAT_DISABLED: "true",
      APPLICATION_INSIGHTS_NO_STATSBEAT: "true",
    }),
    envelopes: () => [...received],
    rawBodies: () => [...bodies],
    stop: () =>
      new Promise<void>((closed) => {
        server.closeAllConnections();
        server.close(() => closed());
      }),
  };
}
