import { describe, expect, it } from "vitest";
import { MASK, maskHeaders, maskUri } from "../../src/core/deliveryRecord";
import { receivedRequest } from "../../src/core/keptRequest";

const SECRET = "s3cret-value";

describe("maskHeaders", () => {
  it.each<[string, string, string]>([
    ["Authorization", `Bearer ${SECRET}`, "authorization"],
    ["authorization", `Bearer ${SECRET}`, "authorization"],
    ["AUTHORIZATION", `Bearer ${SECRET}`, "x-acr-webhook-secret"],
    ["x-functions-key", SECRET, "authorization"],
    ["X-Functions-Key", SECRET, "authorization"],
    ["Cookie", `session=${SECRET}`, "authorization"],
    ["cookie", `session=${SECRET}`, "authorization"],
    ["Proxy-Authorization", `Basic ${SECRET}`, "authorization"],
    ["X-ACR-Webhook-Secret", SECRET, "x-acr-webhook-secret"],
    ["x-acr-webhook-secret", SECRET, "X-ACR-Webhook-Secret"],
    ["X-Acr-WEBHOOK-secret", SECRET, "x-acr-webhook-secret"],
  ])("masks %s (secret header %s)", (name, value, secretHeader) => {
    const masked = maskHeaders([[name, value]], secretHeader);
    expect(masked).toEqual({ [name]: MASK });
    expect(JSON.stringify(masked)).not.toContain(SECRET);
  });

  it("keeps every other header as received", () => {
    const headers: [string, string][] = [
      ["Content-Type", "application/json"],
      ["Content-Length", "719"],
      ["User-Agent", "AzureContainerRegistry/1.0"],
      ["X-Region", "westeurope"],
      ["Authorization", `Bearer ${SECRET}`],
      ["X-ACR-Webhook-Secret", SECRET],
    ];
    expect(maskHeaders(headers, "x-acr-webhook-secret")).toStrictEqual({
      "Content-Type": "application/json",
      "Content-Length": "719",
      "User-Agent": "AzureContainerRegistry/1.0",
      "X-Region": "westeurope",
      Authorization: MASK,
      "X-ACR-Webhook-Secret": MASK,
    });
  });

  it("masks the custom secret header only when it is the configured one", () => {
    const masked = maskHeaders([["X-Other-Secret", "visible"]], "x-acr-webhook-secret");
    expect(masked).toEqual({ "X-Other-Secret": "visible" });
  });

  it("reads a Headers object, as the Functions request gives", () => {
    const headers = new Headers({
      authorization: `Bearer ${SECRET}`,
      "x-functions-key": SECRET,
      "content-type": "application/json",
    });
    const masked = maskHeaders(headers, "authorization");
    expect(masked).toEqual({
      authorization: MASK,
      "x-functions-key": MASK,
      "content-type": "application/json",
    });
  });

  it.each<[string, string]>([
    [`x-${SECRET}`, "name"],
    [SECRET, ""],
    [`X-${SECRET.toUpperCase()}`, "name"],
  ])("masks the name and value of a header named with a secret (%s)", (name, value) => {
    const masked = maskHeaders(
      [
        [name, value],
        ["user-agent", "ACR/1.0"],
      ],
      "authorization",
      [SECRET],
    );
    expect(masked).toStrictEqual({ [MASK]: MASK, "user-agent": "ACR/1.0" });
    expect(JSON.stringify(masked).toLowerCase()).not.toContain(SECRET);
  });

  it("keeps a header named like a prototype key as data", () => {
    const masked = maskHeaders([["__proto__", "x"]], "authorization");
    expect(Object.getOwnPropertyDescriptor(masked, "__proto__")?.value).toBe("x");
    expect(Object.getPrototypeOf(masked)).toBe(Object.prototype);
  });

  it("masks the way list-events shows it", () => {
    expect(MASK).toBe("******");
  });
});

