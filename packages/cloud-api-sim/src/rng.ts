/** Deterministic pseudo-random numbers (sfc32), seeded from a string or number. Not for secrets. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [min, max], both inclusive. */
  int(min: number, max: number): number;
  chance(probability: number): boolean;
  digits(count: number): string;
  hex(count: number): string;
  /** URL-safe characters, like Meta's fbtrace ids. */
  token(count: number): string;
}

function hashSeed(seed: string): [number, number, number, number] {
  // cyrb128: spreads any string over four 32-bit words.
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < seed.length; i++) {
    const k = seed.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  return [(h1 ^ h2 ^ h3 ^ h4) >>> 0, (h2 ^ h1) >>> 0, (h3 ^ h1) >>> 0, (h4 ^ h1) >>> 0];
}

const URL_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

export function createRng(seed: string | number): Rng {
  let [a, b, c, d] = hashSeed(String(seed));
  const next = (): number => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1));
  // Power-of-two alphabets take several characters from one 32-bit draw. The characters are
  // written into a scratch buffer and decoded once: ids and trace ids are minted for every
  // request, and growing a string one character at a time costs more than the draws.
  let scratch = Buffer.allocUnsafe(64);
  const pickBits = (alphabet: string, bits: number, count: number): string => {
    if (count > scratch.length) scratch = Buffer.allocUnsafe(count);
    let word = 0;
    let left = 0;
    const mask = (1 << bits) - 1;
    for (let i = 0; i < count; i++) {
      if (left < bits) {
        word = Math.floor(next() * 4294967296);
        left = 32;
      }
      scratch[i] = alphabet.charCodeAt(word & mask); // ASCII alphabets: one byte each
      word >>>= bits;
      left -= bits;
    }
    return scratch.toString("latin1", 0, count);
  };
  return {
    next,
    int,
    chance: (p) => p > 0 && next() < p,
    digits: (n) => {
      let s = "";
      for (let i = 0; i < n; i++) s += String(int(0, 9));
      return s;
    },
    hex: (n) => pickBits("0123456789ABCDEF", 4, n),
    token: (n) => pickBits(URL_SAFE, 6, n),
  };
}
