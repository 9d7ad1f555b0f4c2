/** The one shape of work that can fail in an expected way: its value, or why it failed. */
export type Result<T, F> = { ok: true; value: T } | { ok: false; failure: F };

/** The success of work that has no value to give. */
export const DONE = { ok: true, value: undefined } as const satisfies Result<void, never>;