describe("maskUri", () => {
  it.each<[string, string]>([
    [
      `https://bridge.azurewebsites.net/api/acr?code=${SECRET}`,
      "https://bridge.azurewebsites.net/api/acr?code=******",
    ],
    [
      `https://bridge.azurewebsites.net/api/acr?region=westeurope&code=${SECRET}&registry=r.azurecr.io`,
      "https://bridge.azurewebsites.net/api/acr?region=westeurope&code=******&registry=r.azurecr.io",
    ],
    [
      "https://bridge.azurewebsites.net/api/acr?region=eastus",
      "https://bridge.azurewebsites.net/api/acr?region=eastus",
    ],
    ["http://localhost:7071/api/acr", "http://localhost:7071/api/acr"],
  ])("%s -> %s", (uri, expected) => {
    expect(maskUri(uri)).toBe(expected);
  });

  it("masks a URL-encoded function key", () => {
    const key = "abc/def+ghi==";
    const masked = maskUri(`https://x.net/api/acr?code=${encodeURIComponent(key)}`);
    expect(masked).not.toContain("abc");
    expect(new URL(masked).searchParams.get("code")).toBe(MASK);
  });

  it.each(["Code", "CODE", "Key", "kEy"])("masks %s, whatever the case of its name", (name) => {
    const masked = maskUri(`https://x.net/api/acr?region=westeurope&${name}=${SECRET}`);
    expect(masked).not.toContain(SECRET);
    expect(new URL(masked).searchParams.get(name)).toBe(MASK);
  });

  it("masks every occurrence of code", () => {
    const masked = maskUri(`https://x.net/api/acr?code=${SECRET}&code=${SECRET}2`);
    expect(masked).not.toContain(SECRET);
    expect(new URL(masked).searchParams.getAll("code").every((value) => value === MASK)).toBe(true);
  });

  it("masks any parameter whose value carries one of the secrets, whatever its name", () => {
    const masked = maskUri(
      `https://x.net/api/acr?region=westeurope&sig=${SECRET}&note=pre${SECRET}post`,
      [SECRET],
    );
    expect(masked).not.toContain(SECRET);
    const params = new URL(masked).searchParams;
    expect(params.get("sig")).toBe(MASK);
    expect(params.get("note")).toBe(MASK);
    expect(params.get("region")).toBe("westeurope");
  });
  it.each([
    `?${SECRET}`,
    `?${SECRET}=1&region=westeurope`,
    `?region=westeurope&note-${SECRET}=x`,
    `?${encodeURIComponent(SECRET).replace("-", "%2D")}=1`,
  ])("masks the name and value of a parameter named with a secret (%s)", (query) => {
    const masked = maskUri(`https://x.net/api/acr${query}`, [SECRET]);
    expect(decodeURIComponent(masked)).not.toContain(SECRET);
    const params = new URL(masked).searchParams;
    expect(params.get(MASK)).toBe(MASK);
    if (query.includes("region")) expect(params.get("region")).toBe("westeurope");
  });
  it.each([`#${SECRET}`, `?region=westeurope#${SECRET}`, `?#${encodeURIComponent(SECRET)}`])(
    "leaves out a fragment, which no request sends a server (%s)",
    (rest) => {
      const masked = maskUri(`https://x.net/api/acr${rest}`, [SECRET]);
      expect(masked).not.toContain("#");
      expect(decodeURIComponent(masked)).not.toContain(SECRET);
    },
  );
});

describe("receivedRequest: what a record keeps of a request that reached the bridge", () => {
  const options = { authHeader: "authorization", secrets: [SECRET], maxChars: 32 * 1024 };
  const url = "https://bridge.example/api/acr/webhook?registry=r.azurecr.io";

  it("keeps an ordinary request as it came, its credentials masked", () => {
    const kept = receivedRequest(
      {
        method: "POST",
        url: `${url}&code=${SECRET}`,
        headers: new Headers({ authorization: `Bearer ${SECRET}`, "user-agent": "ACR/1.0" }),
      },
      options,
    );
    expect(kept).toStrictEqual({
      method: "POST",
      uri: expect.stringContaining("registry=r.azurecr.io"),
      headers: { authorization: MASK, "user-agent": "ACR/1.0" },
    });
    expect(JSON.stringify(kept)).not.toContain(SECRET);
  });

  it("cuts what would not fit its record: long texts marked, headers past the room counted", () => {
    const long = "v".repeat(5000);
    const headers: [string, string][] = Array.from({ length: 60 }, (_, index) => [
      `x-custom-${index}`,
      long,
    ]);
    const kept = receivedRequest(
      {
        method: "POST",
        url: `${url}&padding=${"p".repeat(9000)}`,
        headers: [["authorization", `Bearer ${SECRET}${long}`], ...headers],
      },
      options,
    );
    expect(JSON.stringify(kept).length).toBeLessThanOrEqual(options.maxChars);
    expect(kept.uri).toMatch(/…\[cut from \d+ characters\]$/);
    expect(kept.headers.authorization).toBe(MASK);
    expect(kept.headers["x-custom-0"]).toBe(`${"v".repeat(1024)}…[cut from 5000 characters]`);
    const keptCount = Object.keys(kept.headers).length;
    expect(keptCount).toBeGreaterThan(1);
    expect(kept.headersLeftOut).toBe(61 - keptCount);
    expect(JSON.stringify(kept)).not.toContain(SECRET);
  });
});
