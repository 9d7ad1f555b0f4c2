import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { Agent } from "node:https";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { ServiceBusAdministrationClient, ServiceBusClient } from "@azure/service-bus";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalServiceBus, startLocalServiceBus } from "../../dev/servicebus/broker";
import { defaultTopology } from "../../dev/servicebus/topology";
import { emulatorEndpoint } from "../../dev/subscribe/administrationClient";

const ROOT = resolve(__dirname, "../..");
const run = promisify(execFile);

let bus: LocalServiceBus;
let admin: ServiceBusAdministrationClient;

beforeAll(async () => {
  bus = await startLocalServiceBus({ topology: defaultTopology() });
  admin = new ServiceBusAdministrationClient(bus.connectionString, {
    agent: new Agent({ ca: bus.certificate }),
  });
});

afterAll(async () => {
  await bus?.stop();
});

/** `npm run subscribe -- ...`, as built: the command's exit code, output and errors. */
function subscribe(...args: string[]) {
  return subscribeWith({}, args);
}

/** The same with more settings in the environment. */
async function subscribeWith(settings: NodeJS.ProcessEnv, args: string[]) {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      [resolve(ROOT, "dist/dev/subscribe/main.js"), ...args],
      {
        cwd: ROOT,
        env: { ...process.env, SERVICEBUS_CONNECTION: bus.connectionString, ...settings },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string };
    return { code, stdout, stderr };
  }
}

/** A dry run of a subscription named `x` on `topic`, under the bridge's settings if given. */
function dryRun(topic: string, options: string[], settings?: NodeJS.ProcessEnv) {
  const args = ["--topic", topic, "--name", "x", ...options, "--dry-run"];
  return settings ? subscribeWith(settings, args) : subscribe(...args);
}

