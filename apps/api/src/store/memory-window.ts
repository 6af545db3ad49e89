/** A fixed-window counter as kept by the in-process stores. */
export interface Window {
  count: number;
  start: number;
  expiresAt: number;
}

/** The counter for `now`: the stored one while its window lasts, a fresh one after. */
export function windowCounter(existing: Window | undefined, now: number, windowMs: number): Window {
  if (existing && now < existing.start + windowMs) return { ...existing, expiresAt: existing.start + windowMs };
  return { count: 0, start: now, expiresAt: now + windowMs };
}
