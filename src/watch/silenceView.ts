import { type SourceWatchStore, silenceFindingData } from "../core/sourceSilence";

export async function openSilenceFindings(store: Pick<SourceWatchStore, "findings">) {
  const findings = (await store.findings()).map((entry) => entry.value);
  return findings.filter((finding) => finding.resolvedAt === undefined).map(silenceFindingData);
}
