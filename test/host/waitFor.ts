/** Polls `probe` until it returns a value (not undefined), or fails after `timeoutMs`. */
export async function waitFor<T>(
  probe: () => T | undefined,
  what: string,
  timeoutMs = 3_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The first captured log line matching `pattern`, once there is one. */
export function waitForLine(lines: readonly string[], pattern: RegExp, timeoutMs?: number) {
  return waitFor(
    () => lines.find((line) => pattern.test(line)),
    `a log line matching ${pattern}`,
    timeoutMs,
  );
}
