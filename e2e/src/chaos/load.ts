// The chaos run's load generator (e2e/src/chaos/run.ts): a bounded open loop.

/**
 * A bounded open loop: `perSecond` calls spread over each 100 ms, never more than 10 s in flight.
 * Paced by the clock, not by the ticks: on a starved machine a 100 ms interval fires late, and
 * counting ticks gave 410 calls in 30 s at 20/s (2026-12-06, load average 25).
 */
export function openLoop(perSecond: number, fire: (n: number) => Promise<unknown>) {
  let n = 0;
  let failures = 0;
  let inFlight = 0;
  let carry = 0;
  let last = Date.now();
  const timer = setInterval(() => {
    const now = Date.now();
    carry += (perSecond * (now - last)) / 1_000;
    last = now;
    for (; carry >= 1; carry--) {
      if (inFlight > perSecond * 10) {
        failures++;
        continue;
      }
      inFlight++;
      fire(n++)
        .catch(() => failures++)
        .finally(() => inFlight--);
    }
  }, 100);
  return {
    stop: () => {
      clearInterval(timer);
    },
    get sent() {
      return n;
    },
    get failures() {
      return failures;
    },
  };
}
