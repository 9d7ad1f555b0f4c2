/** Where a filtered subscription goes and what its rule selects. */
export interface SubscriptionDefinition {
  topic: string;
  subscription: string;
  ruleName: string;
  sqlExpression: string;
}

/** Bicep single-quoted strings escape `\`, `'` and `${`. */
const bicepString = (value: string) =>
  `'${value.replaceAll("\\", "\\\\").replaceAll("'", "\\'").replaceAll("${", "\\${")}'`;

/** For a POSIX shell: double quotes when nothing inside would expand (SQL holds `'`), else single. */
const shellQuote = (value: string) =>
  /["$`\\!]/.test(value) ? `'${value.replaceAll("'", `'"'"'`)}'` : `"${value}"`;

const SERVICE_BUS_API = "2026-01-01";

/**
 * A Bicep module body for the subscription and its rule. The rule is named `$Default`: every new
 * subscription gets a `$Default` rule that takes everything (rules are ORed), so the filter
 * replaces it rather than sitting beside it.
 */
export function bicepFor(definition: SubscriptionDefinition): string {
  return [
    "param namespaceName string",
    "",
    `resource namespace 'Microsoft.ServiceBus/namespaces@${SERVICE_BUS_API}' existing = {`,
    "  name: namespaceName",
    "}",
    "",
    `resource topic 'Microsoft.ServiceBus/namespaces/topics@${SERVICE_BUS_API}' existing = {`,
    "  parent: namespace",
    `  name: ${bicepString(definition.topic)}`,
    "}",
    "",
    `resource subscription 'Microsoft.ServiceBus/namespaces/topics/subscriptions@${SERVICE_BUS_API}' = {`,
    "  parent: topic",
    `  name: ${bicepString(definition.subscription)}`,
    "  properties: {",
    "    lockDuration: 'PT1M'",
    "    maxDeliveryCount: 10",
    "    deadLetteringOnFilterEvaluationExceptions: true",
    "  }",
    "}",
    "",
    `resource rule 'Microsoft.ServiceBus/namespaces/topics/subscriptions/rules@${SERVICE_BUS_API}' = {`,
    "  parent: subscription",
    "  name: '$Default'",
    "  properties: {",
    "    filterType: 'SqlFilter'",
    "    sqlFilter: {",
    `      sqlExpression: ${bicepString(definition.sqlExpression)}`,
    "    }",
    "  }",
    "}",
    "",
  ].join("\n");
}

/** The same with the Azure CLI: create, add the filter, drop the take-everything `$Default`. */
export function azCommandsFor(definition: SubscriptionDefinition): string[] {
  const target = `-g <resource-group> --namespace-name <namespace> --topic-name ${shellQuote(definition.topic)}`;
  return [
    `az servicebus topic subscription create ${target} -n ${shellQuote(definition.subscription)} --max-delivery-count 10 --lock-duration PT1M`,
    `az servicebus topic subscription rule create ${target} --subscription-name ${shellQuote(definition.subscription)} -n ${shellQuote(definition.ruleName)} --filter-sql-expression ${shellQuote(definition.sqlExpression)}`,
    `az servicebus topic subscription rule delete ${target} --subscription-name ${shellQuote(definition.subscription)} -n '$Default'`,
  ];
}
