import { describe, expect, it } from "vitest";
import { MAX_NOTICES_PER_MINUTE, RefusalNotices } from "../../src/adapters/refusalNotices";
import { T0 } from "./memoryPorts";

const MINUTE = Math.floor(T0 / 60_000) * 60_000;

/** The message ids a process notes refusals under (undefined: not noted), one per refusal. */
function noted(notices: RefusalNotices, seconds: readonly number[]): (string | undefined)[] {
  return seconds.map((second) => notices.messageIdFor(MINUTE + second * 1_000));
}

describe("RefusalNotices: which refusals a process notes on the journal", () => {
  it("while the store does not answer, a minute's refusals are one notice; the next minute's another", () => {
    const [first, ...sameMinute] = noted(new RefusalNotices(), [1, 20, 59]);
    expect(first).toBeDefined();
    expect(sameMinute).toEqual([undefined, undefined]);
    const notices = new RefusalNotices();
    const [minuteOne, , minuteTwo] = noted(notices, [1, 2, 61]);
    expect(minuteTwo).toBeDefined();
    expect(minuteTwo).not.toBe(minuteOne);
  });

  it("once the store answered the process, a refusal of a minute noted is noted again, under another id", () => {
    const notices = new RefusalNotices();
    const [first] = noted(notices, [1]);
    notices.storeAnswered();
    const [second, third] = noted(notices, [20, 30]);
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    expect(third).toBeUndefined();
  });

  it("another process's notice of the same minute has an id of its own: duplicate detection keeps both", () => {
    const [mine] = noted(new RefusalNotices(), [1]);
    const [other] = noted(new RefusalNotices(), [20]);
    expect(other).toBeDefined();
    expect(other).not.toBe(mine);
  });

  it(`a store answering and failing over and over costs ${MAX_NOTICES_PER_MINUTE} notices a minute at most`, () => {
    const notices = new RefusalNotices();
    const ids: (string | undefined)[] = [];
    for (let second = 0; second < 60; second++) {
      ids.push(notices.messageIdFor(MINUTE + second * 1_000));
      notices.storeAnswered();
    }
    const sent = ids.filter((id) => id !== undefined);
    expect(sent).toHaveLength(MAX_NOTICES_PER_MINUTE);
    expect(new Set(sent).size).toBe(MAX_NOTICES_PER_MINUTE);
  });

  it("a notice Service Bus did not take goes out on the next refusal of its minute, under the same id", () => {
    const notices = new RefusalNotices();
    const [failed] = noted(notices, [1]);
    notices.notSent(failed as string);
    const [retried, after] = noted(notices, [2, 3]);
    expect(retried).toBe(failed);
    expect(after).toBeUndefined();
  });
});
