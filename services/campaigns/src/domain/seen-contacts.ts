/**
 * The contacts a plan has seen (its duplicate check, the only state that grows with the
 * audience). A phone contact id (E.164 digits, no leading zero, at most 15: exact as a double) is
 * kept as a number in an open-addressing table, 8 bytes a slot at most half full: about 16 bytes
 * a contact, where a `Set` of strings took about 70 (the string and the set's entry), which at
 * 500,000 recipients was most of the planner's growth past 200 MB. Anything else (none reaches
 * the check today: a BSUID is refused before it) goes to an ordinary set.
 */
export interface SeenContacts {
  has(contactId: string): boolean;
  add(contactId: string): void;
  readonly size: number;
}

const PHONE = /^[1-9]\d{0,14}$/;

export function createSeenContacts(initialSlots = 1 << 14): SeenContacts {
  let slots = new Float64Array(Math.max(16, 2 ** Math.ceil(Math.log2(initialSlots))));
  let count = 0;
  const other = new Set<string>();

  /** First slot of a key: its high and low 32 bits mixed (0 marks an empty slot). */
  const home = (x: number, mask: number): number => {
    let h = (x % 4_294_967_296) ^ Math.floor(x / 4_294_967_296);
    h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
    h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
    return (h ^ (h >>> 16)) & mask;
  };
  /** The slot holding `x`, or the empty slot where it would go. */
  const find = (table: Float64Array, x: number): number => {
    const mask = table.length - 1;
    let i = home(x, mask);
    for (;;) {
      const v = table[i] ?? 0;
      if (v === 0 || v === x) return i;
      i = (i + 1) & mask;
    }
  };
  const grow = (): void => {
    const old = slots;
    slots = new Float64Array(old.length * 2);
    for (const v of old) if (v !== 0) slots[find(slots, v)] = v;
  };

  return {
    has(contactId) {
      if (!PHONE.test(contactId)) return other.has(contactId);
      return slots[find(slots, Number(contactId))] !== 0;
    },
    add(contactId) {
      if (!PHONE.test(contactId)) {
        other.add(contactId);
        return;
      }
      const x = Number(contactId);
      const i = find(slots, x);
      if (slots[i] === x) return;
      slots[i] = x;
      count++;
      if (count * 2 > slots.length) grow();
    },
    get size() {
      return count + other.size;
    },
  };
}
