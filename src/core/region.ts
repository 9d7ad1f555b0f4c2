/**
 * One spelling per Azure region, so that a webhook's `?region=`, Event Grid's `location` and ARM's
 * locations name the same replica: ARM writes both `westeurope` and `West Europe`.
 */
export function normalizeRegion(region: string): string {
  return region.replace(/\s+/g, "").toLowerCase();
}
