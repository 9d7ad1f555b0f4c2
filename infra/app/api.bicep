// The function app on the Flex Consumption plan (FC1), Node.js, with the user-assigned identity
// for everything: the deployment container, AzureWebJobsStorage, Key Vault references.
// The tag azd-service-name: api is how `azd deploy` finds it (azure.yaml, service `api`).
param name string
param planName string
param location string = resourceGroup().location
param tags object = {}

@description('Resource id of the user-assigned identity.')
param identityId string

@description('Blob endpoint of the storage account holding the deployment container (with its trailing slash).')
param deploymentStorageBlobEndpoint string
param deploymentContainerName string

@allowed(['20', '22'])
param nodeVersion string = '22'

@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048
param maximumInstanceCount int = 40

@description('Always-ready instances of the HTTP group (acrWebhook, eventGridEndpoint, the query API).')
param alwaysReadyInstances int = 2

@description('Concurrent HTTP executions per instance (Flex Consumption ignores host.json\'s HTTP limits).')
param httpPerInstanceConcurrency int = 16

@description('Every app setting (infra/main.bicep builds them) but BRIDGE_PUBLIC_URL, which is set here.')
param appSettings object

@description('The bridge\'s public base URL, BRIDGE_PUBLIC_URL: what the webhooks call. Empty: https://<the app\'s default host name>, as ARM assigns it (the suffix differs by cloud, and a unique default host name is not <name>.azurewebsites.net).')
param publicUrl string = ''

resource plan 'Microsoft.Web/serverfarms@2025-03-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource app 'Microsoft.Web/sites@2025-03-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${deploymentStorageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
        alwaysReady: alwaysReadyInstances > 0 ? [{ name: 'http', instanceCount: alwaysReadyInstances }] : []
        triggers: {
          http: {
            perInstanceConcurrency: httpPerInstanceConcurrency
          }
        }
      }
      // The default, Recreate, restarts every instance on each deploy or setting change and
      // terminates executions in flight: ACR does not retry, so those deliveries would be lost.
      // Rolling updates are in preview (Flex Consumption docs, "Site update strategies").
      #disable-next-line BCP037 // Bicep's types for Microsoft.Web/sites lack it; ARM takes it from API version 2024-11-01
      siteUpdateStrategy: {
        type: 'RollingUpdate'
      }
      runtime: {
        name: 'node'
        version: nodeVersion
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
    }
  }
}

// Without a trailing slash: the webhooks' URIs append /api/acr/webhook to it.
var publicBaseUrl = empty(publicUrl)
  ? 'https://${app.properties.defaultHostName}'
  : (endsWith(publicUrl, '/') ? take(publicUrl, max(length(publicUrl) - 1, 0)) : publicUrl)

resource settings 'Microsoft.Web/sites/config@2025-03-01' = {
  parent: app
  name: 'appsettings'
  properties: union(appSettings, { BRIDGE_PUBLIC_URL: publicBaseUrl })
}

output name string = app.name
output id string = app.id
output defaultHostName string = app.properties.defaultHostName
@description('BRIDGE_PUBLIC_URL: the base URL the webhooks call, without a trailing slash.')
output publicUrl string = publicBaseUrl
