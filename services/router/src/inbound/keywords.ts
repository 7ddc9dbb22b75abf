/** Whole-message consent keywords; compared after `normalizeKeyword`. */
export interface KeywordLists {
  readonly stop: readonly string[];
  readonly start: readonly string[];
}

/** Sensible multilingual defaults (English, Spanish, Portuguese, French, German, Italian, Dutch). */
export const defaultKeywords: KeywordLists = {
  stop: [
    "stop",
    "stopall",
    "stop all",
    "unsubscribe",
    "cancel",
    "end",
    "quit",
    "opt out",
    "optout",
    "baja",
    "alto",
    "parar",
    "pare",
    "cancelar",
    "sair",
    "arret",
    "arrête",
    "desabonner",
    "stopp",
    "abmelden",
    "annulla",
    "basta",
    "afmelden",
  ],
  start: [
    "start",
    "unstop",
    "subscribe",
    "resume",
    "opt in",
    "optin",
    "alta",
    "iniciar",
    "comenzar",
    "começar",
    "demarrer",
    "abonner",
    "anmelden",
    "inizia",
    "aanmelden",
  ],
};

/**
 * Case, accent and whitespace insensitive form of a message: "  Arrêt! " and "ARRET" both give
 * "arret". Punctuation around the word is ignored, punctuation inside it is kept.
 */
export function normalizeKeyword(text: string): string {
  return text
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .toLowerCase()
    .replace(/\s+/gu, " ")
    .trim()
    .replace(/^[\p{P}\p{S}\s]+|[\p{P}\p{S}\s]+$/gu, "");
}

export type KeywordMatch = "stop" | "start" | undefined;

/** A matcher over normalised lists; built once, then a Set lookup per message. */
export function createKeywordMatcher(lists: KeywordLists): (text: string) => KeywordMatch {
  const stop = new Set(lists.stop.map(normalizeKeyword).filter((k) => k !== ""));
  const start = new Set(lists.start.map(normalizeKeyword).filter((k) => k !== ""));
  for (const k of stop) {
    if (start.has(k)) throw new RangeError(`keyword "${k}" is both a STOP and a START keyword`);
  }
  return (text) => {
    const k = normalizeKeyword(text);
    if (stop.has(k)) return "stop";
    if (start.has(k)) return "start";
    return undefined;
  };
}
