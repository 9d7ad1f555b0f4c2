import { parseArgs } from "node:util";
import type {
  RuleProperties,
  ServiceBusAdministrationClient,
  SqlRuleFilter,
} from "@azure/service-bus";
import { loadCrossCheckSettings, loadRoutingTable } from "../../src/config";
import { readLocalSettings } from "../host/settings";
import { administrationClient } from "./administrationClient";
import { sqlFilterFor } from "./globFilter";
import { azCommandsFor, bicepFor, type SubscriptionDefinition } from "./ruleDefinitions";
import { type AskedFor, unreachableOptions } from "./topicReach";

const USAGE = `Usage:
  npm run subscribe -- --topic <topic> --name <subscription> [--repository GLOB]... [--tag GLOB]...
                       [--action push,delete] [--kind image,index] [--tagged] [--rule NAME] [--dry-run]

  Creates a subscription whose SQL filter selects what the globs say (* any run of characters,
  '/' included; ? one character), prints the filter and the same as Bicep and az commands.
  Lists are ORed within an option, options ANDed. --dry-run prints without creating.
  Connects with SERVICEBUS_CONNECTION, or SERVICEBUS_NAMESPACE and your Azure login
  (DefaultAzureCredential), read from the environment or local.settings.json.`;

class UsageError extends Error {}

const SUBSCRIPTION_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,49}$/;
const RULE_NAME = /^[A-Za-z0-9$][A-Za-z0-9._$-]{0,49}$/;
const TOPIC_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,259}$/;

const list = (values: string[] | undefined) =>
  (values ?? []).flatMap((value) => value.split(",")).map((value) => value.trim());

function definitionFrom(args: string[]): {
  definition: SubscriptionDefinition;
  asked: AskedFor;
  dryRun: boolean;
} {
  const { values } = parseArgs({
    args,
    options: {
      topic: { type: "string" },
      name: { type: "string" },
      repository: { type: "string", multiple: true },
      tag: { type: "string", multiple: true },
      action: { type: "string", multiple: true },
      kind: { type: "string", multiple: true },
      tagged: { type: "boolean", default: false },
      rule: { type: "string", default: "glob-filter" },
      "dry-run": { type: "boolean", default: false },
    },
  });
  const problems: string[] = [];
  if (!values.topic || !TOPIC_NAME.test(values.topic)) problems.push("--topic must name a topic");
  if (!values.name || !SUBSCRIPTION_NAME.test(values.name)) {
    problems.push("--name must be a subscription name: 1-50 letters, digits, '.', '_', '-'");
  }
  if (!RULE_NAME.test(values.rule)) problems.push("--rule must be a rule name (1-50 characters)");
  const criteria = {
    repositories: values.repository ?? [],
    tags: values.tag ?? [],
    actions: list(values.action),
    kinds: list(values.kind),
    tagged: values.tagged,
  };
  const asked = { ...criteria, tags: criteria.tags.length > 0 };
  const filter = sqlFilterFor(criteria);
  if (!filter.ok) problems.push(...filter.failure);
  if (problems.length > 0 || !filter.ok) throw new UsageError(problems.join("\n"));
  return {
    definition: {
      topic: values.topic as string,
      subscription: values.name as string,
      ruleName: values.rule,
      sqlExpression: filter.value,
    },
    asked,
    dryRun: values["dry-run"],
  };
}

async function main(): Promise<void> {
  const { definition, asked, dryRun } = definitionFrom(process.argv.slice(2));
  // The environment over local.settings.json, as the bridge's host reads its settings.
  const settings = { ...process.env, ...readLocalSettings(process.cwd()) };
  const bridge = {
    routing: loadRoutingTable(settings),
    discrepancyTopic: loadCrossCheckSettings(settings).discrepancyTopic,
  };
  const unreachable = unreachableOptions(definition.topic, asked, bridge);
  if (unreachable.length > 0) {
    // Not refused: a replay sent to a topic of its own choosing can carry anything.
    console.log(
      `Never matched by what the bridge publishes to ${definition.topic} (its settings as read here):\n${unreachable.map((line) => `  ${line}`).join("\n")}\n`,
    );
  }
  console.log(`SQL filter:\n  ${definition.sqlExpression}\n`);
  console.log(`Bicep:\n${bicepFor(definition).replace(/^(?=.)/gm, "  ")}`);
  console.log(
    `Azure CLI:\n${azCommandsFor(definition)
      .map((line) => `  ${line}`)
      .join("\n")}\n`,
  );
  if (dryRun) return;
  const admin = administrationClient(readLocalSettings(process.cwd()));
  try {
    await admin.createSubscription(definition.topic, definition.subscription, {
      lockDuration: "PT1M",
      maxDeliveryCount: 10,
      deadLetteringOnFilterEvaluationExceptions: true,
      // The filter as the subscription's first rule, so no take-everything $Default is created.
      defaultRuleOptions: {
        name: definition.ruleName,
        filter: { sqlExpression: definition.sqlExpression },
      },
    });
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    if (code !== "MessageEntityAlreadyExistsError") {
      throw new Error(
        `Creating ${definition.topic}/${definition.subscription} failed: ${code ?? ""} ${message}`,
      );
    }
    await alreadyThere(admin, definition);
    return;
  }
  console.log(
    `Created subscription ${definition.topic}/${definition.subscription} with rule ${definition.ruleName}.`,
  );
}

/**
 * A second run of the same command is no failure: the subscription it would create is there, with
 * the filter as its only rule. Any other rules are named and left alone (never replaced: a
 * consumer may rely on them).
 */
async function alreadyThere(
  admin: ServiceBusAdministrationClient,
  definition: SubscriptionDefinition,
): Promise<void> {
  const where = `${definition.topic}/${definition.subscription}`;
  const rules: RuleProperties[] = [];
  for await (const rule of admin.listRules(definition.topic, definition.subscription)) {
    rules.push(rule);
  }
  const [only] = rules;
  if (
    rules.length === 1 &&
    only.name === definition.ruleName &&
    isSqlRuleFilter(only.filter) &&
    only.filter.sqlExpression === definition.sqlExpression
  ) {
    console.log(
      `Subscription ${where} already exists with rule ${definition.ruleName} and this filter: nothing changed.`,
    );
    return;
  }
  const existing = rules.map((rule) => `${rule.name}: ${describeFilter(rule.filter)}`).join("; ");
  throw new Error(
    `Subscription ${where} already exists, not with rule ${definition.ruleName}: ${definition.sqlExpression} alone (${existing ? `its rules: ${existing}` : "it has no rules"}); nothing changed: delete it or choose another --name.`,
  );
}

function isSqlRuleFilter(filter: RuleProperties["filter"]): filter is SqlRuleFilter {
  return "sqlExpression" in filter;
}

function describeFilter(filter: RuleProperties["filter"]): string {
  return isSqlRuleFilter(filter) ? filter.sqlExpression : "a correlation filter";
}

main().catch((error: Error) => {
  const usage = error instanceof UsageError || error.name === "TypeError";
  console.error(usage ? `${error.message}\n\n${USAGE}` : error.message);
  process.exit(usage ? 2 : 1);
});
