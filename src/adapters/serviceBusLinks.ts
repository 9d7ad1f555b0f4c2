/**
 * Closes a link that failed or is no longer needed without waiting for it: closing a link to a
 * namespace that stopped answering waits for the AMQP timeout (about a minute), and no caller
 * needs it closed before it goes on.
 */
export function closeInBackground(link: { close(): Promise<void> }): void {
  void link.close().catch(() => undefined);
}
