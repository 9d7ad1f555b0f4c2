const number = String.raw`(\d+(?:[.,]\d+)?)`;
// Years and months have no fixed length, so only weeks, days and time parts are accepted.
const durationPattern = new RegExp(
  `^P(?:${number}W)?(?:${number}D)?(?:T(?:${number}H)?(?:${number}M)?(?:${number}S)?)?$`,
);

const unitMs = [7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1_000];

/** Milliseconds in an ISO 8601 duration such as `PT1M`, `PT20S`, `P7D`; undefined if malformed. */
export function parseIsoDuration(text: string): number | undefined {
  const match = durationPattern.exec(text);
  if (!match || text.endsWith("T")) return undefined;
  const parts = match.slice(1);
  if (parts.every((part) => part === undefined)) return undefined;
  return parts.reduce(
    (total, part, index) =>
      part === undefined ? total : total + Number(part.replace(",", ".")) * unitMs[index],
    0,
  );
}
