// The registry's Event Grid subscription to the bridge, deployed by infra/hooks/postdeploy.* into
// the registry's resource group once the function exists (an AzureFunction destination must point
// at a deployed function). Four event types, retries for 24 h, dead letters to the bridge's
// storage through the system topic's identity (the account refuses shared keys, and
// `az eventgrid system-topic event-subscription create` cannot set a dead-letter identity).
param systemTopicName string
@minLength(3)
@maxLength(64)
param subscriptionName string = 'acr-event-bridge'

@allowed(['function', 'webhook', 'servicebus-queue'])
@description('function: the acrEventGrid trigger (Event Grid schema, the host does the handshake). webhook: POST /api/eventgrid?key=<secret>. servicebus-queue: the queue the acrEventGridQueue trigger reads, one event per message, sent with the system topic\'s identity.')
param endpointType string = 'function'

@description('Resource id of the function app.')
param functionAppId string
param functionName string = 'acrEventGrid'

@secure()
@description('https://<host>/api/eventgrid?key=<secret>, for endpointType webhook.')
param webhookEndpointUrl string = ''

@description('Resource id of the queue, for endpointType servicebus-queue.')
param serviceBusQueueId string = ''

param deadLetterStorageAccountId string
param deadLetterContainerName string = 'eventgrid-deadletter'

param maxDeliveryAttempts int = 30
param eventTimeToLiveInMinutes int = 1440

resource systemTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = {
  name: systemTopicName
}

var functionDestination = {
  endpointType: 'AzureFunction'
  properties: {
    resourceId: '${functionAppId}/functions/${functionName}'
    // The trigger is invoked once per event.
    maxEventsPerBatch: 1
    preferredBatchSizeInKilobytes: 64
  }
}

var webhookDestination = {
  endpointType: 'WebHook'
  properties: {
    endpointUrl: webhookEndpointUrl
    maxEventsPerBatch: 10
    preferredBatchSizeInKilobytes: 64
  }
}

// Local auth is off on the namespace: Event Grid sends with the system topic's identity, which
// infra/app/eventgrid-queue.bicep makes an Azure Service Bus Data Sender on the queue.
var serviceBusQueueDelivery = {
  identity: {
    type: 'SystemAssigned'
  }
  destination: {
    endpointType: 'ServiceBusQueue'
    properties: {
      resourceId: serviceBusQueueId
    }
  }
}

var toQueue = endpointType == 'servicebus-queue'

resource subscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  parent: systemTopic
  name: subscriptionName
  properties: {
    // One of the two: an identity-based delivery replaces the plain destination.
    destination: toQueue ? null : (endpointType == 'function' ? functionDestination : webhookDestination)
    deliveryWithResourceIdentity: toQueue ? serviceBusQueueDelivery : null
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'Microsoft.ContainerRegistry.ImagePushed'
        'Microsoft.ContainerRegistry.ImageDeleted'
        'Microsoft.ContainerRegistry.ChartPushed'
        'Microsoft.ContainerRegistry.ChartDeleted'
      ]
    }
    retryPolicy: {
      maxDeliveryAttempts: maxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: deadLetterStorageAccountId
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
}

output subscriptionName string = subscription.name
