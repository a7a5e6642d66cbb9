// Times as the console shows and takes them: instants in UTC on the wire,
// wall-clock dates and times in a chosen IANA zone on screen.

/** browserZone is the zone of the person using the console. */
export function browserZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

/** zones lists the IANA zones the browser knows, UTC first. */
export function zones(): string[] {
  const known = (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf?.("timeZone") ?? [];
  return ["UTC", ...known.filter((z) => z !== "UTC")];
}

/** wallClock is what clocks in zone show at instant, as its fields. */
function wallClock(instant: Date, zone: string): { y: number; mo: number; d: number; h: number; mi: number; s: number } {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(instant);
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? "0");
  return { y: get("year"), mo: get("month"), d: get("day"), h: get("hour") % 24, mi: get("minute"), s: get("second") };
}

/** instantOf is the instant clocks in zone show date ("2026-12-08") and time
 * ("09:00"); null when either is malformed. A time the clocks skip reads as
 * the same distance past the jump, as Crier reads local times. */
export function instantOf(date: string, time: string, zone: string): Date | null {
  const dm = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  const tm = /^(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(time);
  if (!dm || !tm) return null;
  const wall = Date.UTC(+dm[1]!, +dm[2]! - 1, +dm[3]!, +tm[1]!, +tm[2]!, +(tm[3] ?? 0));
  // Two rounds of "how far is the zone from UTC here" settle the offset,
  // also next to a daylight-saving change.
  let guess = wall;
  for (let i = 0; i < 2; i++) {
    const w = wallClock(new Date(guess), zone);
    const shown = Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi, w.s);
    guess += wall - shown;
  }
  return new Date(guess);
}

/** dateAndTimeIn splits instant into the date and time inputs' values in zone. */
export function dateAndTimeIn(instant: Date, zone: string): { date: string; time: string } {
  const w = wallClock(instant, zone);
  const p = (n: number) => String(n).padStart(2, "0");
  return { date: `${w.y}-${p(w.mo)}-${p(w.d)}`, time: `${p(w.h)}:${p(w.mi)}` };
}

/** show writes instant in zone for people: "Tue, 8 Dec 2026, 09:00 CET". */
export function show(instant: string | Date | null | undefined, zone = browserZone()): string {
  if (!instant) return "—";
  const d = typeof instant === "string" ? new Date(instant) : instant;
  return new Intl.DateTimeFormat("en-GB", {
    timeZone: zone, weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short",
  }).format(d);
}

/** relative says how far instant is from now: "in 5 min", "2 h ago". */
export function relative(instant: string | Date | null | undefined, now = Date.now()): string {
  if (!instant) return "";
  const ms = new Date(instant).getTime() - now;
  const abs = Math.abs(ms);
  const units: [number, Intl.RelativeTimeFormatUnit][] = [[86_400_000, "day"], [3_600_000, "hour"], [60_000, "minute"], [1000, "second"]];
  const fmt = new Intl.RelativeTimeFormat("en", { numeric: "auto", style: "short" });
  for (const [size, unit] of units) {
    if (abs >= size || unit === "second") return fmt.format(Math.round(ms / size), unit);
  }
  return "";
}
