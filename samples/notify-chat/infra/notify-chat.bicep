// The Service Bus side of the notify-chat sample: its filtered subscription on the bridge's push
// topic, and the right for the function app's identity to receive from it.

@description('The bridge\'s Service Bus namespace (AZURE_SERVICEBUS_NAMESPACE_NAME of its azd environment).')
param serviceBusNamespaceName string

@description('The topic to follow.')
param topicName string = 'acr-push'

@description('The subscription this app reads.')
@minLength(1)
@maxLength(50)
param subscriptionName string = 'notify-chat'

@description('What reaches the app: by default one message per released image (tagged images and multi-arch indexes). Narrow it with repository LIKE \'prod/%\' and the like (npm run subscribe -- --dry-run prints one).')
param sqlFilter string = 'tagged = \'true\' AND artifactKind IN (\'image\', \'index\', \'patch\')'

@description('Deliveries before a message is dead-lettered: each delivery is one post to the chat.')
@minValue(1)
@maxValue(20)
param maxDeliveryCount int = 5

@description('Principal id of the function app\'s managed identity, granted Azure Service Bus Data Owner on the subscription; empty to grant nothing.')
param triggerPrincipalId string = ''

var serviceBusDataOwner = '090c5cfd-751d-490a-894a-3ce6f1109419'

resource namespace 'Microsoft.ServiceBus/namespaces@2026-01-01' existing = {
  name: serviceBusNamespaceName
}

resource topic 'Microsoft.ServiceBus/namespaces/topics@2026-01-01' existing = {
  parent: namespace
  name: topicName
}

resource subscription 'Microsoft.ServiceBus/namespaces/topics/subscriptions@2026-01-01' = {
  parent: topic
  name: subscriptionName
  properties: {
    // Longer than the app's longest hold before a redelivery (CHAT_MAX_HOLD_MS) plus a post.
    lockDuration: 'PT1M'
    maxDeliveryCount: maxDeliveryCount
    deadLetteringOnFilterEvaluationExceptions: true
    defaultMessageTimeToLive: 'P1D'
  }
}

// Every new subscription gets a $Default rule taking everything: this one replaces it.
resource rule 'Microsoft.ServiceBus/namespaces/topics/subscriptions/rules@2026-01-01' = {
  parent: subscription
  name: '$Default'
  properties: {
    filterType: 'SqlFilter'
    sqlFilter: {
      sqlExpression: sqlFilter
    }
  }
}

// Receiving takes Data Receiver, but the trigger's target-based scaling reads the subscription's
// message count through the administration API, which takes Manage rights: with Data Receiver
// alone the scale controller falls back to incremental scaling. Data Owner, on this subscription.
resource trigger 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(triggerPrincipalId)) {
  name: guid(subscription.id, triggerPrincipalId, serviceBusDataOwner)
  scope: subscription
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataOwner)
    principalId: triggerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output subscriptionName string = subscription.name
// From the namespace's own endpoint (https://<name>.<cloud's Service Bus suffix>:443/): the host
// differs by cloud, and environment().suffixes has no Service Bus entry.
output fullyQualifiedNamespace string = split(split(namespace.properties.serviceBusEndpoint, '//')[1], ':')[0]
