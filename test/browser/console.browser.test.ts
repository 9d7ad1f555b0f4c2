import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { acrPush, eventGridEvent, postEventGrid, RESOURCE_ID } from "../support/eventGridEvents";
import { APP_ROOT, type LocalStack, startLocalStack } from "../support/localStack";
import { runReconcile, sleep } from "../support/reconcile";
import { runTimer } from "../support/timers";
import { deliverWebhook } from "../support/webhookClient";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const ARTIFACTS = join(APP_ROOT, "test-artifacts");
const EVENTGRID_SECRET = "browser-eventgrid-secret";
const FUNCTION_KEY = "console-test-key";
const SILENCE_SECONDS = 2;

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI === "true") {
  throw new Error(`${CHROMIUM} is missing: CI must install it (apt-get install -y chromium)`);
}
if (!haveChromium) {
  console.warn(
    `console browser test skipped: ${CHROMIUM} is missing (apt-get update && apt-get install -y chromium)`,
  );
}

/**
 * The words of letters only ("Action", "webhook", "published") in the page's tables that are laid
 * out on more than one line: such a word has no place to break, so it was split inside. A string:
 * it runs in the page, whose DOM types this project's TypeScript does not load.
 */
const SPLIT_WORDS = `(() => {
  const words = [];
  for (const cell of document.querySelectorAll("th, td")) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.textContent.trim();
      if (!/^[A-Za-z]{2,20}$/.test(text)) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      const tops = [...range.getClientRects()].map((rect) => rect.top);
      if (tops.length > 0 && Math.max(...tops) - Math.min(...tops) > 2) words.push(text);
    }
  }
  return words;
})()`;

function push(registry: string, repository: string, tag = "v1") {
  return acrPush(repository, { registry, tag });
}

