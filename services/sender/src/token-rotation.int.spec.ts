import type { EventOf } from "@parley/contracts";
import { waitFor } from "@parley/testkit";
import { describe, expect, it } from "vitest";
import {
  ROTATING,
  callsTo,
  dispatch,
  metrics,
  outcomeOf,
  publish,
  rotateTokenFile,
  sender,
  settled,
  sim,
  simServer,
  startSender,
  terminal,
  useSenderHarness,
} from "./sender-harness.spec-helpers.js";

// Graph tokens rotated without a restart (issue 28): Meta invalidates a number's token and the
// operator (or a secret manager's agent) writes the new one into its file. The sender, running
// all along, meets the refusal (the number pauses, its dispatches park), reads the new file
// within SENDER_TOKEN_FILE_POLL_MS, probes with the new token, resumes, and sends every dispatch
// exactly once: the old token refused at the simulator, the new one accepted.

useSenderHarness();

/** What the simulator answers a call with `token` on the number: its HTTP status. */
async function answerTo(token: string): Promise<number> {
  const res = await fetch(`${simServer.url}/v23.0/${ROTATING}?fields=display_phone_number`, {
    headers: { authorization: `Bearer ${token}` },
  });
  await res.arrayBuffer();
  return res.status;
}

describe("a number's Graph token rotated on disk", () => {
  it("is used from the next call without a restart: the old token refused after rotation, the new one accepted, no send lost or doubled", async () => {
    // The sender as main.ts runs it: token files polled (every 100 ms here, 5 s by default).
    await sender.stop();
    await startSender({ SENDER_TOKEN_FILE_POLL_MS: 100 });
    const wave = (tag: string, round: number, n: number): EventOf<"DispatchMessage">[] =>
      Array.from({ length: n }, (_, i) =>
        dispatch(
          ROTATING,
          `${tag}-${String(i)}`,
          `1555420${String(round)}${String(i).padStart(3, "0")}`,
        ),
      );
    const ids = (list: readonly EventOf<"DispatchMessage">[]) => list.map((d) => d.data.requestId);

    const before = wave("rot-before", 1, 30);
    await publish(before);
    await settled(ids(before));

    // Meta invalidates the old token; the sends after it are refused (190): the number pauses
    // and parks them rather than failing them.
    sim.revokeAccessToken("rotating-token-1");
    expect(await answerTo("rotating-token-1")).toBe(401);
    const during = wave("rot-during", 2, 30);
    await publish(during);
    await waitFor(() => sender.paused().some((p) => p.number === ROTATING), {
      timeoutMs: 15_000,
      description: "the number paused on its refused token",
    });
    // Refused by Graph's code for a bad token, and nothing of the wave was sent on it.
    expect(sender.paused()).toEqual([expect.objectContaining({ number: ROTATING, code: 190 })]);
    expect(sim.messages({ phoneNumberId: ROTATING })).toHaveLength(before.length);

    // The new token is issued and written to the file: no restart, no call to the sender.
    sim.grantAccessToken({ token: "rotating-token-2" });
    rotateTokenFile("rotating-token-2\n");
    const after = wave("rot-after", 3, 30);
    await publish(after);
    const all = [...ids(before), ...ids(during), ...ids(after)];
    await settled(all, 45_000);

    // Every dispatch sent exactly once: one SendAccepted each, one message at the simulator each.
    for (const id of all) {
      expect(terminal(id)?.type).toBe("SendAccepted");
      expect(outcomeOf(id).filter((o) => o.type === "SendAccepted")).toHaveLength(1);
    }
    const delivered = sim.messages({ phoneNumberId: ROTATING }).map((m) => m.callbackData);
    expect(delivered).toHaveLength(all.length);
    expect(new Set(delivered)).toEqual(new Set(all));
    for (const d of [...during, ...after]) expect(callsTo(d.data.to)).toHaveLength(1);
    expect(sender.paused()).toEqual([]);
    // The old token stays refused at the simulator; the new one is the one accepted.
    expect(await answerTo("rotating-token-1")).toBe(401);
    expect(await answerTo("rotating-token-2")).toBe(200);
    expect(await metrics.metrics()).toMatch(
      new RegExp(`parley_graph_token_valid\\{[^}]*business_number="${ROTATING}"[^}]*\\} 1`),
    );
  }, 90_000);
});
