import type { AuthFailure, AuthOutcome } from "../../src/core/webhookAuth";

/** The failure an authentication outcome names, or undefined when it let the request in. */
export function failureOf(outcome: AuthOutcome): AuthFailure | undefined {
  return outcome.ok ? undefined : outcome.failure;
}
