import { describe, expect, it } from "vitest";
import {
  decodeKeyPart,
  encodeKeyPart,
  invertedHour,
  invertedMillis,
  joinKey,
  KEY_PART_SEPARATOR,
  KeyTooLongError,
} from "../../src/adapters/tableKeys";

/** What Azure Table Storage refuses in PartitionKey and RowKey, plus our own separator. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const FORBIDDEN_IN_KEY = /[/\\#?|\u0000-\u001f\u007f-\u009f]/;

const samples: [string, string][] = [
  ["slash", "samples/hello-world"],
  ["hash", "a#b"],
  ["question mark", "a?b"],
  ["backslash", "a\\b"],
  ["percent", "100%"],
  ["percent escape lookalike", "%2F"],
  ["pipe", "a|b"],
  ["accented", "équipe"],
  ["CJK", "日本"],
  ["emoji (surrogate pair)", "🚀app"],
  ["C0 controls", "a\u0000b\u0001c\u001f"],
  ["tab and newline", "a\tb\nc\r"],
  ["DEL and C1 controls", "a\u007fb\u0085c\u009f"],
  ["empty", ""],
  ["spaces", " a b "],
  ["everything", "reg.azurecr.io/team/app:v1@sha256:ab#?\\|%é日本🚀\u0007"],
];

describe("encodeKeyPart / decodeKeyPart", () => {
  it.each(samples)("round-trips %s", (_name, value) => {
    expect(decodeKeyPart(encodeKeyPart(value))).toBe(value);
  });

  it.each(samples)("encoding %s yields no character Table keys forbid, and no '|'", (_n, value) => {
    const encoded = encodeKeyPart(value);
    expect(encoded).not.toMatch(FORBIDDEN_IN_KEY);
    expect(encoded.includes(KEY_PART_SEPARATOR)).toBe(false);
  });

  it("is injective: distinct values give distinct encodings", () => {
    const values = samples.map(([, value]) => value);
    const encoded = new Set(values.map(encodeKeyPart));
    expect(encoded.size).toBe(new Set(values).size);
  });

  it("leaves plain repository characters readable", () => {
    expect(encodeKeyPart("hello-world_v1.2")).toBe("hello-world_v1.2");
  });

  it("joined parts split back into the original values", () => {
    const parts = ["a|b", "c/d", "e%7Cf"];
    const key = joinKey(...parts.map(encodeKeyPart));
    expect(key.split(KEY_PART_SEPARATOR).map(decodeKeyPart)).toEqual(parts);
  });
});

describe("joinKey", () => {
  it("joins with the separator", () => {
    expect(joinKey("a", "b", "c")).toBe("a|b|c");
  });

  it("accepts a key of exactly 512 characters", () => {
    expect(joinKey("x".repeat(500), "y".repeat(11))).toHaveLength(512);
  });

  it.each([
    ["one part", ["x".repeat(513)], 513],
    ["separators counted", ["x".repeat(500), "y".repeat(12)], 513],
    ["far past", ["x".repeat(600), "y".repeat(600)], 1201],
  ])("throws KeyTooLongError past 512 characters (%s)", (_name, parts, length) => {
    let thrown: unknown;
    try {
      joinKey(...parts);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(KeyTooLongError);
    expect((thrown as KeyTooLongError).length).toBe(length);
    expect((thrown as KeyTooLongError).name).toBe("KeyTooLongError");
  });

  it("counts the encoded length: a long unicode repository can overflow once encoded", () => {
    const repository = "日".repeat(60); // 60 characters, 540 once percent-encoded
    expect(() => joinKey(encodeKeyPart(repository))).toThrow(KeyTooLongError);
  });
});

const HOUR = 3_600_000;
const t = (iso: string) => Date.parse(iso);

describe("invertedMillis / invertedHour", () => {
  const instants = [
    0,
    1,
    999,
    t("2017-03-01T23:14:37.070Z"),
    t("2023-11-17T16:52:01.343Z"),
    t("2023-11-17T16:52:01.344Z"),
    t("2023-11-17T17:00:00.000Z"),
    t("2099-12-31T23:59:59.999Z"),
    9_999_999_999_998,
  ];

  it("sorts newer first as strings", () => {
    const keys = instants.map(invertedMillis);
    const sortedAsStrings = [...keys].sort();
    expect(sortedAsStrings).toEqual([...keys].reverse());
    for (let i = 1; i < keys.length; i++) expect(keys[i] < keys[i - 1]).toBe(true);
  });

  it("is fixed-width, 13 digits", () => {
    for (const instant of instants) {
      expect(invertedMillis(instant)).toMatch(/^\d{13}$/);
      expect(invertedHour(instant)).toMatch(/^\d{13}$/);
    }
  });

  it.each([
    [0, "9999999999999"],
    [1, "9999999999998"],
    [9_999_999_999_999, "0000000000000"],
    [1_700_239_921_343, "8299760078656"],
  ])("invertedMillis(%d) is %s", (instant, expected) => {
    expect(invertedMillis(instant)).toBe(expected);
  });

  it("drops sub-millisecond fractions", () => {
    expect(invertedMillis(1.9)).toBe(invertedMillis(1));
  });

  it.each([
    ["negative", -1, "9999999999999"],
    ["far negative", -8.64e15, "9999999999999"],
    ["past year 2286", 10_000_000_000_000, "0000000000000"],
    ["far future", 8.64e15, "0000000000000"],
  ])("clamps %s instants", (_name, instant, expected) => {
    expect(invertedMillis(instant)).toBe(expected);
  });

  it("gives one value for every instant of the same hour", () => {
    const start = t("2023-11-17T16:00:00.000Z");
    expect(invertedHour(start)).toBe(invertedMillis(start));
    expect(invertedHour(start + 1)).toBe(invertedMillis(start));
    expect(invertedHour(start + HOUR - 1)).toBe(invertedMillis(start));
    expect(invertedHour(start + HOUR)).toBe(invertedMillis(start + HOUR));
  });

  it("sorts hours newer first as strings", () => {
    const hours = [0, HOUR, 5 * HOUR, t("2023-11-17T16:52:01Z"), t("2023-11-17T17:52:01Z")];
    const keys = hours.map(invertedHour);
    for (let i = 1; i < keys.length; i++) expect(keys[i] < keys[i - 1]).toBe(true);
  });

  it("clamps hours outside the range", () => {
    expect(invertedHour(-5 * HOUR)).toBe("9999999999999");
    expect(invertedHour(1e16)).toBe(invertedMillis(9_999_999_999_999));
  });
});
