// What the bridge needs on a registry, and nothing more: read its webhooks, their delivery log
// (backfill), their service URI and custom headers (health check) and ping them. A custom role
// (not Contributor, which could also rewrite the webhooks), defined in the registry's resource
// group and assigned to the app's identity on the registry alone. Deployed in that group.
param registryName string

@description('Principal id of the app\'s user-assigned identity.')
param principalId string

resource registry 'Microsoft.ContainerRegistry/registries@2025-11-01' existing = {
  name: registryName
}

// One role per resource group, shared by every bridge trusting a registry there. A custom role's
// name is unique in the tenant, so it names the subscription as well as the group, as its GUID
// does (the group's resource id).
resource webhookReader 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, 'acr-event-bridge-webhook-reader')
  properties: {
    roleName: 'ACR webhook reader for acr-event-bridge (${resourceGroup().name} in ${subscription().subscriptionId})'
    description: 'Lists a registry\'s webhooks, reads their delivery log and callback configuration, and pings them (acr-event-bridge backfill and webhook health).'
    type: 'customRole'
    permissions: [
      {
        actions: [
          'Microsoft.ContainerRegistry/registries/webhooks/read'
          'Microsoft.ContainerRegistry/registries/webhooks/listEvents/action'
          'Microsoft.ContainerRegistry/registries/webhooks/getCallbackConfig/action'
          'Microsoft.ContainerRegistry/registries/webhooks/ping/action'
        ]
        notActions: []
      }
    ]
    assignableScopes: [
      resourceGroup().id
    ]
  }
}

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, principalId, webhookReader.id)
  scope: registry
  properties: {
    roleDefinitionId: webhookReader.id
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output roleDefinitionId string = webhookReader.id