describe.skipIf(!haveChromium)("the console in headless Chromium against the local stack", () => {
  let stack: LocalStack;
  let browser: Browser;
  let page: Page;
  const registry = `myregistry.r${randomUUID().slice(0, 12)}.data.azurecr.io`;
  const web = `team/web-${randomUUID().slice(0, 8)}`;
  const api = `team/api-${randomUUID().slice(0, 8)}`;
  const matched = push(registry, web, "v1");
  const lost = push(registry, api, "v7");
  const foreignRequests: string[] = [];
  const cspViolations: string[] = [];
  const apiRequests: { url: string; key?: string }[] = [];
  const failedResponses: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    // Tables of its own: replay jobs are picked up by any app on the same tables.
    stack = await startLocalStack({
      ownTables: true,
      env: {
        EVENTGRID_SECRETS: EVENTGRID_SECRET,
        ACR_RESOURCE_IDS: RESOURCE_ID,
        CROSSCHECK_WINDOW_SECONDS: "1",
        RECONCILE_SCHEDULE: "0 0 0 1 1 *",
        SOURCE_SILENCE_SECONDS: String(SILENCE_SECONDS),
        // Replay jobs run when a test runs the timer, at a message a second: a run's 8 s can end
        // before a job does, which then still keeps its choices.
        AzureWebJobs__replayRunner__Disabled: "true",
        REPLAY_RATE_PER_SECOND: "1",
      },
    });
    const region = `?region=westeurope&registry=${registry}`;
    // One push seen on both sides (matched), one seen by Event Grid alone (a lost webhook,
    // recovered: a finding), and the webhook silent long enough for a webhook-silent finding.
    await deliverWebhook(stack, matched, region);
    // The watch keeps running through the silence, as on its schedule: a longer gap in its runs
    // would be the bridge's own downtime, which blames no side.
    const silentUntil = Date.now() + SILENCE_SECONDS * 1000 + 200;
    do {
      await runTimer(stack, "sourceWatch", "sourceWatch: {");
      await sleep(300);
    } while (Date.now() < silentUntil);
    // The lost push happens while the webhook is silent.
    lost.timestamp = new Date().toISOString();
    const events = [eventGridEvent(matched), eventGridEvent(lost)];
    expect((await postEventGrid(stack, events, EVENTGRID_SECRET)).status).toBe(200);
    await sleep(1100);
    await runReconcile(stack);
    await runTimer(stack, "sourceWatch", "sourceWatch: {");
    // The webhook resumes: the finding is resolved.
    await deliverWebhook(stack, push(registry, web, "v2"), region);
    await runTimer(stack, "sourceWatch", "sourceWatch: {");

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS,
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const origin = new URL(stack.url).origin;
    await page.route("**/*", async (route) => {
      const url = route.request().url();
      if (new URL(url).origin !== origin) {
        foreignRequests.push(url);
        await route.abort();
        return;
      }
      if (url.includes("/api/") && !url.includes("/api/console")) {
        apiRequests.push({ url, key: route.request().headers()["x-functions-key"] });
      }
      await route.continue();
    });
    page.on("console", (message) => {
      // Also the browser's own requests (the favicon), which no response event reports.
      if (/Failed to load resource/.test(message.text())) {
        failedResponses.push(`${message.text()} ${message.location().url}`);
      }
      if (/Content.Security.Policy/i.test(message.text())) cspViolations.push(message.text());
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  /** The pushes the replay job sent. */
  const replayedBy = (jobId: string) =>
    stack
      .broker()
      .messages("acr-push", "all")
      .filter((message) => message.applicationProperties.replayJobId === jobId);

  const shot = (name: string) =>
    page.screenshot({ path: join(ARTIFACTS, `console-${name}.png`), fullPage: true });

  it("serves the page with a strict CSP, takes the key out of the address bar and sends it as a header only", async () => {
    const response = await page.goto(`${stack.url}/api/console?code=${FUNCTION_KEY}#overview`);
    expect(response?.status()).toBe(200);
    const csp = response?.headers()["content-security-policy"] ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    await page.getByText("Updated").waitFor();
    expect(page.url()).not.toContain(FUNCTION_KEY);
    expect(apiRequests.length).toBeGreaterThan(0);
    for (const request of apiRequests) {
      expect(request.key).toBe(FUNCTION_KEY);
      expect(request.url).not.toContain(FUNCTION_KEY);
    }
    const html = await page.content();
    expect(html).not.toContain(FUNCTION_KEY);
    // Its icon is inline (CSP's img-src allows data:), so no browser asks the host for
    // /favicon.ico, a 404 in the developer tools of every console.
    const icon = await page.locator('link[rel="icon"]').getAttribute("href");
    expect(icon).toMatch(/^data:image\/svg\+xml,/);
    // Marks this page load: views and refreshes must keep it (no full reload).
    await page.evaluate("window.loadedOnce = true");
  });

  it("overview: charts, counts, and each source's last webhook and Event Grid event, in words", async () => {
    await page.locator(".uplot canvas").first().waitFor();
    expect(await page.locator(".uplot").count()).toBe(2);
    await expect
      .poll(() => page.locator(".uplot .u-legend").first().textContent())
      .toContain("push");
    const deliveries = page.locator('[data-count="deliveries"] strong');
    expect(Number(await deliveries.textContent())).toBeGreaterThanOrEqual(4);
    const source = page.locator("table.sources tr", { hasText: registry });
    await expect.poll(() => source.textContent()).toContain("westeurope");
    // Both sides heard from, and the state in words (with a 2 s threshold it changes quickly).
    expect(await source.textContent()).not.toContain("never");
    expect(await source.textContent()).toMatch(/delivering|quiet|webhook-silent|eventgrid-silent/);
    const operational = page
      .locator("table.operational tr", { hasText: registry })
      .filter({ hasText: "webhook-silent" });
    expect(await operational.textContent()).toContain("resolved");
    await shot("overview");
  });

  it("findings: the recovered discrepancy and the resolved operational finding, filterable by kind", async () => {
    await page.click('nav a[data-view="findings"]');
    const row = page.locator("tr", { hasText: api });
    await row.waitFor();
    expect(await row.textContent()).toContain("eventgrid-only");
    expect(await row.textContent()).toContain("resolved: recovered from Event Grid");
    expect(
      await page
        .locator("table.operational tr", { hasText: registry })
        .filter({ hasText: "webhook-silent" })
        .textContent(),
    ).toContain("resolved");
    await page.selectOption('select[name="kind"]', "mismatched");
    await page.fill('input[name="registry"]', registry);
    await page.click('form.filters button[type="submit"]');
    await page.getByText("No discrepancy in the last 24 hours.").waitFor();
    await page.selectOption('select[name="kind"]', "eventgrid-only");
    await page.click('form.filters button[type="submit"]');
    await row.waitFor();
    await shot("findings");
    // Named by its event, not "story" alone on every row.
    await row.getByRole("link", { name: `story of event ${lost.id}`, exact: true }).click();
    await page.getByRole("heading", { name: new RegExp(lost.id) }).waitFor();
  });

  it("tables break their text between words, never inside a short one", async () => {
    for (const view of ["findings", `search/${encodeURIComponent(web)}`]) {
      await page.goto(`${stack.url}/api/console#${view}`);
      await page.locator("table td").first().waitFor();
      const split = await page.evaluate<string[]>(SPLIT_WORDS);
      expect(split, view).toEqual([]);
    }
  });

  it("search by repository and by digest, and an event's story: arrivals, verdict, message ids", async () => {
    await page.click('nav a[data-view="search"]');
    await page.fill('input[name="q"]', web);
    await page.click('form.search button[type="submit"]');
    await page.getByRole("link", { name: matched.id }).first().waitFor();
    await page.fill('input[name="q"]', matched.target.digest);
    await page.click('form.search button[type="submit"]');
    const link = page.getByRole("link", { name: matched.id }).first();
    await link.waitFor();
    await shot("search");
    await link.click();
    await page.locator('[data-fact="cross-check"]').getByText("matched").waitFor();
    expect(await page.locator("section.delivery").count()).toBe(2);
    const webhook = page.locator('section.delivery[data-origin="webhook"]');
    expect(await webhook.textContent()).toContain("westeurope");
    expect(await webhook.textContent()).toMatch(/Message id[0-9a-f]{32}/);
    expect(await webhook.textContent()).toContain("published");
    expect(await page.locator('section.delivery[data-origin="eventgrid"]').textContent()).toContain(
      "held",
    );
    await shot("story");
  });

  it("names the time zone of every time it shows, in tables and for the charts", async () => {
    const newYork = await browser.newContext({ timezoneId: "America/New_York", locale: "en-US" });
    try {
      const tab = await newYork.newPage();
      await tab.goto(`${stack.url}/api/console#event/${matched.id}`);
      const facts = tab.locator('section.delivery[data-origin="webhook"] dl');
      await facts.waitFor();
      const occurred = new Date(matched.timestamp);
      // ACR's timestamp, at the clock time New York reads, with the zone that says so.
      const clock = occurred.toLocaleTimeString("en-US", {
        timeZone: "America/New_York",
        hour12: false,
      });
      expect(await facts.textContent()).toMatch(
        new RegExp(`ACR timestamp[^A-Z]*${clock} (EST|EDT|GMT-[45])`),
      );
      await tab.goto(`${stack.url}/api/console#overview`);
      await tab.locator(".uplot canvas").first().waitFor();
      expect(await tab.locator(".view-overview p.hint").first().textContent()).toMatch(
        /the charts' times are in (EST|EDT|GMT-[45])\./,
      );
    } finally {
      await newYork.close();
    }
  });

  it("the story of an event no twin is awaited for does not say one is to come", async () => {
    const ping = { id: randomUUID(), timestamp: new Date().toISOString(), action: "ping" };
    await deliverWebhook(stack, ping, `?registry=${registry}`);
    await page.goto(`${stack.url}/api/console#event/${ping.id}`);
    await page.getByRole("heading", { name: new RegExp(ping.id) }).waitFor();
    const fact = (name: string) =>
      page.locator(".view-event > dl.facts dt", { hasText: name }).locator("+ dd").textContent();
    expect(await fact("Cross-check")).toBe("not cross-checked");
    expect(await fact("Twin delay")).toBe("none expected: not cross-checked");
    expect(await fact("Window closes")).toBe("no window: not cross-checked");
  });

  it("search: more matches than it lists are not shown as all there are", async () => {
    const busy = `team/busy-${randomUUID().slice(0, 8)}`;
    const busyRegistry = `busy.r${randomUUID().slice(0, 12)}.data.azurecr.io`;
    await Promise.all(
      Array.from({ length: 101 }, (_, index) =>
        deliverWebhook(stack, push(busyRegistry, busy, `v${index}`), `?registry=${busyRegistry}`),
      ),
    );
    await page.goto(`${stack.url}/api/console#search/${encodeURIComponent(busy)}`);
    await page.locator("tbody tr", { hasText: busy }).first().waitFor();
    expect(await page.locator("tbody tr").count()).toBe(100);
    const scope = await page.locator(".view-search p.hint").textContent();
    expect(scope).toContain("More than 100");
    expect(scope).not.toMatch(/^100 found/);
  });

  it("replay: a dry run, then a job whose progress the page follows without reloading", async () => {
    await page.click('nav a[data-view="replay"]');
    await page.fill('input[name="from"]', new Date(Date.now() - 600_000).toISOString());
    await page.fill('input[name="to"]', new Date(Date.now() + 60_000).toISOString());
    await page.fill('input[name="registry"]', registry);
    await page.fill('input[name="repository"]', web);
    // The actions a replay can select, offered rather than typed.
    expect(await page.locator('select[name="action"] option').allTextContents()).toEqual([
      "any",
      "push",
      "delete",
      "chart_push",
      "chart_delete",
      "quarantine",
    ]);
    await page.selectOption('select[name="action"]', "push");
    await page.click('button[value="dry"]');
    await page.getByText("Dry run: 2 of 3 recorded deliveries would be replayed.").waitFor();
    await page.click('button[value="start"]');
    await page.waitForURL(/#replay\/[0-9a-f-]{36}$/);
    const jobId = page.url().split("/").at(-1) ?? "";
    const jobRow = page.locator("tr", { has: page.locator(`[data-job="${jobId}"]`) });
    await jobRow.waitFor();
    expect(await jobRow.textContent()).toMatch(/queued|running|completed/);
    await shot("replay-started");
    for (let run = 0; run < 10; run++) {
      const job = (await (await fetch(`${stack.url}/api/replay/${jobId}`)).json()) as {
        state: string;
      };
      if (job.state === "completed") break;
      await runTimer(stack, "replayRunner", "replayRunner: {");
    }
    // The page's own refresh picks the new state up.
    await jobRow.getByText("completed").waitFor({ timeout: 30_000 });
    expect(await jobRow.textContent()).toContain("100 %");
    expect(await page.evaluate("window.loadedOnce")).toBe(true);
    await shot("replay-completed");
    await page.goto(`${stack.url}/api/console#event/${matched.id}`);
    await page.locator("section.delivery").first().getByText("replayed").waitFor();
    expect(replayedBy(jobId)).toHaveLength(2);
  }, 90_000);

  it("an event's story names the copy a replay sent its message from, until the ended job no longer keeps it", async () => {
    const repository = `team/synced-${randomUUID().slice(0, 8)}`;
    const query = `?region=westeurope&registry=${registry}`;
    const from = new Date(Date.now() - 1000).toISOString();
    // Older pushes, then an image pushed (the webhook) and synced to a connected registry, whose
    // Event Grid event (newer, with no webhook to wait for) sends the push's message again.
    for (let index = 0; index < 12; index++) {
      await deliverWebhook(stack, push(registry, repository, `old${index}`), query);
    }
    const pushed = push(registry, repository, "v1");
    await deliverWebhook(stack, pushed, query);
    const synced = { ...pushed, id: randomUUID(), connectedregistry: { name: "edge1" } };
    const topic = `${RESOURCE_ID}/connectedRegistries/edge1`;
    const posted = await postEventGrid(
      stack,
      [eventGridEvent(synced, { topic })],
      EVENTGRID_SECRET,
    );
    expect(await posted.json()).toMatchObject({ accepted: 1 });
    const to = new Date(Date.now() + 1000).toISOString();
    const started = await fetch(`${stack.url}/api/replay`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ from, to, registry, repository }),
    });
    expect(started.status).toBe(202);
    const { id: jobId } = (await started.json()) as { id: string };
    interface StoryReplay {
      jobId: string;
      replayed: boolean;
      sentFrom?: { origin: string; eventId: string };
      choicesForgotten: boolean;
    }
    const replayOf = async (id: string) => {
      const story = (await (await fetch(`${stack.url}/api/story/${id}`)).json()) as {
        deliveries: { replays: StoryReplay[] }[];
      };
      return story.deliveries[0]?.replays.find((replay) => replay.jobId === jobId);
    };
    const row = page.locator("section.delivery tr", { hasText: jobId.slice(0, 8) });

    // The first run's time is up before the job is (13 messages at 1 a second): it keeps its
    // choices, the copy it read first (Event Grid's, the newest) among them.
    expect(await runTimer(stack, "replayRunner", "replayRunner: {")).toContain('"running"');
    expect(await replayOf(pushed.id)).toMatchObject({
      replayed: true,
      sentFrom: { origin: "eventgrid", eventId: synced.id },
      choicesForgotten: false,
    });
    await page.goto(`${stack.url}/api/console#event/${pushed.id}`);
    await row.waitFor();
    expect(await row.textContent()).toContain("replayed");
    expect(await row.textContent()).toContain(`eventgrid copy ${synced.id}`);
    await shot("story-replayed-from-copy");
    await row.getByRole("link", { name: synced.id }).click();
    await page.getByRole("heading", { name: new RegExp(synced.id) }).waitFor();
    await row.waitFor();
    expect(await row.textContent()).toContain("this delivery");

    // Ended, the job forgets its choices: the story says the message was replayed, and that
    // which copy it was sent from is no longer kept.
    for (let run = 0; run < 5 && !(await replayOf(pushed.id))?.choicesForgotten; run++) {
      await runTimer(stack, "replayRunner", "replayRunner: {");
    }
    const ended = await replayOf(pushed.id);
    expect(ended).toMatchObject({ replayed: true, choicesForgotten: true });
    expect(ended?.sentFrom).toBeUndefined();
    await page.goto(`${stack.url}/api/console#event/${pushed.id}`);
    await row.getByText("completed").waitFor();
    expect(await row.textContent()).toContain("replayed");
    expect(await row.textContent()).toContain("no longer kept");
    expect(await row.textContent()).not.toContain(synced.id);
    expect(replayedBy(jobId)).toHaveLength(13);
  }, 90_000);

  it("event catalog: each topic, the types published to it, their filter properties and examples", async () => {
    await page.locator('nav a[href="#catalog"]').click();
    await page.getByRole("heading", { name: "Event catalog" }).waitFor();
    const topics = await page
      .locator("section.topic")
      .evaluateAll((sections) => sections.map((section) => section.getAttribute("data-topic")));
    expect(topics).toEqual([
      "acr-push",
      "acr-delete",
      "acr-chart-push",
      "acr-chart-delete",
      "acr-quarantine",
      "acr-discrepancies",
    ]);
    const push = page.locator('[data-type="com.azure.acr.push"]');
    await expect.poll(() => push.locator("td code").allTextContents()).toContain("repository");
    await push.locator("summary").first().click();
    const example = JSON.parse((await push.locator("pre").first().textContent()) ?? "{}");
    expect(example.properties.action).toBe("push");
    expect(example.body).toMatchObject({ specversion: "1.0", type: "com.azure.acr.push" });
    expect(
      await page.locator('[data-type="com.azure.acr.discrepancy.eventgrid-only"]').count(),
    ).toBe(1);
    // The document itself, for tools, from the catalog route.
    const raw = await page
      .getByRole("link", { name: "The AsyncAPI document" })
      .evaluate((a) => (a as unknown as { href: string }).href);
    expect(new URL(raw).pathname).toBe("/api/catalog");
    await shot("catalog");
  });

  it("long values wrap inside the page; a view that cannot be shown replaces the one before, saying why", async () => {
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));
    const failedBefore = failedResponses.length;
    const longTag = `v${"1234567890".repeat(12)}abcdefg`; // 128 characters, Docker's most
    const longRegistry = `${"r".repeat(60)}.${"s".repeat(60)}.${"t".repeat(60)}.azurecr.io`;
    const long = push(longRegistry, `team/long-${randomUUID().slice(0, 8)}`, longTag);
    await deliverWebhook(stack, long, `?registry=${longRegistry}`);
    const overflow = () =>
      page.evaluate<number>("document.documentElement.scrollWidth - window.innerWidth");

    await page.goto(`${stack.url}/api/console#search/${longTag}`);
    const link = page.getByRole("link", { name: long.id }).first();
    await link.waitFor();
    expect(await overflow()).toBeLessThanOrEqual(1);
    await link.click();
    const heading = page.locator("section.delivery h3").first();
    await heading.waitFor();
    const headingOverflow = await page.evaluate<number>(
      '(() => { const h = document.querySelector("section.delivery h3"); return h.scrollWidth - h.clientWidth; })()',
    );
    expect(headingOverflow).toBeLessThanOrEqual(1);
    expect(await overflow()).toBeLessThanOrEqual(1);
    for (const view of ["overview", "findings"]) {
      await page.locator(`nav a[href="#${view}"]`).click();
      await page.locator(`.view-${view}`).waitFor();
      expect(await overflow(), view).toBeLessThanOrEqual(1);
    }

    // From a story, to one that does not exist: the old story does not stay on screen.
    await page.goto(`${stack.url}/api/console#event/${encodeURIComponent(long.id)}`);
    await page.locator("section.delivery").first().waitFor();
    await page.evaluate('location.hash = "event/no-such-event-id"');
    await page.locator("#view > p.error").waitFor();
    expect(await page.locator("section.delivery").count()).toBe(0);
    // Malformed escapes, and a replay job nobody knows, say so.
    await page.evaluate('location.hash = "overview"');
    await page.locator(".view-overview").waitFor();
    await page.evaluate('location.hash = "search/%"');
    await page.locator("#view > p.error").waitFor();
    await page.evaluate('location.hash = "replay/00000000-0000-0000-0000-000000000000"');
    await page.getByText("No replay job 00000000-0000-0000-0000-000000000000 is known.").waitFor();
    expect(pageErrors).toEqual([]);
    // The 404s asked for here, and no other failed request.
    const failedHere = failedResponses.splice(failedBefore);
    for (const failed of failedHere) {
      expect(failed).toMatch(/404.*\/api\/(story\/no-such-event-id|replay\/0{8}-)/);
    }
  });

  it("fits a phone width, loaded nothing from elsewhere, asked for nothing missing and broke no CSP rule", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${stack.url}/api/console#overview`);
    await page.locator(".uplot canvas").first().waitFor();
    await sleep(300);
    const overflow = await page.evaluate<number>(
      "document.documentElement.scrollWidth - window.innerWidth",
    );
    expect(overflow).toBeLessThanOrEqual(1);
    await shot("overview-phone");
    expect(foreignRequests).toEqual([]);
    expect(failedResponses).toEqual([]);
    expect(cspViolations).toEqual([]);
  });
});

