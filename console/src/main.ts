import "./style.css";
import type uPlot from "uplot";
import { PUBLISHABLE_ACTIONS } from "../../src/core/actions";
import { ApiError, api, query } from "./api";
import { renderCatalog } from "./catalogView";
import { deliveriesChart, fitOnResize, matchRateChart } from "./charts";
import { badge, duration, eventLink, h, table, time, zoneName } from "./dom";
import type { Discrepancy, Overview, ReplayJob, SearchResult, Story } from "./types";

const view = document.getElementById("view") as HTMLElement;
const status = document.getElementById("status") as HTMLElement;
const REFRESH_MS = 10_000;
let charts: { chart: uPlot; container: HTMLElement }[] = [];
fitOnResize(() => charts);

/** Fills the view; what it returns runs once the view is in the document. */
type Render = (target: HTMLElement, args: string[]) => Promise<(() => void) | undefined>;

const views: Record<string, { render: Render; refresh: boolean }> = {
  overview: { render: renderOverview, refresh: true },
  findings: { render: renderFindings, refresh: true },
  search: { render: renderSearch, refresh: false },
  event: { render: renderStory, refresh: true },
  replay: { render: renderReplay, refresh: true },
  catalog: { render: renderCatalog, refresh: false },
};

let timer: number | undefined;
let generation = 0;

/**
 * Renders the view named by the hash into a fresh element and swaps it in: no full reload. A
 * periodic refresh carries over what the operator typed or chose, and the focus.
 */
