/**
 * A meeting point: each call waits until `parties` calls have come, then all go on together (runs
 * that each read before any of them writes).
 */
export function rendezvous(parties: number): () => Promise<void> {
  const waiting: (() => void)[] = [];
  return () =>
    new Promise<void>((go) => {
      waiting.push(go);
      if (waiting.length === parties) for (const release of waiting.splice(0)) release();
    });
}
