import type { BrokeredMessage, SystemProperties } from "./brokeredMessage";
import { sqlFilterMatches } from "./sqlFilter";
import type { CorrelationMatch, RuleFilter, SubscriptionRule } from "./topology";

const SYSTEM_FIELDS = [
  "contentType",
  "correlationId",
  "subject",
  "messageId",
  "replyTo",
  "replyToSessionId",
  "sessionId",
  "to",
] as const satisfies readonly (keyof CorrelationMatch & keyof SystemProperties)[];

/** Whether a subscription takes a copy: any matching rule is enough; no rules take everything. */
export function subscriptionAccepts(rules: SubscriptionRule[], message: BrokeredMessage): boolean {
  return rules.length === 0 || rules.some((rule) => filterMatches(rule.filter, message));
}

function filterMatches(filter: RuleFilter, message: BrokeredMessage): boolean {
  switch (filter.type) {
    case "sql":
      return sqlFilterMatches(filter.expression, message);
    case "correlation":
      return (
        SYSTEM_FIELDS.every(
          (field) =>
            filter.match[field] === undefined || filter.match[field] === message.system[field],
        ) &&
        Object.entries(filter.match.applicationProperties).every(
          ([name, value]) => message.applicationProperties[name] === value,
        )
      );
  }
}