async function show(refreshing = false): Promise<void> {
  const path = location.hash.replace(/^#/, "").split("?")[0];
  const [name = "overview", ...rawArgs] = path.split("/");
  const entry = views[name] ?? views.overview;
  const current = ++generation;
  window.clearTimeout(timer);
  for (const link of document.querySelectorAll<HTMLAnchorElement>("nav a")) {
    const active = link.dataset.view === (name === "event" ? "search" : name);
    if (active) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const next = h("div", { class: `view view-${name}` });
  try {
    const shown = await entry.render(next, rawArgs.map(decodeURIComponent));
    if (current !== generation) return;
    const focused = refreshing ? carryFormState(view, next) : undefined;
    replaceView(next);
    focused?.focus();
    shown?.();
    status.textContent = `Updated ${new Date().toLocaleTimeString(undefined, { hour12: false })}`;
    status.className = "";
  } catch (error) {
    if (current !== generation) return;
    // Nothing was refreshed when the view could not be shown at all.
    const failed = refreshing ? "Refresh failed" : "Could not load";
    status.textContent = `${failed}: ${describe(error)}`;
    status.className = "failed";
    // A refresh that failed keeps what was shown; a view that could not be shown replaces it.
    if (!refreshing || !view.hasChildNodes()) {
      replaceView(h("p", { class: "error" }, describe(error)));
    }
  }
  if (entry.refresh && current === generation) {
    timer = window.setTimeout(() => void show(true), REFRESH_MS);
  }
}

/** Shows `next` in place of the view, whose charts go with it. */
function replaceView(next: HTMLElement): void {
  for (const { chart } of charts) chart.destroy();
  charts = [];
  view.replaceChildren(next);
}

type Field = HTMLInputElement | HTMLSelectElement;

/** Copies field values and status lines by name into the new view; returns the field to focus. */
function carryFormState(from: HTMLElement, to: HTMLElement): Field | undefined {
  let focused: Field | undefined;
  for (const field of from.querySelectorAll<Field>("input[name], select[name]")) {
    const twin = to.querySelector<Field>(`[name="${CSS.escape(field.name)}"]`);
    if (!twin) continue;
    twin.value = field.value;
    if (field === document.activeElement) focused = twin;
  }
  for (const line of from.querySelectorAll<HTMLElement>("[data-keep]")) {
    const twin = to.querySelector<HTMLElement>(
      `[data-keep="${CSS.escape(line.dataset.keep ?? "")}"]`,
    );
    if (twin) twin.textContent = line.textContent;
  }
  return focused;
}

function describe(error: unknown): string {
  if (error instanceof ApiError) return `${error.message} (HTTP ${error.status})`;
  return error instanceof Error ? error.message : String(error);
}

// --- Overview -------------------------------------------------------------------------------

async function renderOverview(target: HTMLElement): Promise<() => void> {
  const overview = await api<Overview>("overview");
  const counts = overview.counts;
  const card = (label: string, value: number, tone: "ok" | "warn" | "bad") =>
    h(
      "div",
      { class: `card ${value > 0 ? tone : "ok"}`, "data-count": label },
      h("strong", {}, value),
      h("span", {}, label),
    );
  const deliveries = h("div", { class: "chart", id: "chart-deliveries" });
  const matchRate = h("div", { class: "chart", id: "chart-match-rate" });
  target.append(
    h("h2", {}, "Overview"),
    h(
      "p",
      { class: "hint" },
      `Last 24 hours, by arrival${overview.truncated ? " (sampled: more rows than one read takes)" : ""}; the charts' times are in ${zoneName()}.`,
    ),
    h(
      "div",
      { class: "cards" },
      card("deliveries", counts.total, "ok"),
      card("pending", counts.pending, "warn"),
      card("dead", counts.dead, "bad"),
      card("late Event Grid arrivals", counts.lateEventGrid, "warn"),
    ),
    h("div", { class: "charts" }, deliveries, matchRate),
    ...(counts.total === 0
      ? [h("p", { class: "none" }, "No delivery in the last 24 hours: the charts stay at zero.")]
      : []),
    h("h3", {}, "Sources"),
    overview.sources.length === 0
      ? h(
          "p",
          {},
          "No registry has been heard from yet (the source watch runs with the reconcile).",
        )
      : table(
          [
            "Registry",
            "Region",
            "Last webhook",
            "Last Event Grid event",
            "Webhook silent for",
            "Event Grid silent for",
            "State",
          ],
          overview.sources.map((source) => [
            source.registry,
            source.region ?? "all regions",
            time(source.lastWebhookAt),
            time(source.lastEventGridAt),
            duration(source.webhookSilentForMs),
            duration(source.eventGridSilentForMs),
            badge(
              source.state,
              source.state === "delivering" ? "ok" : source.state === "quiet" ? "info" : "bad",
            ),
          ]),
          { class: "sources" },
        ),
    h("h3", {}, "Operational findings"),
    operationalList(overview.operationalFindings),
  );
  // Charts need their containers in the document to measure: drawn once the view is swapped in.
  return () => {
    charts.push(
      {
        chart: deliveriesChart(deliveries, overview.series.times, overview.series.deliveries),
        container: deliveries,
      },
      {
        chart: matchRateChart(matchRate, overview.series.times, overview.series.matchRate),
        container: matchRate,
      },
    );
  };
}

function operationalList(findings: Overview["operationalFindings"]): Node {
  if (findings.length === 0)
    return h(
      "p",
      { class: "none" },
      "None: every source that delivers is heard from on both sides.",
    );
  return table(
    ["Kind", "State", "Registry", "Region", "Silent since", "Opened", "Resolved"],
    findings.map((finding) => [
      finding.kind,
      badge(finding.state, finding.state === "open" ? "bad" : "ok"),
      finding.registry,
      finding.region ?? "all regions",
      time(finding.silentSince),
      time(finding.openedAt),
      finding.resolvedAt ? time(finding.resolvedAt) : "not yet",
    ]),
    { class: "operational" },
  );
}

// --- Findings -------------------------------------------------------------------------------

const CROSS_CHECK_KINDS = ["webhook-only", "eventgrid-only", "mismatched", "quarantine-held"];
/** Of each state: the most one page of the query API gives. */
const FINDINGS_SHOWN = 1000;
const OPERATIONAL_KINDS = ["webhook-silent", "eventgrid-silent"];

async function renderFindings(target: HTMLElement): Promise<undefined> {
  const params = new URLSearchParams(location.hash.split("?")[1] ?? "");
  const kind = params.get("kind") ?? "";
  const registry = params.get("registry") ?? "";
  const crossCheckKind = CROSS_CHECK_KINDS.includes(kind) ? kind : undefined;
  const wantsCrossCheck = kind === "" || crossCheckKind !== undefined;
  const wantsOperational = kind === "" || OPERATIONAL_KINDS.includes(kind);
  const findingsIn = (state: "open" | "resolved") =>
    api<{ items: Discrepancy[]; continuationToken?: string }>(
      `discrepancies${query({ kind: crossCheckKind, registry: registry || undefined, state, limit: String(FINDINGS_SHOWN) })}`,
    );
  const [discrepancies, overview] = await Promise.all([
    wantsCrossCheck
      ? Promise.all([findingsIn("open"), findingsIn("resolved")]).then(([open, resolved]) => ({
          items: [...open.items, ...resolved.items].sort((a, b) =>
            b.detectedAt.localeCompare(a.detectedAt),
          ),
          more: open.continuationToken !== undefined || resolved.continuationToken !== undefined,
        }))
      : Promise.resolve({ items: [], more: false }),
    wantsOperational
      ? api<Overview>(`overview${query({ registry: registry || undefined })}`)
      : undefined,
  ]);
  const operational = (overview?.operationalFindings ?? []).filter(
    (finding) => kind === "" || finding.kind === kind,
  );
  const form = h(
    "form",
    { class: "filters", "aria-label": "Filter findings" },
    h(
      "label",
      {},
      "Kind ",
      h(
        "select",
        { name: "kind" },
        h("option", { value: "" }, "all kinds"),
        ...[...CROSS_CHECK_KINDS, ...OPERATIONAL_KINDS].map((value) => {
          const option = h("option", { value }, value);
          option.selected = value === kind;
          return option;
        }),
      ),
    ),
    h(
      "label",
      {},
      "Registry ",
      h("input", { name: "registry", value: registry, placeholder: "myregistry.azurecr.io" }),
    ),
    h("button", { type: "submit" }, "Filter"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    location.hash = `findings?${query({ kind: String(data.get("kind") ?? ""), registry: String(data.get("registry") ?? "") }).slice(1)}`;
  });
  target.append(
    h("h2", {}, "Findings"),
    form,
    h("h3", {}, "Cross-check discrepancies (newest first)"),
    ...(discrepancies.more
      ? [
          h(
            "p",
            { class: "hint", "data-fact": "findings-cut" },
            `More findings than shown: the newest ${FINDINGS_SHOWN} open and the newest ${FINDINGS_SHOWN} resolved of the last 24 hours are listed. Filter by kind or registry to see the others.`,
          ),
        ]
      : []),
    !wantsCrossCheck
      ? h("p", { class: "none" }, "Cross-check discrepancies are not shown for this kind.")
      : discrepancies.items.length === 0
        ? h("p", { class: "none" }, "No discrepancy in the last 24 hours.")
        : table(
            [
              "Detected",
              "Kind",
              "State",
              "Registry",
              "Action",
              "Repository",
              "Tag / digest",
              "Event",
            ],
            discrepancies.items.map((finding) => [
              time(finding.detectedAt),
              finding.kind,
              findingState(finding),
              finding.registry,
              finding.action,
              finding.repository || "—",
              finding.tag || finding.digest || "—",
              eventLink(finding.webhookEventIds[0] ?? finding.eventGridEventIds[0], "story"),
            ]),
          ),
    h("h3", {}, "Operational findings"),
    operationalList(operational),
  );
}

/** In words: a late twin resolved it, or the lost webhook was recovered, or it is open. */
function findingState(finding: Discrepancy): HTMLElement {
  if (finding.state === "resolved") {
    const why = finding.resolution === "late-twin" ? ": the late twin arrived" : "";
    return badge(`resolved${why}`, "ok");
  }
  return finding.recovered
    ? badge("resolved: recovered from Event Grid", "ok")
    : badge("open", "bad");
}

// --- Search and story -------------------------------------------------------------------------

async function renderSearch(target: HTMLElement, args: string[]): Promise<undefined> {
  const q = args.join("/");
  const input = h("input", {
    name: "q",
    value: q,
    placeholder: "event id, repository, digest or tag",
    "aria-label": "Search",
    required: "",
  });
  const form = h(
    "form",
    { class: "search", role: "search" },
    input,
    h("button", { type: "submit" }, "Search"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = `search/${encodeURIComponent(input.value.trim())}`;
  });
  target.append(h("h2", {}, "Event search"), form);
  if (!q) return;
  const result = await api<SearchResult>(`search${query({ q })}`);
  target.append(
    h(
      "p",
      { class: "hint" },
      result.truncated
        ? `More than ${result.items.length} deliveries of the last 24 hours match: the newest ${result.items.length} are listed. Search for a tag, a digest or more of the repository's name to see the others.`
        : `${result.items.length} found among ${result.scanned} deliveries of the last 24 hours${result.complete ? "" : " (the newest only)"}, and by event id at any time.`,
    ),
    result.items.length === 0
      ? h("p", { class: "none" }, "Nothing matches.")
      : table(
          [
            "Event",
            "Origin",
            "Action",
            "Registry",
            "Repository",
            "Tag",
            "Digest",
            "Received",
            "Publish state",
            "Cross-check",
          ],
          result.items.map((item) => [
            eventLink(item.id),
            item.origin,
            item.action,
            item.registry,
            item.repository || "—",
            item.tag || "—",
            item.digest ? `${item.digest.slice(0, 19)}…` : "—",
            time(item.receivedAt),
            publishBadge(item.publishState),
            item.crossCheck,
          ]),
        ),
  );
}

function publishBadge(state: string): HTMLElement {
  const tone =
    state === "published" ? "ok" : state === "dead" ? "bad" : state === "pending" ? "warn" : "info";
  return badge(state, tone);
}

async function renderStory(target: HTMLElement, args: string[]): Promise<undefined> {
  const id = args.join("/");
  const story = await api<Story>(`story/${encodeURIComponent(id)}`);
  const logical = story.logicalEvent;
  // Ping, quarantine, unknown actions, connected registries: no twin comes, no window closes.
  const crossChecked = story.crossCheck !== "not cross-checked";
  target.append(
    h("h2", {}, "Event ", h("code", {}, story.id)),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Cross-check"),
      h(
        "dd",
        { "data-fact": "cross-check" },
        badge(
          story.crossCheck,
          story.crossCheck === "matched" ? "ok" : story.crossCheck === "open" ? "info" : "bad",
        ),
      ),
      h("dt", {}, "Twin delay"),
      h(
        "dd",
        {},
        !crossChecked
          ? "none expected: not cross-checked"
          : logical?.delayMs === undefined
            ? "no twin yet"
            : `${(logical.delayMs / 1000).toFixed(1)} s (webhook to Event Grid)`,
      ),
      h("dt", {}, "Window closes"),
      h("dd", {}, crossChecked ? time(logical?.windowClosesAt) : "no window: not cross-checked"),
      h("dt", {}, "Published by"),
      h("dd", {}, logical?.publishedBy ?? "—"),
    ),
  );
  for (const delivery of story.deliveries) {
    target.append(
      h(
        "section",
        { class: "delivery", "data-origin": delivery.origin },
        h(
          "h3",
          {},
          `${delivery.origin === "webhook" ? "Webhook" : "Event Grid"}: ${delivery.action} ${delivery.repository ?? ""}${delivery.tag ? `:${delivery.tag}` : ""}`,
        ),
        h(
          "dl",
          { class: "facts" },
          h("dt", {}, "Registry"),
          h("dd", {}, delivery.registry),
          h("dt", {}, "ACR timestamp"),
          h("dd", {}, time(delivery.occurredAt)),
          h("dt", {}, "Publish state"),
          h("dd", {}, publishBadge(delivery.publishState)),
          h("dt", {}, "Topic"),
          h(
            "dd",
            {},
            delivery.topic ??
              (delivery.notRoutedReason ? `not routed (${delivery.notRoutedReason})` : "—"),
          ),
          h("dt", {}, "Message id"),
          h("dd", {}, h("code", {}, delivery.messageId)),
          h("dt", {}, "Publish attempts"),
          h(
            "dd",
            {},
            `${delivery.publishAttempts}${delivery.lastAttemptAt ? `, last ${time(delivery.lastAttemptAt)}` : ""}${delivery.lastError ? `: ${delivery.lastError}` : ""}`,
          ),
          h("dt", {}, "Published to"),
          h("dd", {}, delivery.publishedTopics.join(", ") || "nothing yet"),
        ),
        table(
          ["Arrived", "Origin", "Region", "Status"],
          delivery.arrivals.map((arrival) => [
            time(arrival.receivedAt),
            delivery.origin,
            arrival.region ?? "—",
            arrival.status === undefined ? "no answer" : String(arrival.status),
          ]),
          { caption: `Arrivals (${delivery.deliveryCount})` },
        ),
        (delivery.attemptLog ?? []).length === 0
          ? h("p", { class: "none" }, "No publish attempt (held, covered, or not routed).")
          : table(
              ["Attempted", "Topic", "Message id", "Outcome"],
              (delivery.attemptLog ?? []).map((attempt) => [
                time(attempt.at),
                attempt.topic,
                h("code", {}, attempt.messageId),
                attempt.outcome === "published"
                  ? badge("published", "ok")
                  : badge(`failed: ${attempt.error ?? "unknown"}`, "bad"),
              ]),
              { caption: "Publish attempts" },
            ),
        delivery.replays.length === 0
          ? h("p", { class: "none" }, "Not replayed.")
          : table(
              ["Replay job", "Job state", "This event", "Sent from", "Topic", "Message id"],
              delivery.replays.map((replay) => [
                h("a", { href: `#replay/${replay.jobId}` }, replay.jobId.slice(0, 8)),
                replay.state,
                replay.replayed ? badge("replayed", "ok") : badge("waiting", "info"),
                sentFrom(replay, delivery, story.id),
                replay.topic ?? "—",
                h("code", {}, replay.messageId),
              ]),
              { caption: "Replays" },
            ),
      ),
    );
  }
}

/**
 * The copy of the event a replay job sends its message from: this delivery, another of this
 * event, or a copy under another event id (a connected registry's, a regional one). A job keeps
 * which only until it has ended.
 */
function sentFrom(
  replay: Story["deliveries"][number]["replays"][number],
  delivery: Story["deliveries"][number],
  storyId: string,
): Node | string {
  const copy = replay.sentFrom;
  if (!copy) {
    if (replay.choicesForgotten) return "no longer kept (the job has ended)";
    return replay.replayed ? "not recorded" : "—";
  }
  if (copy.eventId !== storyId)
    return h("span", {}, `${copy.origin} copy `, eventLink(copy.eventId));
  return copy.origin === delivery.origin ? "this delivery" : `this event's ${copy.origin} delivery`;
}

// --- Replay -------------------------------------------------------------------------------

const JOBS_STORAGE = "acr-console-replays";

function rememberedJobs(): string[] {
  return JSON.parse(sessionStorage.getItem(JOBS_STORAGE) ?? "[]") as string[];
}

/** A job the bridge does not know (or an id that is none) is left out; an outage is an error. */
function replayJobIfKnown(id: string): Promise<ReplayJob | undefined> {
  return api<ReplayJob>(`replay/${encodeURIComponent(id)}`).catch((error: unknown) => {
    if (error instanceof ApiError && (error.status === 404 || error.status === 400)) {
      return undefined;
    }
    throw error;
  });
}

async function renderReplay(target: HTMLElement, args: string[]): Promise<undefined> {
  const now = new Date();
  const hourAgo = new Date(now.getTime() - 3_600_000);
  const field = (label: string, name: string, attributes: Record<string, string> = {}) =>
    h("label", {}, label, h("input", { name, ...attributes }));
  const form = h(
    "form",
    { class: "replay", "aria-label": "Start a replay" },
    field("From (ISO 8601) ", "from", { value: hourAgo.toISOString(), required: "" }),
    field("To (ISO 8601) ", "to", { value: now.toISOString(), required: "" }),
    field("Registry ", "registry", { placeholder: "any" }),
    field("Repository ", "repository", { placeholder: "any" }),
    h(
      "label",
      {},
      "Action ",
      h(
        "select",
        { name: "action" },
        h("option", { value: "" }, "any"),
        ...PUBLISHABLE_ACTIONS.map((action) => h("option", { value: action }, action)),
      ),
    ),
    field("Topic ", "topic", { placeholder: "each event's own" }),
    h(
      "div",
      { class: "buttons" },
      h("button", { type: "submit", name: "mode", value: "dry" }, "Count (dry run)"),
      h("button", { type: "submit", name: "mode", value: "start" }, "Start replay"),
    ),
  );
  const outcome = h("p", { class: "outcome", role: "status", "data-keep": "replay-outcome" });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const submitter = (event as SubmitEvent).submitter as HTMLButtonElement | null;
    const data = new FormData(form);
    const body: Record<string, unknown> = {};
    for (const name of ["from", "to", "registry", "repository", "action", "topic"]) {
      const value = String(data.get(name) ?? "").trim();
      if (value) body[name] = value;
    }
    const dryRun = submitter?.value === "dry";
    if (dryRun) body.dryRun = true;
    outcome.textContent = "Sending…";
    api<{ id?: string; records?: number; replayable?: number }>("replay", { method: "POST", body })
      .then((answer) => {
        if (dryRun) {
          outcome.textContent = `Dry run: ${answer.replayable} of ${answer.records} recorded deliveries would be replayed.`;
          return;
        }
        if (answer.id) {
          sessionStorage.setItem(
            JOBS_STORAGE,
            JSON.stringify([answer.id, ...rememberedJobs()].slice(0, 20)),
          );
          location.hash = `replay/${answer.id}`;
        }
      })
      .catch((error: unknown) => {
        outcome.textContent = `Refused: ${describe(error)}`;
      });
  });
  const asked = args[0];
  const ids = [...new Set([...(asked ? [asked] : []), ...rememberedJobs()])];
  const found = await Promise.all(ids.map(replayJobIfKnown));
  const jobs = found.filter((job): job is ReplayJob => job !== undefined);
  const askedUnknown = asked !== undefined && !jobs.some((job) => job.id === asked);
  target.append(
    h("h2", {}, "Replay"),
    h(
      "p",
      { class: "hint" },
      "Re-publishes the recorded events of a window (by their arrival at the bridge) to their topics; replayed messages carry replayed=true and the job id.",
    ),
    form,
    outcome,
    ...(askedUnknown ? [h("p", { class: "error" }, `No replay job ${asked} is known.`)] : []),
    h("h3", {}, "Jobs started here"),
    jobs.length === 0
      ? h("p", { class: "none" }, "None yet.")
      : table(
          ["Job", "State", "Progress", "Published", "Skipped", "Scanned", "Errors"],
          jobs.map((job) => [
            h("code", { "data-job": job.id }, job.id.slice(0, 8)),
            badge(
              job.state,
              job.state === "completed" ? "ok" : job.state === "failed" ? "bad" : "info",
            ),
            h(
              "span",
              {},
              h("progress", { max: "100", value: String(Math.round(job.progress * 100)) }),
              ` ${Math.round(job.progress * 100)} %`,
            ),
            job.counts.published,
            job.counts.skipped,
            job.counts.scanned,
            job.errors.at(-1) ?? "none",
          ]),
        ),
  );
}

window.addEventListener("hashchange", () => void show());
void show();
