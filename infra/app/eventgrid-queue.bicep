// The third Event Grid intake (eventGridDelivery = 'servicebus-queue'): the queue Event Grid
// delivers the registry's events to, one event per message, and who may use it. The function app's
// identity reads it (the acrEventGridQueue trigger, EVENTGRID_QUEUE); the registry's system topic
// sends to it with its own identity (local auth is off on the namespace).
param serviceBusNamespaceName string
param queueName string

@description('The function app\'s identity: Azure Service Bus Data Owner on the queue.')
param triggerPrincipalId string

@description('The Event Grid system topic\'s identity: Azure Service Bus Data Sender on the queue. Empty: no registry is connected here (grant it by hand).')
param senderPrincipalId string = ''

@description('Deliveries before Service Bus dead-letters a message. The trigger abandons a message while Table Storage is down, and each abandon is a delivery: keep it high, as for the journal queue.')
param maxDeliveryCount int = 2000

@description('How long an event may wait in the queue (ISO 8601): Event Grid\'s own retry horizon. Expired events are dead-lettered.')
param messageTimeToLive string = 'P1D'

var serviceBusDataSender = '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
var serviceBusDataOwner = '090c5cfd-751d-490a-894a-3ce6f1109419'

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

// Receiving takes Data Receiver, but the trigger's target-based scaling reads the queue's message
// count through the administration API, which takes Manage rights: with Data Receiver alone the
// scale controller falls back to incremental scaling (Functions docs, "Target-based scaling").
// Data Owner, the role with Manage rights, on this queue only.
resource trigger 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(queue.id, triggerPrincipalId, serviceBusDataOwner)
  scope: queue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataOwner)
    principalId: triggerPrincipalId
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
