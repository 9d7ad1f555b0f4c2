import type { LogicalEvent } from "../core/crossCheck";
import type { EventOrigin } from "../core/registryEvent";
import type { EntityKeys } from "./tableLayout";

/**
 * A logical event as one entity: the event as JSON, with its state, action and tag as columns a
 * query can read, and the publication in columns of its own, so marking it needs no read.
 */
export interface LogicalEntity extends EntityKeys {
  json: string;
  state: string;
  action: string;
  tag?: string;
  publicationBy?: string;
  publicationOccurrence?: number;
}

export function toLogicalEntity(keys: EntityKeys, logical: LogicalEvent): LogicalEntity {
  const { publication, ...rest } = logical;
  return {
    json: JSON.stringify(rest),
    state: logical.state,
    action: logical.action,
    tag: logical.tag,
    publicationBy: publication?.by,
    publicationOccurrence: publication?.occurrence,
    ...keys,
  };
}

export function fromLogicalEntity(entity: LogicalEntity): LogicalEvent {
  const logical = JSON.parse(entity.json) as LogicalEvent;
  if (!entity.publicationBy) return logical;
  return {
    ...logical,
    publication: {
      by: entity.publicationBy as EventOrigin,
      occurrence: Number(entity.publicationOccurrence ?? 1),
    },
  };
}
