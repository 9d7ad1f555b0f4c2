/** How often the parent is checked: a stop within a second is prompt enough for a terminal. */
const CHECK_MS = 500;

/**
 * Calls `stop` once when the process that started this one has exited. npm runs a script under
 * `sh -c`; a SIGTERM sent to npm (by `kill`, an IDE's stop button, `docker stop`) is passed on to
 * that shell, and dash exits without passing it on to its child. Without this, the script's
 * process (`npm start`'s bridge, a tail, a benchmark) would run on, orphaned, and its own
 * shutdown would never run.
 */
export function onParentExit(stop: () => void): void {
  const parent = process.ppid;
  const check = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(check);
    stop();
  }, CHECK_MS);
  check.unref();
}
