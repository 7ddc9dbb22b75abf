import { describe, expect, it } from "vitest";
import {
  createKafka,
  defaultGroupSettings,
  groupInstanceIdOf,
  type GroupSettings,
} from "./connection.js";

describe("group settings carried by the client", () => {
  it("start from the defaults and take what is given", () => {
    expect(createKafka({ brokers: ["x:1"], clientId: "x" }).group).toEqual(defaultGroupSettings);
    expect(defaultGroupSettings).toEqual({ sessionTimeoutMs: 10_000, heartbeatIntervalMs: 3_000 });
    const client = createKafka({
      brokers: ["x:1"],
      clientId: "x",
      group: { instanceId: "router-0", sessionTimeoutMs: 12_000, heartbeatIntervalMs: 4_000 },
    });
    expect(client.group).toEqual({
      instanceId: "router-0",
      sessionTimeoutMs: 12_000,
      heartbeatIntervalMs: 4_000,
    });
    expect(client.health.entries()).toEqual([]);
  });

  it("derive each consumer's instance id from the client's and the group's names", () => {
    expect(
      groupInstanceIdOf(
        { ...defaultGroupSettings, instanceId: "router-0" },
        "parley.router-inbound",
      ),
    ).toBe("router-0.parley.router-inbound");
    expect(groupInstanceIdOf(defaultGroupSettings, "parley.router-inbound")).toBeUndefined();
  });

  it("refuse settings that cannot hold a session, saying how to fix them", () => {
    const make = (group: Partial<GroupSettings>) => () =>
      createKafka({ brokers: ["x:1"], clientId: "x", group });
    expect(make({ sessionTimeoutMs: 6_000, heartbeatIntervalMs: 3_000 })).toThrow(
      /heartbeatIntervalMs \(3000\) must be at most a third of sessionTimeoutMs \(6000\)/,
    );
    expect(make({ instanceId: "a b" })).toThrow(/instanceId "a b" may only contain/);
    expect(make({ sessionTimeoutMs: 0 })).toThrow(/sessionTimeoutMs must be a positive integer/);
  });
});
