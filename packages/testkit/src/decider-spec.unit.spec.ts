import type { Decider } from "@parley/decider";
import { describe, expect, it } from "vitest";
import { deciderSpec } from "./decider-spec.js";

// A door: opened and closed by commands, with an internal record of who touched it last.
type Command = { type: "Open"; by: string } | { type: "Close"; by: string } | { type: "Break" };
type Opened = { type: "DoorOpened"; data: { by: string; times: number } };
type Closed = { type: "DoorClosed"; data: { by: string } };
type Touched = { type: "Touched"; by: string };
type Event = Opened | Closed | Touched;
interface State {
  readonly door: string;
  readonly open: boolean;
  readonly times: number;
  readonly lastBy: string | undefined;
}

const door: Decider<State, Command, Event, { readonly now: Date }, Opened | Closed> = {
  initialState: (key) => ({ door: key, open: false, times: 0, lastBy: undefined }),
  decide(command, state) {
    switch (command.type) {
      case "Open":
        if (state.open) return [];
        return [
          { type: "DoorOpened", data: { by: command.by, times: state.times + 1 } },
          { type: "Touched", by: command.by },
        ];
      case "Close":
        return state.open
          ? [
              { type: "DoorClosed", data: { by: command.by } },
              { type: "Touched", by: command.by },
            ]
          : [{ type: "Touched", by: command.by }];
      case "Break":
        throw new RangeError("doors do not break");
    }
  },
  evolve(state, event) {
    switch (event.type) {
      case "DoorOpened":
        return { ...state, open: true, times: event.data.times };
      case "DoorClosed":
        return { ...state, open: false };
      case "Touched":
        return { ...state, lastBy: event.by };
    }
  },
  isPublished: (event): event is Opened | Closed => event.type !== "Touched",
};

const spec = deciderSpec(door, { key: "front", context: { now: new Date(0) } });
const opened = (by: string, times: number): Event => ({ type: "DoorOpened", data: { by, times } });

describe("deciderSpec", () => {
  it("given past events, when a command, then the published events by type and exact data", () => {
    const outputs = spec
      .given(opened("ann", 1), { type: "DoorClosed", data: { by: "bob" } })
      .when({ type: "Open", by: "cy" })
      .then({ type: "DoorOpened", data: { by: "cy", times: 2 } });
    expect(outputs).toHaveLength(1);
    // Exact by default: a subset of the data does not pass.
    expect(() =>
      spec
        .given()
        .when({ type: "Open", by: "cy" })
        .then({ type: "DoorOpened", data: { by: "cy" } }),
    ).toThrow();
    // Wrong types do not pass either.
    expect(() =>
      spec.given().when({ type: "Open", by: "cy" }).then({ type: "DoorClosed" }),
    ).toThrow();
  });

  it("compares a subset of the data when asked", () => {
    deciderSpec(door, { key: "front", context: { now: new Date(0) }, match: "subset" })
      .given()
      .when({ type: "Open", by: "cy" })
      .then({ type: "DoorOpened", data: { by: "cy" } });
  });

  it("thenNothing: nothing published, though internal records may be decided", () => {
    const when = spec.given().when({ type: "Close", by: "dan" });
    when.thenNothing();
    expect(when.events).toEqual([{ type: "Touched", by: "dan" }]);
    expect(() => {
      spec.given().when({ type: "Open", by: "dan" }).thenNothing();
    }).toThrow();
  });

  it("exposes the state before and after, and checks the next state", () => {
    const given = spec.given(opened("ann", 1));
    expect(given.state).toMatchObject({ open: true, times: 1 });
    const when = given.when({ type: "Close", by: "eve" });
    when.thenState({ door: "front", open: false, times: 1, lastBy: "eve" });
    when.thenState((next) => {
      expect(next.lastBy).toBe("eve");
    });
    expect(() => {
      when.thenState({ door: "front", open: true, times: 1, lastBy: "eve" });
    }).toThrow();
  });

  it("thenThrows: decide refused the command", () => {
    const when = spec.given().when({ type: "Break" });
    when.thenThrows(RangeError);
    when.thenThrows(/do not break/);
    expect(() => when.events).toThrow(RangeError);
    expect(() => {
      spec.given().when({ type: "Open", by: "x" }).thenThrows();
    }).toThrow();
  });

  it("takes a context per when", () => {
    let seen: Date | undefined;
    const watched: typeof door = {
      ...door,
      decide(command, state, ctx) {
        seen = ctx.now;
        return door.decide(command, state, ctx);
      },
    };
    const probe = deciderSpec(watched, { key: "k", context: { now: new Date(0) } });
    probe.given().when({ type: "Open", by: "x" }, { now: new Date(5) });
    expect(seen).toEqual(new Date(5));
  });
});
