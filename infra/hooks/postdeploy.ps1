# azd postdeploy hook (azure.yaml) on Windows: the same as postdeploy.sh. Subscribes the bridge to
# the registry's Event Grid system topic, which needs the deployed function. Idempotent: run it
# again any time with `azd hooks run postdeploy`.
#
# Option (azd env set): AZURE_EVENTGRID_ENDPOINT_TYPE = function (default, the acrEventGrid
# trigger), webhook (POST /api/eventgrid?key=<first EVENTGRID_SECRETS secret>, read from Key Vault)
# or servicebus-queue (the queue of AZURE_EVENTGRID_QUEUE_ID, read by the acrEventGridQueue
# trigger; main.bicep's eventGridDelivery takes the same variable). Unset, the delivery provisioned
# last (AZURE_EVENTGRID_DELIVERY) is kept.
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$template = Join-Path $PSScriptRoot '../app/eventgrid-subscription.bicep'

function Require([string[]] $names) {
    foreach ($name in $names) {
        if (-not [Environment]::GetEnvironmentVariable($name)) {
            throw "postdeploy: $name is not set; run azd provision first."
        }
    }
}

Require @('AZURE_ENV_NAME', 'AZURE_FUNCTION_APP_NAME', 'AZURE_FUNCTION_APP_ID', 'AZURE_ACR_WEBHOOK_URL',
    'AZURE_EVENTGRID_ENDPOINT_URL', 'AZURE_SERVICEBUS_NAMESPACE', 'AZURE_STORAGE_ACCOUNT_NAME',
    'AZURE_STORAGE_ACCOUNT_ID', 'AZURE_EVENTGRID_DEADLETTER_CONTAINER', 'AZURE_KEY_VAULT_NAME')

Write-Host "acr-event-bridge: function app $env:AZURE_FUNCTION_APP_NAME"
Write-Host "  ACR webhook URL  $env:AZURE_ACR_WEBHOOK_URL"
Write-Host "  Event Grid URL   $env:AZURE_EVENTGRID_ENDPOINT_URL"
Write-Host "  Service Bus      $env:AZURE_SERVICEBUS_NAMESPACE"
Write-Host "  storage account  $env:AZURE_STORAGE_ACCOUNT_NAME"
Write-Host "  Key Vault        $env:AZURE_KEY_VAULT_NAME"

if (-not $env:AZURE_ACR_RESOURCE_IDS) {
    Write-Warning 'postdeploy: ACR_RESOURCE_IDS is empty, so every Event Grid event is rejected (the webhook is unaffected). Connect a registry (azd env set AZURE_ACR_NAME ...) or trust one connected by hand (azd env set AZURE_ADDITIONAL_ACR_RESOURCE_IDS ...), then azd provision.'
}

if (-not $env:AZURE_ACR_SYSTEM_TOPIC_NAME) {
    Write-Host 'postdeploy: no registry connected here: no Event Grid subscription created (README, Deploy).'
    exit 0
}
Require @('AZURE_ACR_SYSTEM_TOPIC_RESOURCE_GROUP', 'AZURE_ACR_SYSTEM_TOPIC_SUBSCRIPTION_ID')

$endpointType = if ($env:AZURE_EVENTGRID_ENDPOINT_TYPE) { $env:AZURE_EVENTGRID_ENDPOINT_TYPE }
    elseif ($env:AZURE_EVENTGRID_DELIVERY) { $env:AZURE_EVENTGRID_DELIVERY } else { 'function' }
$webhookUrl = ''
$queueId = ''
switch ($endpointType) {
    'function' { }
    'servicebus-queue' {
        $queueId = $env:AZURE_EVENTGRID_QUEUE_ID
        if (-not $queueId) {
            throw 'postdeploy: servicebus-queue needs the queue: run azd provision first (AZURE_EVENTGRID_QUEUE_ID is empty).'
        }
    }
    'webhook' {
        $secrets = az keyvault secret show --vault-name $env:AZURE_KEY_VAULT_NAME --name eventgrid-secrets `
            --query value --output tsv --only-show-errors
        if ($LASTEXITCODE -ne 0) { throw 'postdeploy: could not read eventgrid-secrets from Key Vault.' }
        $key = ($secrets -split ',')[0].Trim()
        # Kept out of the URL's syntax and out of JSON escaping: refuse rather than encode.
        if ($key -notmatch '^[A-Za-z0-9._~-]+$') {
            throw 'postdeploy: the first eventgrid-secrets secret must be non-empty and URL-safe ([A-Za-z0-9._~-]).'
        }
        $webhookUrl = "$($env:AZURE_EVENTGRID_ENDPOINT_URL)?key=$key"
    }
    default { throw "postdeploy: AZURE_EVENTGRID_ENDPOINT_TYPE must be function, webhook or servicebus-queue, not '$endpointType'." }
}

# One subscription per environment: two bridges (say staging and production) may watch one
# registry's topic. Event Grid names take letters, digits and hyphens, 64 at most.
$envPart = $env:AZURE_ENV_NAME -replace '[^A-Za-z0-9-]', '-'
$subscriptionName = "acr-event-bridge-$($envPart.Substring(0, [Math]::Min(47, $envPart.Length)))"

# The parameters go through a file: the webhook URL carries a secret that must not show up in the
# process list.
$parameters = @{
    '$schema'      = 'https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#'
    contentVersion = '1.0.0.0'
    parameters     = @{
        systemTopicName            = @{ value = $env:AZURE_ACR_SYSTEM_TOPIC_NAME }
        subscriptionName           = @{ value = $subscriptionName }
        endpointType               = @{ value = $endpointType }
        functionAppId              = @{ value = $env:AZURE_FUNCTION_APP_ID }
        webhookEndpointUrl         = @{ value = $webhookUrl }
        serviceBusQueueId          = @{ value = $queueId }
        deadLetterStorageAccountId = @{ value = $env:AZURE_STORAGE_ACCOUNT_ID }
        deadLetterContainerName    = @{ value = $env:AZURE_EVENTGRID_DEADLETTER_CONTAINER }
    }
}
$paramsFile = New-TemporaryFile
try {
    $parameters | ConvertTo-Json -Depth 5 | Set-Content -Path $paramsFile -Encoding utf8
    $envName = $env:AZURE_ENV_NAME
    $deployment = "acr-bridge-eventgrid-$($envName.Substring(0, [Math]::Min(40, $envName.Length)))"
    # Right after a deployment the function may not be listed yet (trigger sync): retry a while.
    for ($attempt = 1; ; $attempt++) {
        az deployment group create `
            --subscription $env:AZURE_ACR_SYSTEM_TOPIC_SUBSCRIPTION_ID `
            --resource-group $env:AZURE_ACR_SYSTEM_TOPIC_RESOURCE_GROUP `
            --name $deployment `
            --template-file $template `
            --parameters "@$paramsFile" `
            --only-show-errors --output none
        if ($LASTEXITCODE -eq 0) { break }
        if ($attempt -ge 5) {
            throw 'postdeploy: the Event Grid subscription could not be created; run azd hooks run postdeploy again.'
        }
        Write-Warning "postdeploy: retrying in 30 s ($attempt/5)..."
        Start-Sleep -Seconds 30
    }
}
finally {
    Remove-Item -Path $paramsFile -Force -ErrorAction SilentlyContinue
}

Write-Host "postdeploy: Event Grid subscription $subscriptionName on $env:AZURE_ACR_SYSTEM_TOPIC_NAME -> $endpointType endpoint."
