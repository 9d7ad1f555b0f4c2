// Reads the existing registry the bridge is pointed at: its resource id (ACR_RESOURCE_IDS, the
// Event Grid trust) and login server (ACR_LOGIN_SERVER). Deployed in the registry's group.
param registryName string

resource registry 'Microsoft.ContainerRegistry/registries@2025-11-01' existing = {
  name: registryName
}

output registryId string = registry.id
output loginServer string = registry.properties.loginServer
output location string = registry.location
