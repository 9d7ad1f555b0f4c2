// Points an existing registry at the bridge (deployed in the registry's resource group):
// - one ACR webhook per replica region (webhooks are regional: a geo-replicated registry calls
//   the webhooks of the region that served the push), each with ?region=<region> in its URI so
//   the bridge records which replica delivered, and the secret as Authorization: Bearer <secret>;
// - the registry's Event Grid system topic, with a system-assigned identity for dead-lettering,
//   unless the registry has one already (a registry has at most one): that one is only read, its
//   identity and tags left as they are. The subscription to the bridge needs the deployed
//   function: infra/hooks/postdeploy.* and eventgrid-subscription.bicep create it.
param registryName string

@description('Home region of the registry (from registry-info.bicep: a top-level property such as location cannot read the existing registry at deployment time).')
param registryLocation string

param tags object = {}

@secure()
@description('The secret the webhooks send (Authorization: Bearer <secret>).')
param webhookSecret string

@minLength(5)
@description('Webhook names: <prefix><region> (5-50 letters and digits).')
param webhookNamePrefix string

@description('ACR scope syntax; empty = every repository and tag.')
param webhookScope string = ''

@description('Replica regions; empty: one webhook in the registry\'s home region.')
param replicaRegions array = []

param webhookActions array = [
  'push'
  'delete'
  'chart_push'
  'chart_delete'
  'quarantine'
]

@description('The bridge\'s webhook URL (BRIDGE_PUBLIC_URL/api/acr/webhook), without a query.')
param webhookUrl string

param systemTopicName string

@description('The registry has a system topic already, systemTopicName: read it, create none.')
param systemTopicExists bool = false

resource registry 'Microsoft.ContainerRegistry/registries@2025-11-01' existing = {
  name: registryName
}

// '' stands for the home region, whose name is only known at deployment time.
var regions = empty(replicaRegions) ? [''] : replicaRegions

resource webhooks 'Microsoft.ContainerRegistry/registries/webhooks@2025-11-01' = [
  for region in regions: {
    parent: registry
    name: '${webhookNamePrefix}${toLower(replace(region, ' ', ''))}'
    location: empty(region) ? registryLocation : region
    tags: tags
    properties: {
      serviceUri: '${webhookUrl}?region=${toLower(replace(empty(region) ? registryLocation : region, ' ', ''))}&registry=${registry.properties.loginServer}'
      customHeaders: {
        Authorization: 'Bearer ${webhookSecret}'
      }
      actions: webhookActions
      scope: webhookScope
      status: 'enabled'
    }
  }
]

resource createdSystemTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' = if (!systemTopicExists) {
  name: systemTopicName
  location: registryLocation
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: registry.id
    topicType: 'Microsoft.ContainerRegistry.Registries'
  }
}

resource existingSystemTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = if (systemTopicExists) {
  name: systemTopicName
}

// Dead letters and the queue delivery go out with the topic's system-assigned identity.
var existingPrincipalId = systemTopicExists ? existingSystemTopic!.?identity.?principalId : ''

output registryId string = registry.id
output loginServer string = registry.properties.loginServer
output systemTopicName string = systemTopicName
output systemTopicPrincipalId string = !systemTopicExists
  ? createdSystemTopic!.identity.principalId
  : empty(existingPrincipalId)
      ? fail('The system topic ${systemTopicName} has no system-assigned identity, which dead-lettering and the queue delivery use: az eventgrid system-topic update -g ${resourceGroup().name} -n ${systemTopicName} --identity systemassigned')
      : existingPrincipalId!
output webhookNames array = [for (region, i) in regions: webhooks[i].name]
