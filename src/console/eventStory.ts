import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { jobCovers, jobReached, type ReplayJobStore, replayMessageId } from "../core/replay";
import { messageIdFor } from "../core/topicMessage";
import { errorResponse } from "../http/errorResponse";
import { answerQuery } from "../query/answerQuery";
import { type EventLookup, findEvent } from "../query/queryEventById";
import { parseEventId } from "../query/queryParameters";
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
  return answerQuery(
    request,
    context,
    (r) => parseEventId(r.params.id),
    async (id) => {
      const { logical, deliveries } = await findEvent(deps.lookup, id);
      if (deliveries.length === 0 && !logical) {
        return errorResponse(404, "not_found", "no event with this id was recorded");
      }
      const jobs = await deps.jobs.recent(RECENT_JOBS);
      return {
        status: 200,
        jsonBody: {
          id,
          crossCheck: logical?.state ?? deliveries[0]?.crossCheck ?? "open",
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
        },
      };
    },
  );
}
