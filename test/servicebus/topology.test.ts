import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseIsoDuration } from "../../dev/servicebus/isoDuration";
import { defaultTopology, loadTopology, parseTopology } from "../../dev/servicebus/topology";

const config = (namespace: object) => ({
  UserConfig: { Namespaces: [{ Name: "sbemulatorns", ...namespace }] },
});

const withSubscription = (subscription: object) =>
  config({ Topics: [{ Name: "acr-push", Subscriptions: [{ Name: "all", ...subscription }] }] });

describe("the shipped Config.json", () => {
  it("defines the six ACR topics with duplicate detection and an unfiltered 'all' subscription, the journal queue and the Event Grid queue", () => {
    const topology = defaultTopology();

    expect(topology.namespace).toBe("sbemulatorns");
    expect(topology.queues).toEqual([
      expect.objectContaining({
        name: "acr-journal",
        maxDeliveryCount: 2000,
        duplicateDetectionWindowMs: 600_000,
      }),
      expect.objectContaining({
        name: "acr-eventgrid",
        maxDeliveryCount: 2000,
        defaultMessageTimeToLiveMs: 86_400_000,
        deadLetteringOnMessageExpiration: true,
      }),
    ]);
    expect(topology.topics.map((topic) => topic.name)).toEqual([
      "acr-push",
      "acr-delete",
      "acr-chart-push",
      "acr-chart-delete",
      "acr-quarantine",
      "acr-discrepancies",
    ]);
    for (const topic of topology.topics) {
      expect(topic.duplicateDetectionWindowMs).toBe(10 * 60_000);
      expect(topic.subscriptions).toEqual([
        {
          name: "all",
          lockDurationMs: 60_000,
          maxDeliveryCount: 10,
          defaultMessageTimeToLiveMs: Number.POSITIVE_INFINITY,
          deadLetteringOnMessageExpiration: false,
          rules: [],
        },
      ]);
    }
  });

  it("reads the same from the file", () => {
    expect(loadTopology(join(__dirname, "../../dev/servicebus/Config.json"))).toEqual(
      defaultTopology(),
    );
  });
});

describe("parseTopology", () => {
  it("applies Service Bus defaults to omitted properties", () => {
    const [topic] = parseTopology(withSubscription({})).topics;
    expect(topic.duplicateDetectionWindowMs).toBeUndefined();
    expect(topic.subscriptions[0]).toMatchObject({ lockDurationMs: 60_000, maxDeliveryCount: 10 });
  });

  it("rejects a malformed duration, naming the field", () => {
    expect(() =>
      parseTopology(withSubscription({ Properties: { LockDuration: "1 minute" } })),
    ).toThrow(
      'UserConfig.Namespaces[0].Topics[0].Subscriptions[0].Properties.LockDuration: "1 minute" is not an ISO 8601 duration',
    );
  });

  it("rejects a lock duration above Service Bus's five minutes", () => {
    expect(() => parseTopology(withSubscription({ Properties: { LockDuration: "PT6M" } }))).toThrow(
      "Subscriptions[0].Properties.LockDuration",
    );
  });

  it("rejects a misspelt field", () => {
    expect(() => parseTopology(withSubscription({ Properties: { LockDuraton: "PT1M" } }))).toThrow(
      'Subscriptions[0].Properties: Unrecognized key: "LockDuraton"',
    );
  });

  it("rejects entities defined twice, ignoring case", () => {
    expect(() =>
      parseTopology(
        config({ Queues: [{ Name: "builds" }], Topics: [{ Name: "Builds", Subscriptions: [] }] }),
      ),
    ).toThrow('Topics[0].Name: entity "Builds" is defined twice');
  });

  it("rejects features the local broker does not implement rather than ignoring them", () => {
    expect(() =>
      parseTopology(withSubscription({ Properties: { RequiresSession: true } })),
    ).toThrow("RequiresSession is not supported");
    const sqlRule = {
      Name: "sizes",
      Properties: { FilterType: "Sql", SqlFilter: { SqlExpression: "size + 1 > 2" } },
    };
    expect(() => parseTopology(withSubscription({ Rules: [sqlRule] }))).toThrow(
      "Rules[0].Properties.SqlFilter.SqlExpression",
    );
  });

  it("turns rules into filters", () => {
    const rules = [
      {
        Name: "prod-pushes",
        Properties: {
          FilterType: "Correlation",
          CorrelationFilter: { Label: "push", Properties: { repository: "prod/api", attempt: 1 } },
        },
      },
      {
        Name: "everything",
        Properties: { FilterType: "Sql", SqlFilter: { SqlExpression: "1=1" } },
      },
      {
        Name: "nothing",
        Properties: { FilterType: "Sql", SqlFilter: { SqlExpression: " 1 = 0 " } },
      },
    ];
    const [subscription] = parseTopology(withSubscription({ Rules: rules })).topics[0]
      .subscriptions;

    expect(subscription.rules).toEqual([
      {
        name: "prod-pushes",
        filter: {
          type: "correlation",
          match: { subject: "push", applicationProperties: { repository: "prod/api", attempt: 1 } },
        },
      },
      {
        name: "everything",
        filter: { type: "sql", sqlExpression: "1=1", expression: expect.anything() },
      },
      {
        name: "nothing",
        filter: { type: "sql", sqlExpression: " 1 = 0 ", expression: expect.anything() },
      },
    ]);
  });

  it("caps a subscription's message time-to-live by its topic's", () => {
    const topology = parseTopology(
      config({
        Topics: [
          {
            Name: "acr-push",
            Properties: { DefaultMessageTimeToLive: "PT1H" },
            Subscriptions: [{ Name: "all", Properties: { DefaultMessageTimeToLive: "P1D" } }],
          },
        ],
      }),
    );
    expect(topology.topics[0].subscriptions[0].defaultMessageTimeToLiveMs).toBe(3_600_000);
  });
});

describe("parseIsoDuration", () => {
  it.each([
    ["PT1M", 60_000],
    ["PT20S", 20_000],
    ["PT10M", 600_000],
    ["P7D", 7 * 86_400_000],
    ["P1W", 7 * 86_400_000],
    ["P1DT2H30M", 86_400_000 + 2.5 * 3_600_000],
    ["PT0.5S", 500],
    ["PT1,5S", 1_500],
  ])("reads %s", (text, ms) => {
    expect(parseIsoDuration(text)).toBe(ms);
  });

  it.each(["", "P", "PT", "P1DT", "PT1H2", "1M", "P1M", "P1Y", "pt1m", "PT-1S"])(
    "refuses %j",
    (text) => {
      expect(parseIsoDuration(text)).toBeUndefined();
    },
  );
});
