import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { onAbort, sleep } from "./abort-hub.js";

describe("abort hub", () => {
  it("calls each listener still listening once when the signal aborts, none that stopped, and adds one EventTarget listener per signal", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.boolean(), { maxLength: 200 }), async (stops) => {
        const c = new AbortController();
        let added = 0;
        const add = c.signal.addEventListener.bind(c.signal);
        c.signal.addEventListener = (...args: Parameters<typeof add>) => {
          added++;
          add(...args);
        };
        const calls = stops.map(() => 0);
        const stopFns = stops.map((_, i) =>
          onAbort(c.signal, () => {
            calls[i] = (calls[i] ?? 0) + 1;
          }),
        );
        stops.forEach((stop, i) => {
          if (stop) {
            stopFns[i]?.();
            stopFns[i]?.();
          }
        });
        c.abort();
        c.abort();
        expect(calls).toEqual(stops.map((stop) => (stop ? 0 : 1)));
        expect(added).toBe(stops.length > 0 ? 1 : 0);
        // Aborted already: nothing is called, as with addEventListener.
        let late = 0;
        onAbort(c.signal, () => late++)();
        expect(late).toBe(0);
        await Promise.resolve();
      }),
    );
  });

  it("sleep: true after its time, false at once on an abort (or an aborted signal), and the timer is cleared", async () => {
    const c = new AbortController();
    expect(await sleep(1, c.signal)).toBe(true);
    const waiting = sleep(60_000, c.signal);
    c.abort();
    expect(await waiting).toBe(false);
    expect(await sleep(60_000, c.signal)).toBe(false);
    expect(await sleep(0)).toBe(true);
  });
});