describe.skipIf(!haveChromium)("the console of a bridge that has recorded nothing yet", () => {
  let stack: LocalStack;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    stack = await startLocalStack({ ownTables: true, env: { RECONCILE_SCHEDULE: "0 0 0 1 1 *" } });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS,
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it("overview: says so, and its deliveries chart still has a line at zero", async () => {
    await page.goto(`${stack.url}/api/console#overview`);
    await page.getByText("No delivery in the last 24 hours").waitFor();
    await page.locator(".uplot canvas").first().waitFor();
    const legend = await page.locator("#chart-deliveries .u-legend").textContent();
    expect(legend).toContain("all actions");
  });

  it("replay: the window's whole ISO times are readable and the two buttons stand apart", async () => {
    await page.goto(`${stack.url}/api/console#replay`);
    const from = page.locator('form.replay input[name="from"]');
    await from.waitFor();
    // The field is at least as wide as the text it holds: nothing scrolled out of sight.
    const clipped = await from.evaluate((input) => input.scrollWidth - input.clientWidth);
    expect(clipped).toBeLessThanOrEqual(0);
    const [dry, start] = await Promise.all(
      ["dry", "start"].map((mode) =>
        page.locator(`form.replay button[value="${mode}"]`).boundingBox(),
      ),
    );
    expect(dry && start && start.x - (dry.x + dry.width)).toBeGreaterThanOrEqual(4);
  });

  it("replay: with Table Storage down, a known job is not reported unknown and the outage is named", async () => {
    const now = Date.now();
    const started = await fetch(`${stack.url}/api/replay`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        from: new Date(now - 3_600_000).toISOString(),
        to: new Date(now).toISOString(),
      }),
    });
    expect(started.status).toBe(202);
    const { id } = (await started.json()) as { id: string };
    await page.goto(`${stack.url}/api/console#replay/${id}`);
    await page.locator(`[data-job="${id}"]`).waitFor();
    await stack.stopTables();
    try {
      await page.reload();
      const status = page.locator("#status");
      await status.filter({ hasText: /Updated|failed|Could not/ }).waitFor({ timeout: 15_000 });
      // A first load that failed, not a refresh.
      expect(await status.textContent()).toMatch(/^Could not load: table-storage is unavailable/);
      expect(await page.locator("#view").textContent()).not.toContain("is known");
    } finally {
      await stack.startTables();
    }
  });
});
