// Key Vault in RBAC mode holding the two secret settings. The app reads them through Key Vault
// references (versionless: a new version is picked up on restart or within 24 h) with its
// user-assigned identity (Key Vault Secrets User, see rbac.bicep).
// Each value may hold several secrets, comma-separated, so a secret can be rotated without
// downtime (README, "Deploy").
param name string
param location string = resourceGroup().location
param tags object = {}

@secure()
param webhookSecrets string

@secure()
param eventgridSecrets string

resource vault 'Microsoft.KeyVault/vaults@2026-05-15' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
  }
}

resource webhookSecretsSecret 'Microsoft.KeyVault/vaults/secrets@2026-05-15' = {
  parent: vault
  name: 'webhook-secrets'
  properties: {
    value: webhookSecrets
    contentType: 'WEBHOOK_SECRETS: accepted ACR webhook secrets, comma-separated'
  }
}

resource eventgridSecretsSecret 'Microsoft.KeyVault/vaults/secrets@2026-05-15' = {
  parent: vault
  name: 'eventgrid-secrets'
  properties: {
    value: eventgridSecrets
    contentType: 'EVENTGRID_SECRETS: accepted secrets of POST /api/eventgrid, comma-separated'
  }
}

output name string = vault.name
output id string = vault.id
output webhookSecretsUri string = webhookSecretsSecret.properties.secretUri
output eventgridSecretsUri string = eventgridSecretsSecret.properties.secretUri
