type Child = Node | string | number | undefined | null | false;

/**
 * Builds an element; text is always set as text, never parsed as HTML (payloads are untrusted).
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined) element.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    element.append(typeof child === "number" ? String(child) : child);
  }
  return element;
}

export function table(
  headings: string[],
  rows: Child[][],
  options: { caption?: string; class?: string } = {},
): HTMLTableElement {
  const { caption } = options;
  return h(
    "table",
    { class: options.class },
    caption ? h("caption", {}, caption) : undefined,
    h("thead", {}, h("tr", {}, ...headings.map((heading) => h("th", { scope: "col" }, heading)))),
    h(
      "tbody",
      {},
      ...rows.map((cells) => h("tr", {}, ...cells.map((cell) => h("td", {}, breakable(cell))))),
    ),
  );
}

/** Longer than this without a space, a value (a tag, a login server, a digest) may break anywhere. */
const LONG_TOKEN = /\S{25}/;

/**
 * Text with a long unbroken run may wrap inside it, so a table's columns never grow past the page
 * for one value; shorter words still wrap only between words.
 */
function breakable(cell: Child): Child {
  return typeof cell === "string" && LONG_TOKEN.test(cell)
    ? h("span", { class: "long" }, cell)
    : cell;
}

/** A state as a word with a class for its colour: the word alone carries the meaning. */
export function badge(state: string, tone: "ok" | "warn" | "bad" | "info"): HTMLElement {
  return h("span", { class: `badge ${tone}` }, state);
}

/**
 * In the browser's time zone, named: the API, the logs and the replay form speak UTC, so a time
 * without its zone would be read hours off.
 */
export function time(iso: string | undefined): string {
  if (!iso) return "never";
  return new Date(iso).toLocaleString(undefined, { hour12: false, timeZoneName: "short" });
}

/** The browser's time zone as times name it (`UTC`, `CET`, `GMT-5`…). */
export function zoneName(at = new Date()): string {
  const parts = new Intl.DateTimeFormat(undefined, { timeZoneName: "short" }).formatToParts(at);
  return parts.find((part) => part.type === "timeZoneName")?.value ?? "local time";
}

export function duration(ms: number | undefined): string {
  if (ms === undefined) return "never heard from";
  const seconds = Math.round(ms / 1000);
  if (seconds < 90) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} h` : `${Math.round(hours / 24)} days`;
}

export function eventLink(id: string | undefined, label?: string): Node {
  if (!id) return document.createTextNode("—");
  const text = label ?? id;
  const long = LONG_TOKEN.test(text) ? "long" : undefined;
  // A label alone ("story" on every row) would give a screen reader the same link each time.
  const name = label === undefined ? undefined : `${label} of event ${id}`;
  return h(
    "a",
    { href: `#event/${encodeURIComponent(id)}`, class: long, "aria-label": name },
    text,
  );
}
