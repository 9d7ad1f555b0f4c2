// The third Event Grid intake (eventGridDelivery = 'servicebus-queue'): the queue Event Grid
// delivers the registry's events to, one event per message, and who may use it. The function app's
// identity receives from it (the acrEventGridQueue trigger, EVENTGRID_QUEUE); the registry's
// system topic sends to it with its own identity (local auth is off on the namespace).
param serviceBusNamespaceName string
param queueName string

@description('The function app\'s identity: Azure Service Bus Data Receiver on the queue.')
param receiverPrincipalId string

@description('The Event Grid system topic\'s identity: Azure Service Bus Data Sender on the queue. Empty: no registry is connected here (grant it by hand).')
param senderPrincipalId string = ''

@description('Deliveries before Service Bus dead-letters a message. The trigger abandons a message while Table Storage is down, and each abandon is a delivery: keep it high, as for the journal queue.')
param maxDeliveryCount int = 2000

@description('How long an event may wait in the queue (ISO 8601): Event Grid\'s own retry horizon. Expired events are dead-lettered.')
param messageTimeToLive string = 'P1D'

var serviceBusDataSender = '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
var serviceBusDataReceiver = '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'

resource namespace 'Microsoft.ServiceBus/namespaces@2026-01-01' existing = {
  name: serviceBusNamespaceName
}

resource queue 'Microsoft.ServiceBus/namespaces/queues@2026-01-01' = {
  parent: namespace
  name: queueName
  properties: {
    lockDuration: 'PT1M'
    maxDeliveryCount: maxDeliveryCount
    defaultMessageTimeToLive: messageTimeToLive
    deadLetteringOnMessageExpiration: true
    requiresSession: false
  }
}

resource receiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(queue.id, receiverPrincipalId, serviceBusDataReceiver)
  scope: queue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataReceiver)
    principalId: receiverPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource sender 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(senderPrincipalId)) {
  name: guid(queue.id, senderPrincipalId, serviceBusDataSender)
  scope: queue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataSender)
    principalId: senderPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output id string = queue.id
output name string = queue.name
