/** The actions ACR webhooks document. `ping` comes from `az acr webhook ping`. */
export const PUBLISHABLE_ACTIONS = [
  "push",
  "delete",
  "chart_push",
  "chart_delete",
  "quarantine",
] as const;

export type PublishableAction = (typeof PUBLISHABLE_ACTIONS)[number];

export function isPublishableAction(action: string): action is PublishableAction {
  return (PUBLISHABLE_ACTIONS as readonly string[]).includes(action);
}
