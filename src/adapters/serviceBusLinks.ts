/**
 * Closes a link that failed or is no longer needed without waiting for it: closing a link to a
 * namespace that stopped answering waits for the AMQP timeout (about a minute), and no caller
 * needs it closed before it goes on.
 */
export function closeInBackground(link: { close(): Promise<void> }): void {
  void link.close().catch(() => undefined);
}

/**
 * Closes links, waiting at most `timeoutMs`: at shutdown, links to a namespace that stopped
 * answering would hold the process for the AMQP timeout, past any host's grace period. Answers
 * false when it stopped waiting (the links are left closing; the connection's end drops them).
 */
export async function closeWithin(
  close: () => Promise<unknown>,
  timeoutMs: number,
): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    const closed = close().then(
      () => true,
      () => true,
    );
    return await Promise.race([closed, gaveUp]);
  } finally {
    clearTimeout(timer);
  }
}
