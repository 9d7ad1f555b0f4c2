import type { Change } from "../../src/core/writePlan";

/**
 * The one write of a new routed push of a tag with a digest: its record, its event-id row, its
 * logical event with its window, and the notes of its tag.
 */
export const NEW_PUSH_WRITE: Change["kind"][] = [
  "create-record",
  "index-arrival",
  "create-logical",
  "open-window",
  "note-tag",
  "note-digest-tag",
];
