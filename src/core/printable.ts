/**
 * C0 and C1 controls, and the bidirectional formatting characters, which make text display
 * other than it reads (`evil\u202Egnp.exe` shows as `evilexe.png`).
 */
export const CONTROL_CHARACTERS =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/** The same characters, and the Unicode line and paragraph separators, everywhere in a text. */
const UNPRINTABLE = new RegExp(`${CONTROL_CHARACTERS.source.slice(0, -1)}\\u2028\\u2029]`, "g");

/**
 * Text a sender chose (a field name, a message id) as it may stand in a log line or a reason:
 * each control, bidirectional formatting or line separator character written as `\uXXXX`, so it
 * can neither start a forged line, colour a terminal, nor reorder what an operator reads.
 */
export function printable(text: string): string {
  return text.replace(
    UNPRINTABLE,
    (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
