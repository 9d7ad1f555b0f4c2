import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { crossCheckOf } from "../core/crossCheck";
import type { DeliveryRecord } from "../core/deliveryRecord";
import {
  jobCovers,
  jobReached,
  originalMessageId,
  type ReplayCopy,
  type ReplayJob,
  type ReplayJobStore,
  replayMessageId,
} from "../core/replay";
import { answerEvent, type EventLookup } from "../query/queryEventById";
import { deliveryView, logicalEventView } from "../query/queryViews";

export interface StoryDeps {
  lookup: EventLookup;
  jobs: Pick<ReplayJobStore, "recent" | "sendersOf">;
}

/** How many of the newest replay jobs a story looks through. */
const RECENT_JOBS = 50;

/**
 * `GET /api/story/{id}`: everything the bridge knows of one event: each arrival (origin, region,
 * time, status), the cross-check verdict and delay, the publications with their message ids, and
 * the replay jobs that covered it with the message id each sent and, while the job keeps its
 * choices, the copy it sent the message from.
 */
export function queryEventStory(
  request: HttpRequest,
  context: InvocationContext,
  deps: StoryDeps,
): Promise<HttpResponseInit> {
  return answerEvent(request, context, deps.lookup, async ({ id, logical, deliveries }) => {
    const jobs = await deps.jobs.recent(RECENT_JOBS);
    const choices = await choicesFor(jobs, deliveries, deps.jobs);
    return {
      id,
      crossCheck: crossCheckOf(logical, deliveries),
      logicalEvent: logical && logicalEventView(logical),
      deliveries: deliveries.map((record) => {
        const messageId = originalMessageId(record);
        return {
          ...deliveryView(record),
          messageId,
          replays: jobs
            .filter((job) => jobCovers(job, record))
            .map((job) => ({
              jobId: job.id,
              state: job.state,
              replayed: jobReached(job, record),
              sentFrom: choices.get(job.id)?.get(messageId),
              choicesForgotten: job.choicesForgotten,
              topic:
                job.selection.topic ??
                (record.route.kind === "topic" ? record.route.topic : undefined),
              messageId: replayMessageId(job.id, messageId),
            })),
        };
      }),
    };
  });
}

/**
 * The copies that the jobs still keeping their choices send the deliveries' messages from, by
 * job id and original message id: one read per job that covers a delivery.
 */
async function choicesFor(
  jobs: readonly ReplayJob[],
  deliveries: readonly DeliveryRecord[],
  store: Pick<ReplayJobStore, "sendersOf">,
): Promise<Map<string, Map<string, ReplayCopy>>> {
  const read = jobs
    .filter((job) => !job.choicesForgotten)
    .map((job) => ({
      job,
      ids: [
        ...new Set(deliveries.filter((record) => jobCovers(job, record)).map(originalMessageId)),
      ],
    }))
    .filter(({ ids }) => ids.length > 0);
  return new Map(
    await Promise.all(
      read.map(async ({ job, ids }) => [job.id, await store.sendersOf(job.id, ids)] as const),
    ),
  );
}
