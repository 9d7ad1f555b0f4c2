import type { SilenceFinding, SourceWatchStore } from "../core/sourceSilence";

/** A silence finding as the console and `/api/health` show it: ISO times, state in words. */
export function silenceFindingView(finding: SilenceFinding) {
  const iso = (ms: number | undefined) =>
    ms === undefined ? undefined : new Date(ms).toISOString();
  return {
    kind: finding.kind,
    state: finding.resolvedAt === undefined ? "open" : "resolved",
    registry: finding.registry,
    region: finding.region,
    silentSince: iso(finding.silentSince),
    openedAt: iso(finding.openedAt),
    resolvedAt: iso(finding.resolvedAt),
  };
}

export async function openSilenceFindings(store: Pick<SourceWatchStore, "findings">) {
  const findings = await store.findings();
  return findings.filter((finding) => finding.resolvedAt === undefined).map(silenceFindingView);
}
