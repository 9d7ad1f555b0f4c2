#!/bin/sh
# azd postdeploy hook (azure.yaml): subscribes the bridge to the registry's Event Grid system
# topic. That subscription needs the deployed function, so it cannot be part of `azd provision`.
# Idempotent: run it again any time with `azd hooks run postdeploy`.
#
# Reads the outputs of infra/main.bicep from the azd environment. Option (azd env set):
#   AZURE_EVENTGRID_ENDPOINT_TYPE  function (default): the acrEventGrid trigger
#                                  webhook: POST /api/eventgrid?key=<first EVENTGRID_SECRETS secret>
#                                  (reads the secret from Key Vault: the deploying principal has
#                                  Key Vault Secrets Officer unless allowUserIdentityPrincipal=false)
#                                  servicebus-queue: the queue of AZURE_EVENTGRID_QUEUE_ID, read by
#                                  the acrEventGridQueue trigger (main.bicep's eventGridDelivery
#                                  takes the same variable: azd provision creates the queue first)
#   Unset, the delivery provisioned last (AZURE_EVENTGRID_DELIVERY) is kept.
set -eu

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
template="$here/../app/eventgrid-subscription.bicep"

require() {
  for name in "$@"; do
    eval "value=\${$name:-}"
    if [ -z "$value" ]; then
      echo "postdeploy: $name is not set; run azd provision first." >&2
      exit 1
    fi
  done
}

require AZURE_ENV_NAME AZURE_FUNCTION_APP_NAME AZURE_FUNCTION_APP_ID AZURE_ACR_WEBHOOK_URL \
  AZURE_EVENTGRID_ENDPOINT_URL AZURE_SERVICEBUS_NAMESPACE AZURE_STORAGE_ACCOUNT_NAME \
  AZURE_STORAGE_ACCOUNT_ID AZURE_EVENTGRID_DEADLETTER_CONTAINER AZURE_KEY_VAULT_NAME

echo "acr-event-bridge: function app $AZURE_FUNCTION_APP_NAME"
echo "  ACR webhook URL  $AZURE_ACR_WEBHOOK_URL"
echo "  Event Grid URL   $AZURE_EVENTGRID_ENDPOINT_URL"
echo "  Service Bus      $AZURE_SERVICEBUS_NAMESPACE"
echo "  storage account  $AZURE_STORAGE_ACCOUNT_NAME"
echo "  Key Vault        $AZURE_KEY_VAULT_NAME"

if [ -z "${AZURE_ACR_RESOURCE_IDS:-}" ]; then
  echo "postdeploy: warning: ACR_RESOURCE_IDS is empty, so every Event Grid event is rejected (the webhook is unaffected)." >&2
  echo "  Connect a registry (azd env set AZURE_ACR_NAME ...) or trust one connected by hand (azd env set AZURE_ADDITIONAL_ACR_RESOURCE_IDS ...), then azd provision." >&2
fi

if [ -z "${AZURE_ACR_SYSTEM_TOPIC_NAME:-}" ]; then
  echo "postdeploy: no registry connected here: no Event Grid subscription created (README, Deploy)."
  exit 0
fi
require AZURE_ACR_SYSTEM_TOPIC_RESOURCE_GROUP AZURE_ACR_SYSTEM_TOPIC_SUBSCRIPTION_ID

endpoint_type=${AZURE_EVENTGRID_ENDPOINT_TYPE:-${AZURE_EVENTGRID_DELIVERY:-function}}
webhook_url=""
queue_id=""
case $endpoint_type in
  function) ;;
  servicebus-queue)
    queue_id=${AZURE_EVENTGRID_QUEUE_ID:-}
    if [ -z "$queue_id" ]; then
      echo "postdeploy: servicebus-queue needs the queue: run azd provision first (AZURE_EVENTGRID_QUEUE_ID is empty)." >&2
      exit 1
    fi
    ;;
  webhook)
    secrets=$(az keyvault secret show --vault-name "$AZURE_KEY_VAULT_NAME" --name eventgrid-secrets \
      --query value --output tsv --only-show-errors)
    key=${secrets%%,*}
    # Kept out of the URL's syntax and out of JSON escaping: refuse rather than encode.
    case $key in
      '' | *[!A-Za-z0-9._~-]*)
        echo "postdeploy: the first eventgrid-secrets secret must be non-empty and URL-safe ([A-Za-z0-9._~-])." >&2
        exit 1
        ;;
    esac
    webhook_url="$AZURE_EVENTGRID_ENDPOINT_URL?key=$key"
    ;;
  *)
    echo "postdeploy: AZURE_EVENTGRID_ENDPOINT_TYPE must be function, webhook or servicebus-queue, not '$endpoint_type'." >&2
    exit 1
    ;;
esac

# One subscription per environment: two bridges (say staging and production) may watch one
# registry's topic. Event Grid names take letters, digits and hyphens, 64 at most.
subscription_name="acr-event-bridge-$(printf '%s' "$AZURE_ENV_NAME" | tr -c 'A-Za-z0-9-' '-' | cut -c1-47)"

# The parameters go through a private file: the webhook URL carries a secret that must not show
# up in the process list.
umask 077
params_file=$(mktemp)
trap 'rm -f "$params_file"' EXIT
cat >"$params_file" <<JSON
{
  "\$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
  "contentVersion": "1.0.0.0",
  "parameters": {
    "systemTopicName": { "value": "$AZURE_ACR_SYSTEM_TOPIC_NAME" },
    "subscriptionName": { "value": "$subscription_name" },
    "endpointType": { "value": "$endpoint_type" },
    "functionAppId": { "value": "$AZURE_FUNCTION_APP_ID" },
    "webhookEndpointUrl": { "value": "$webhook_url" },
    "serviceBusQueueId": { "value": "$queue_id" },
    "deadLetterStorageAccountId": { "value": "$AZURE_STORAGE_ACCOUNT_ID" },
    "deadLetterContainerName": { "value": "$AZURE_EVENTGRID_DEADLETTER_CONTAINER" }
  }
}
JSON

deployment="acr-bridge-eventgrid-$(printf '%s' "$AZURE_ENV_NAME" | cut -c1-40)"
attempt=1
# Right after a deployment the function may not be listed yet (trigger sync): retry a while.
until az deployment group create \
  --subscription "$AZURE_ACR_SYSTEM_TOPIC_SUBSCRIPTION_ID" \
  --resource-group "$AZURE_ACR_SYSTEM_TOPIC_RESOURCE_GROUP" \
  --name "$deployment" \
  --template-file "$template" \
  --parameters "@$params_file" \
  --only-show-errors --output none; do
  if [ "$attempt" -ge 5 ]; then
    echo "postdeploy: the Event Grid subscription could not be created; run azd hooks run postdeploy again." >&2
    exit 1
  fi
  echo "postdeploy: retrying in 30 s ($attempt/5)..." >&2
  attempt=$((attempt + 1))
  sleep 30
done

echo "postdeploy: Event Grid subscription $subscription_name on $AZURE_ACR_SYSTEM_TOPIC_NAME -> $endpoint_type endpoint."
