// The function app's user-assigned identity: storage (host and tables), Service Bus, Key Vault
// references and Application Insights all authenticate with it (see rbac.bicep).
param name string
param location string = resourceGroup().location
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
