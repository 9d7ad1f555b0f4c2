import type { TestProject } from "vitest/node";
import { type LocalAzurite, startAzurite } from "../../dev/azurite";

declare module "vitest" {
  export interface ProvidedContext {
    tablesConnection: string;
  }
}

let azurite: LocalAzurite | undefined;

/** One Azurite for the whole run, on a free loopback port; test files that need isolation start their own. */
export async function setup(project: TestProject): Promise<void> {
  azurite = await startAzurite();
  project.provide("tablesConnection", azurite.connectionString);
}

export async function teardown(): Promise<void> {
  await azurite?.stop();
}
