import { LOCAL_ARM_TOKEN } from "../../src/adapters/armRegistryWebhooks";
import { ArmStandIn } from "./armStandIn";

/**
 * `npm start`'s registry side: the ARM stand-in with the first registry of `ACR_RESOURCE_IDS` and
 * one webhook calling the local bridge with the first webhook secret, as `az acr webhook create`
 * would configure it.
 */
export async function startLocalRegistry(options: {
  port: number;
  registryId: string;
  loginServer: string;
  bridgeUrl: string;
  secret: string;
}): Promise<ArmStandIn> {
  const arm = new ArmStandIn({ port: options.port, token: LOCAL_ARM_TOKEN });
  await arm.start();
  arm.addRegistry(options.registryId);
  arm.setWebhook(options.registryId, {
    name: "bridgelocal",
    location: "westeurope",
    status: "enabled",
    scope: "",
    actions: ["push", "delete", "chart_push", "chart_delete", "quarantine"],
    serviceUri: `${options.bridgeUrl}/api/acr/webhook?region=westeurope&registry=${options.loginServer}`,
    customHeaders: { Authorization: `Bearer ${options.secret}` },
  });
  return arm;
}
