// The Service Bus namespace: one topic per action plus acr-discrepancies, each with the
// subscription `all`, and the journal queue. Local (SAS) authentication is off: the bridge sends
// and receives with its identity (Azure Service Bus Data Sender / Receiver, see rbac.bicep).
// Duplicate detection is on everywhere: the bridge's messageId is stable per logical event.
param name string
param location string = resourceGroup().location
param tags object = {}

@allowed(['Standard', 'Premium'])
param sku string = 'Standard'
@allowed([1, 2, 4, 8, 16])
param premiumUnits int = 1

param topicNames array
param queueNames array

@description('Duplicate detection history window of every topic and queue (ISO 8601).')
param duplicateDetectionWindow string = 'PT10M'

@description('Time to live of messages in each topic\'s subscription `all`; expired ones are dropped. Longer than 14 days, it is the topics\' own time to live too.')
param allSubscriptionMessageTtl string = 'P14D'

// A subscription keeps a message no longer than its topic's time to live: the topics keep 14 days,
// or as long as `all` does when that is longer. ISO 8601 durations compared by adding each to one
// instant.
var ttlEpoch = '2000-01-01T00:00:00Z'
var topicMessageTtl = dateTimeToEpoch(dateTimeAdd(ttlEpoch, allSubscriptionMessageTtl)) > dateTimeToEpoch(dateTimeAdd(ttlEpoch, 'P14D'))
  ? allSubscriptionMessageTtl
  : 'P14D'

resource namespace 'Microsoft.ServiceBus/namespaces@2026-01-01' = {
  name: name
  location: location
  tags: tags
  sku: union({ name: sku, tier: sku }, sku == 'Premium' ? { capacity: premiumUnits } : {})
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
  }
}

resource topics 'Microsoft.ServiceBus/namespaces/topics@2026-01-01' = [
  for topic in topicNames: {
    parent: namespace
    name: topic
    properties: {
      requiresDuplicateDetection: true
      duplicateDetectionHistoryTimeWindow: duplicateDetectionWindow
      defaultMessageTimeToLive: topicMessageTtl
      maxSizeInMegabytes: 1024
    }
  }
]

// Every topic gets `all`, as in the local topology (dev/servicebus/Config.json). Consumers add
// their own subscriptions with filters (README, "Deploy").
resource allSubscriptions 'Microsoft.ServiceBus/namespaces/topics/subscriptions@2026-01-01' = [
  for (topic, i) in topicNames: {
    parent: topics[i]
    name: 'all'
    properties: {
      lockDuration: 'PT1M'
      maxDeliveryCount: 10
      defaultMessageTimeToLive: allSubscriptionMessageTtl
      deadLetteringOnMessageExpiration: false
    }
  }
]

// The journal keeps webhook deliveries while Table Storage is down; the reconcile drains it.
resource queues 'Microsoft.ServiceBus/namespaces/queues@2026-01-01' = [
  for queue in queueNames: {
    parent: namespace
    name: queue
    properties: {
      lockDuration: 'PT1M'
      maxDeliveryCount: 2000
      requiresDuplicateDetection: true
      duplicateDetectionHistoryTimeWindow: duplicateDetectionWindow
      defaultMessageTimeToLive: 'P14D'
      deadLetteringOnMessageExpiration: true
    }
  }
]

output name string = namespace.name
output id string = namespace.id
@description('The fully qualified namespace (<name>.servicebus.windows.net in the public cloud), for SERVICEBUS_NAMESPACE.')
output fullyQualifiedNamespace string = split(split(namespace.properties.serviceBusEndpoint, '//')[1], ':')[0]
