/** Quiet hours: a daily local-time span during which no campaign send starts. */
export interface QuietHours {
  /** HH:MM local time the quiet span begins. */
  readonly from: string;
  /** HH:MM local time it ends; earlier than `from` means it wraps midnight. */
  readonly to: string;
}

const minutesOf = (hhmm: string): number => {
  const [h = "0", m = "0"] = hhmm.split(":");
  return Number(h) * 60 + Number(m);
};

/** Local minute of the day of an instant in a zone, with one formatter per zone. */
export function createLocalClock(): (instant: Date, zone: string) => number {
  const formatters = new Map<string, Intl.DateTimeFormat>();
  return (instant, zone) => {
    let f = formatters.get(zone);
    if (f === undefined) {
      f = new Intl.DateTimeFormat("en-GB", {
        timeZone: zone,
        hour: "2-digit",
        minute: "2-digit",
        hourCycle: "h23",
      });
      formatters.set(zone, f);
    }
    let hour = 0;
    let minute = 0;
    for (const part of f.formatToParts(instant)) {
      if (part.type === "hour") hour = Number(part.value);
      else if (part.type === "minute") minute = Number(part.value);
    }
    return hour * 60 + minute;
  };
}

/** Whether a local minute of the day falls inside the quiet span. */
export function isQuiet(minute: number, quiet: QuietHours): boolean {
  const from = minutesOf(quiet.from);
  const to = minutesOf(quiet.to);
  if (from === to) return false;
  return from < to ? minute >= from && minute < to : minute >= from || minute < to;
}

/**
 * The first instant at or after `instant`, at a whole minute when moved, that is outside the quiet
 * span in `zone`. Steps by the minutes left in the span and checks again, so a DST change inside
 * the span (the local clock jumping) is followed rather than computed.
 */
export function firstAllowedInstant(
  instant: Date,
  quiet: QuietHours | undefined,
  zone: string,
  localMinute: (instant: Date, zone: string) => number,
): Date {
  if (quiet === undefined) return instant;
  const to = minutesOf(quiet.to);
  let at = instant;
  // A day has at most one quiet span; DST moves the clock by at most a few hours.
  for (let step = 0; step < 8; step++) {
    const minute = localMinute(at, zone);
    if (!isQuiet(minute, quiet)) return at;
    const left = (to - minute + 1440) % 1440 || 1440;
    const wholeMinute = Math.floor(at.getTime() / 60_000) * 60_000;
    at = new Date(wholeMinute + left * 60_000);
  }
  return at;
}
