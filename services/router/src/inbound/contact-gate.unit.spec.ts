import { describe, expect, it } from "vitest";
import { ContactGate, type GateOutcome } from "./contact-gate.js";

/** Runs `id` through the gate: waits its turn, records it, leaves when `finish` resolves. */
function runner(gate: ContactGate<string>, log: string[]) {
  return (id: string, keys: string[], outcome: GateOutcome = "done") => {
    gate.admit(id, keys, id);
    const ticket = gate.claim(id);
    if (ticket === undefined) throw new Error("not admitted");
    let finish: () => void = () => undefined;
    const finished = new Promise<void>((r) => {
      finish = r;
    });
    const ran = ticket.turn.then(async (turn) => {
      log.push(`${id}:${turn}`);
      await finished;
      ticket.leave(turn === "handed-back" ? "handed-back" : outcome);
    });
    return { finish, ran };
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe("ContactGate", () => {
  it("lets webhooks of different contacts run together and one contact's in admission order", async () => {
    const gate = new ContactGate<string>();
    const log: string[] = [];
    const run = runner(gate, log);
    const a1 = run("a1", ["a"]);
    const b1 = run("b1", ["b"]);
    const a2 = run("a2", ["a"]);
    await tick();
    expect(log).toEqual(["a1:go", "b1:go"]);
    b1.finish();
    a1.finish();
    await tick();
    expect(log).toEqual(["a1:go", "b1:go", "a2:go"]);
    a2.finish();
    await Promise.all([a1.ran, b1.ran, a2.ran]);
  });

  it("makes a webhook with several contacts wait for each, and the later ones wait for it", async () => {
    const gate = new ContactGate<string>();
    const log: string[] = [];
    const run = runner(gate, log);
    const a1 = run("a1", ["a"]);
    const b1 = run("b1", ["b"]);
    const ab = run("ab", ["a", "b", "a"]);
    const b2 = run("b2", ["b"]);
    const c1 = run("c1", ["c"]);
    await tick();
    expect(log).toEqual(["a1:go", "b1:go", "c1:go"]);
    a1.finish();
    await tick();
    expect(log).not.toContain("ab:go");
    b1.finish();
    await tick();
    expect(log).toContain("ab:go");
    expect(log).not.toContain("b2:go");
    ab.finish();
    await tick();
    expect(log.at(-1)).toBe("b2:go");
    b2.finish();
    c1.finish();
    await Promise.all([a1.ran, b1.ran, ab.ran, b2.ran, c1.ran]);
  });

  it("hands back what follows a handed-back webhook; a dead-lettered one (done) lets it go", async () => {
    const gate = new ContactGate<string>();
    const log: string[] = [];
    const run = runner(gate, log);
    const a1 = run("a1", ["a"], "handed-back");
    const a2 = run("a2", ["a"]);
    const b1 = run("b1", ["b"], "done");
    const b2 = run("b2", ["b"]);
    a1.finish();
    b1.finish();
    a2.finish();
    b2.finish();
    await Promise.all([a1.ran, a2.ran, b1.ran, b2.ran]);
    expect(log).toEqual(["a1:go", "b1:go", "a2:handed-back", "b2:go"]);
  });

  it("a webhook admitted but never claimed in its turn leaves as handed back", async () => {
    const gate = new ContactGate<string>();
    gate.admit("lost", ["a"], "lost");
    gate.admit("next", ["a"], "next");
    const next = gate.claim("next");
    expect(gate.waiting).toBe(1);
    await tick();
    expect(gate.waiting).toBe(0);
    expect(await next?.turn).toBe("handed-back");
    expect(gate.claim("lost")).toBeUndefined();
  });
});
