// The chaos run's load generator (e2e/src/chaos/run.ts): a bounded open loop.

/** A bounded open loop: `perSecond` calls spread over each 100 ms, never more than 10 s in flight. */
export function openLoop(perSecond: number, fire: (n: number) => Promise<unknown>) {
  let n = 0;
  let failures = 0;
  let inFlight = 0;
  let carry = 0;
  const timer = setInterval(() => {
    carry += perSecond / 10;
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
