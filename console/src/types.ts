/** The JSON the console reads, as the function app's routes answer it. */
export interface Overview {
  series: { times: number[]; deliveries: Record<string, number[]>; matchRate: (number | null)[] };
  counts: { total: number; pending: number; dead: number; lateEventGrid: number };
  truncated: boolean;
  sources: {
    registry: string;
    region?: string;
    lastWebhookAt?: string;
    lastEventGridAt?: string;
    webhookSilentForMs?: number;
    eventGridSilentForMs?: number;
    state: string;
  }[];
  operationalFindings: {
    kind: string;
    state: "open" | "resolved";
    registry: string;
    region?: string;
    silentSince?: string;
    openedAt: string;
    resolvedAt?: string;
  }[];
}

export interface Discrepancy {
  kind: string;
  registry: string;
  action: string;
  repository?: string;
  tag?: string;
  digest?: string;
  detectedAt: string;
  webhookEventIds: string[];
  eventGridEventIds: string[];
  recovered: boolean;
  state: "open" | "resolved";
  resolution?: string;
}

export interface SearchResult {
  scanned: number;
  complete: boolean;
  /** More deliveries matched than are listed. */
  truncated: boolean;
  items: {
    id: string;
    origin: string;
    action: string;
    registry: string;
    repository?: string;
    tag?: string;
    digest?: string;
    receivedAt: string;
    publishState: string;
    crossCheck: string;
  }[];
}

export interface Story {
  id: string;
  crossCheck: string;
  logicalEvent?: { delayMs?: number; windowClosesAt: string; publishedBy?: string };
  deliveries: {
    origin: string;
    action: string;
    registry: string;
    repository?: string;
    tag?: string;
    occurredAt: string;
    topic?: string;
    notRoutedReason?: string;
    publishState: string;
    publishAttempts: number;
    lastAttemptAt?: string;
    lastError?: string;
    publishedTopics: string[];
    deliveryCount: number;
    arrivals: { receivedAt: string; region?: string; status?: number }[];
    attemptLog?: {
      at: string;
      topic: string;
      messageId: string;
      outcome: "published" | "failed";
      error?: string;
    }[];
    messageId: string;
    replays: {
      jobId: string;
      state: string;
      replayed: boolean;
      /** The copy the job sends the message from, while it keeps its choices. */
      sentFrom?: { origin: string; eventId: string };
      choicesForgotten: boolean;
      topic?: string;
      messageId: string;
    }[];
  }[];
}

export interface ReplayJob {
  id: string;
  state: string;
  progress: number;
  counts: { scanned: number; published: number; skipped: number };
  errors: string[];
}
