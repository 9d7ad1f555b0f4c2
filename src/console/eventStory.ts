import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { crossCheckOf } from "../core/crossCheck";
import { jobCovers, jobReached, type ReplayJobStore, replayMessageId } from "../core/replay";
import { messageIdFor } from "../core/topicMessage";
import { answerEvent, type EventLookup } from "../query/queryEventById";
import { deliveryView, logicalEventView } from "../query/queryViews";

export interface StoryDeps {
  lookup: EventLookup;
  jobs: Pick<ReplayJobStore, "recent">;
}

/** How many of the newest replay jobs a story looks through. */
const RECENT_JOBS = 50;

/**
 * `GET /api/story/{id}`: everything the bridge knows of one event: each arrival (origin, region,
 * time, status), the cross-check verdict and delay, the publications with their message ids, and
 * the replay jobs that covered it with the message id each sent.
 */
export function queryEventStory(
  request: HttpRequest,
  context: InvocationContext,
  deps: StoryDeps,
): Promise<HttpResponseInit> {
  return answerEvent(request, context, deps.lookup, async ({ id, logical, deliveries }) => {
    const jobs = await deps.jobs.recent(RECENT_JOBS);
    return {
      id,
      crossCheck: crossCheckOf(logical, deliveries),
      logicalEvent: logical && logicalEventView(logical),
      deliveries: deliveries.map((record) => {
        const messageId = messageIdFor(record.event, record.occurrence);
        return {
          ...deliveryView(record),
          messageId,
          replays: jobs
            .filter((job) => jobCovers(job, record))
            .map((job) => ({
              jobId: job.id,
              state: job.state,
              replayed: jobReached(job, record),
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