describe("npm run subscribe", () => {
  it("prints the filter, Bicep and az lines and creates nothing with --dry-run", async () => {
    const result = await subscribe(
      "--topic",
      "acr-push",
      "--name",
      "dry",
      "--repository",
      "prod/*",
      "--tag",
      "v*",
      "--dry-run",
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("repository LIKE 'prod/%' AND tag LIKE 'v%'");
    expect(result.stdout).toContain(
      "sqlExpression: 'repository LIKE \\'prod/%\\' AND tag LIKE \\'v%\\''",
    );
    expect(result.stdout).toContain(
      `az servicebus topic subscription rule create -g <resource-group> --namespace-name <namespace> --topic-name "acr-push" --subscription-name "dry" -n "glob-filter" --filter-sql-expression "repository LIKE 'prod/%' AND tag LIKE 'v%'"`,
    );
    expect(await admin.subscriptionExists("acr-push", "dry")).toBe(false);
  });

  it("creates the subscription on the local broker; it receives only what the globs select", async () => {
    const result = await subscribe(
      "--topic",
      "acr-push",
      "--name",
      "prod-api",
      "--repository",
      "prod/*",
      "--tag",
      "v*",
      "--kind",
      "image,index",
      "--tagged",
    );
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      "Created subscription acr-push/prod-api with rule glob-filter.",
    );
    expect((await admin.getRule("acr-push", "prod-api", "glob-filter")).filter).toEqual({
      sqlExpression:
        "repository LIKE 'prod/%' AND tag LIKE 'v%' AND artifactKind IN ('image', 'index') AND tagged = 'true'",
      sqlParameters: undefined,
    });

    const client = new ServiceBusClient(bus.connectionString);
    const message = (tag: string | undefined, artifactKind: string, repository = "prod/api") => ({
      body: {},
      applicationProperties: {
        repository,
        artifactKind,
        tagged: String(tag !== undefined),
        ...(tag === undefined ? {} : { tag }),
      },
    });
    await client
      .createSender("acr-push")
      .sendMessages([
        message("v1", "index"),
        message(undefined, "image"),
        message(`sha256-${"a".repeat(64)}.sig`, "signature"),
        message("v1", "index", "dev/api"),
      ]);
    await client.close();
    expect(bus.messages("acr-push", "prod-api").map((m) => m.applicationProperties)).toEqual([
      { repository: "prod/api", artifactKind: "index", tagged: "true", tag: "v1" },
    ]);
    expect(bus.messageCount("acr-push", "all")).toBe(4);
  });

  it("names the options nothing the bridge publishes to the topic matches, under its settings", async () => {
    const onPush = await dryRun("acr-push", ["--action", "push,delete"]);
    expect(onPush.code).toBe(0);
    expect(onPush.stdout).toContain(
      "--action delete: the bridge publishes delete to acr-delete, not acr-push",
    );
    expect(onPush.stdout).not.toContain("--action push:");
    const findings = await dryRun("acr-discrepancies", ["--kind", "image", "--tagged"]);
    expect(findings.stdout).toContain(
      "--kind: findings on acr-discrepancies carry no artifactKind",
    );
    expect(findings.stdout).toContain("--tagged: findings on acr-discrepancies carry no tagged");
    // Routing moved by a setting: delete now goes to acr-push too.
    const moved = await dryRun("acr-push", ["--action", "delete"], { TOPIC_DELETE: "acr-push" });
    expect(moved.stdout).not.toContain("Never matched");
    // Deletes carry no tag property (their tags are in `tags`): --tag and --tagged never match one.
    const deletes = await dryRun("acr-delete", ["--tag", "v*", "--tagged"]);
    expect(deletes.code).toBe(0);
    expect(deletes.stdout).toContain(
      "--tag: deletes carry no tag property (the tags last pushed for the digest are in tags, comma-separated)",
    );
    expect(deletes.stdout).toContain("--tagged: deletes carry tagged = 'false'");
    const pushesToo = await dryRun("acr-push", ["--tag", "v*"], { TOPIC_DELETE: "acr-push" });
    expect(pushesToo.stdout).not.toContain("Never matched");
    const onlyDeletes = await dryRun("acr-push", ["--action", "delete", "--tag", "v*"], {
      TOPIC_DELETE: "acr-push",
    });
    expect(onlyDeletes.stdout).toContain("--tag: deletes carry no tag property");
    const clean = await dryRun("acr-push", ["--tagged"]);
    expect(clean.stdout).not.toContain("Never matched");
  });

  it("run twice with the same options, succeeds twice and changes nothing the second time", async () => {
    const args = ["--topic", "acr-push", "--name", "twice", "--repository", "team/*", "--tagged"];
    const first = await subscribe(...args);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain("Created subscription acr-push/twice with rule glob-filter.");
    const second = await subscribe(...args);
    expect(second.stderr).toBe("");
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(
      "Subscription acr-push/twice already exists with rule glob-filter and this filter: nothing changed.",
    );
    const rules = [];
    for await (const rule of admin.listRules("acr-push", "twice")) rules.push(rule);
    expect(rules.map((rule) => [rule.name, rule.filter])).toEqual([
      ["glob-filter", { sqlExpression: "repository LIKE 'team/%' AND tagged = 'true'" }],
    ]);
  });

  it("says so, naming its rules and changing nothing, when the subscription exists with another filter", async () => {
    const result = await subscribe("--topic", "acr-push", "--name", "all");
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      "Subscription acr-push/all already exists, not with rule glob-filter: 1=1 alone (it has no rules); nothing changed: delete it or choose another --name.",
    );
    expect(result.stderr).not.toMatch(/^\s+at /m);
    const changed = await subscribe("--topic", "acr-push", "--name", "twice", "--tag", "v*");
    expect(changed.code).toBe(1);
    expect(changed.stderr).toContain(
      "Subscription acr-push/twice already exists, not with rule glob-filter: tag LIKE 'v%' alone (its rules: glob-filter: repository LIKE 'team/%' AND tagged = 'true'); nothing changed",
    );
  });

  it("refuses bad globs and names with every problem and the usage, creating nothing", async () => {
    const result = await subscribe(
      "--topic",
      "acr-push",
      "--name",
      "bad name",
      "--repository",
      "prod/{a,b}",
      "--kind",
      "chart",
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--name must be a subscription name");
    expect(result.stderr).toContain('--repository "prod/{a,b}": "{" is not allowed');
    expect(result.stderr).toContain('--kind "chart" is not one of');
    expect(result.stderr).toContain("Usage:");
    expect(result.stdout).toBe("");
  });
});

describe("the administration endpoint of a local emulator", () => {
  const sample = JSON.parse(readFileSync(resolve(ROOT, "local.settings.sample.json"), "utf8")) as {
    Values: { SERVICEBUS_CONNECTION: string };
  };

  it("is the AMQP port for the sample's connection, which names none (not HTTPS's 443)", () => {
    const { connectionString, port } = emulatorEndpoint(sample.Values.SERVICEBUS_CONNECTION);
    expect(port).toBe(5672);
    expect(connectionString).toMatch(/^Endpoint=sb:\/\/localhost:5672;/);
    expect(connectionString.replace(":5672", "")).toBe(sample.Values.SERVICEBUS_CONNECTION);
  });

  it("keeps a port the connection names", () => {
    expect(emulatorEndpoint(bus.connectionString)).toEqual({
      connectionString: bus.connectionString,
      port: Number(new URL(/Endpoint=(sb:\/\/[^;]+)/.exec(bus.connectionString)?.[1] ?? "").port),
    });
  });
});
