import { readFileSync } from "node:fs";

const LISTEN = "0A";

/**
 * How many connections the OS has completed on the listener of `port` that the process has not
 * accepted yet: the accept queue that closing the listener would reset. Node accepts one
 * connection per turn of the event loop, so under a burst it holds many requests already sent.
 * Linux reports it as the `rx_queue` of the listening socket in /proc/net/tcp{,6}; elsewhere 0.
 */
export function acceptQueueLength(port: number): number {
  let queued = 0;
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let table: string;
    try {
      table = readFileSync(file, "latin1");
    } catch {
      continue;
    }
    // sl local_address:port rem_address:port st tx_queue:rx_queue ... (hex)
    for (const line of table.split("\n").slice(1)) {
      const [, local, , state, queues] = line.trim().split(/\s+/);
      if (state !== LISTEN || Number.parseInt(local.split(":")[1], 16) !== port) continue;
      queued += Number.parseInt(queues.split(":")[1], 16) || 0;
    }
  }
  return queued;
}
