// Compose: every field of POST /api/v1/broadcasts, the audience it reaches
// counted before sending, the time shown in UTC and in the admin's own
// zone, a preview as users will see it, and the API's field errors beside
// their fields.

import { ApiError, call, type Broadcast, type Priority, type Target, type TargetType } from "../api.js";
import { base, errorBox, type Context, type Stop } from "../app.js";
import { announce, h, replace, uid } from "../dom.js";
import { Fields } from "../form.js";
import { browserZone, dateAndTimeIn, instantOf, show, zones } from "../time.js";
import { preview, priorities } from "../view.js";

type When = "now" | "at" | "local" | "repeat" | "draft";

interface User { id: string; name: string; roles: string[]; time_zone?: string }
interface RoleCount { role: string; users: number }

export function compose(main: HTMLElement, ctx: Context): Stop {
  const f = new Fields();
  const zone = browserZone();
  const zoneList = h("datalist", { id: uid("zones") }, zones().map((z) => h("option", { value: z })));
  const zoneInput = (value: string) => h("input", { type: "text", list: zoneList.id, value, autocomplete: "off", spellcheck: "false" });
  const radio = (name: string, value: string, label: string, checked = false) => {
    const id = uid(name);
    return h("div", { class: "radio" }, h("input", { type: "radio", id, name, value, checked }), h("label", { for: id }, label));
  };

  // What it says.
  const title = h("input", { type: "text", maxlength: 200, required: true, autocomplete: "off" });
  const content = h("textarea", { rows: 6, required: true });
  const category = h("input", { type: "text", maxlength: 64, placeholder: "general", autocomplete: "off" });
  const priority = h("select", null, priorities.map((p) => h("option", { value: p, selected: p === "NORMAL" }, p.charAt(0) + p.slice(1).toLowerCase())));
  const counter = h("span", { class: "counter", "aria-live": "off" });

  // To whom.
  const audience = h("fieldset", { class: "audience" }, h("legend", null, "Audience"),
    radio("target", "ALL", "Everyone", true), radio("target", "ROLE", "Users with a role"), radio("target", "SELECTED", "Selected users"));
  const roles = new Chips("Roles", "Add a role", "e.g. ops");
  const users = new Chips("Users", "Add a user", "Search by name or id");
  const userResults = h("ul", { class: "search-results", "aria-label": "Matching users" });
  const reach = h("p", { class: "reach", "aria-live": "polite" });
  const rolePane = h("div", { class: "picker", hidden: true }, f.field("target.roles", "Roles", roles.input, "Press Enter to add each role."), roles.list);
  const userPane = h("div", { class: "picker", hidden: true }, f.field("target.users", "Users", users.input, "Type to search the user directory; press Enter to add an id as typed."), userResults, users.list);
  audience.append(rolePane, userPane, reach);
  f.group("target", audience, audience.querySelector("input") as HTMLElement);

  // When.
  const when = h("fieldset", { class: "when" }, h("legend", null, "When"),
    radio("when", "now", "Send now", true), radio("when", "at", "Schedule"), radio("when", "local", "At each recipient's local time"),
    radio("when", "repeat", "Repeat: a series"), radio("when", "draft", "Save as draft"));
  const later = dateAndTimeIn(new Date(Date.now() + 3_600_000), zone);
  const date = h("input", { type: "date", value: later.date });
  const time = h("input", { type: "time", value: later.time, step: 1 });
  const atZone = zoneInput(zone);
  const instant = h("p", { class: "instant", "aria-live": "polite" });
  const atPane = h("div", { class: "row", hidden: true },
    f.field("scheduled_at", "Date", date), f.field("scheduled_at.time", "Time", time), f.field("scheduled_at.zone", "Time zone", atZone));
  const defaultZone = zoneInput("UTC");
  const localPane = h("div", { class: "row", hidden: true },
    f.field("local_time", "Their local date", h("input", { type: "date", value: later.date })),
    f.field("local_time.time", "Their local time", h("input", { type: "time", value: "09:00" })),
    f.field("default_time_zone", "Zone of those whose zone is unknown", defaultZone));
  // A series: the same message on a recurrence (POST /api/v1/series).
  const cron = h("input", { type: "text", placeholder: "0 9 * * MON-FRI", autocomplete: "off", spellcheck: "false" });
  const every = h("input", { type: "text", placeholder: "6h", autocomplete: "off" });
  const repeatZone = zoneInput(zone);
  const count = h("input", { type: "number", min: 1, inputmode: "numeric" });
  const lasts = h("input", { type: "text", value: "24h", autocomplete: "off" });
  const repeatPane = h("fieldset", { hidden: true }, h("legend", null, "Recurrence"),
    h("div", { class: "row" },
      f.field("recurrence.cron", "Cron", cron, "Minute, hour, day, month, weekday."),
      f.field("recurrence.every", "Or every", every, "An interval such as 6h or 30m."),
      f.field("recurrence.time_zone", "Its time zone", repeatZone)),
    h("div", { class: "row" },
      f.field("recurrence.count", "Times (empty: no end)", count),
      f.field("expires_after", "Each lasts", lasts, "From 1m to 8784h.")));
  f.group("recurrence", repeatPane, cron); // errors about the recurrence as a whole
  when.append(atPane, localPane, repeatPane, instant);
  f.group("when", when, when.querySelector("input") as HTMLElement);

  // Until when, and within which hours.
  const expDate = h("input", { type: "date" });
  const expTime = h("input", { type: "time" });
  const windowOn = h("input", { type: "checkbox", id: uid("window") });
  const days = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"].map((d) => {
    const id = uid("day");
    return { d, box: h("input", { type: "checkbox", id, value: d, checked: true }), id };
  });
  const winFrom = h("input", { type: "time", value: "08:00" });
  const winTo = h("input", { type: "time", value: "18:00" });
  const winZone = zoneInput(zone);
  const windowPane = h("div", { hidden: true },
    h("fieldset", { class: "days" }, h("legend", null, "Days"), days.map(({ d, box, id }) => h("span", { class: "day" }, box, h("label", { for: id }, d)))),
    h("div", { class: "row" }, f.field("delivery_window.from", "From", winFrom), f.field("delivery_window.to", "To", winTo), f.field("delivery_window.time_zone", "Time zone", winZone)));

  const expiry = h("fieldset", null, h("legend", null, "Expiry"), h("p", { class: "help" }, "Empty: 30 days after it goes out."), h("div", { class: "row" },
    f.field("expires_at", "Date", expDate), f.field("expires_at.time", "Time", expTime)));
  const submit = h("button", { type: "submit" }, "Send now");
  const status = h("div");
  const previewPane = h("div", { class: "preview-pane" });

  const targetType = () => (audience.querySelector<HTMLInputElement>("input[name=target]:checked")?.value ?? "ALL") as TargetType;
  const whenValue = () => (when.querySelector<HTMLInputElement>("input[name=when]:checked")?.value ?? "now") as When;
  const localInputs = localPane.querySelectorAll("input");

  const target = (): Target => {
    const t = targetType();
    return t === "ALL" ? { type: t } : { type: t, ids: t === "ROLE" ? roles.values : users.values };
  };
  const scheduledAt = (): Date | null => {
    try { return instantOf(date.value, time.value, atZone.value.trim()); } catch { return null; } // RangeError: unknown zone
  };

  const update = () => {
    const t = targetType();
    rolePane.hidden = t !== "ROLE";
    userPane.hidden = t !== "SELECTED";
    const w = whenValue();
    atPane.hidden = w !== "at";
    localPane.hidden = w !== "local";
    repeatPane.hidden = w !== "repeat";
    expiry.hidden = w === "repeat"; // a series' occurrences last "Each lasts"
    submit.textContent = { now: "Send now", at: "Schedule", local: "Schedule", repeat: "Start the series", draft: "Save draft" }[w];
    if (w === "at") {
      const at = scheduledAt();
      replace(instant, at ? [h("strong", null, "Goes out "), show(at, "UTC"), " · your time ", show(at, zone)] : "Pick a date, a time and a known time zone.");
    } else if (w === "repeat") {
      replace(instant, "Each occurrence is an ordinary broadcast, sent at its time in the zone you name (daylight saving included).");
    } else if (w === "local") {
      replace(instant, "Each recipient gets it when their own clock shows this time; those whose zone is unknown in the zone you name.");
    } else {
      replace(instant);
    }
    windowPane.hidden = !windowOn.checked;
    counter.textContent = `${new TextEncoder().encode(content.value).length.toLocaleString()} of 65,536 bytes`;
    replace(previewPane, h("h2", null, "Preview"),
      preview({ title: title.value.trim(), content: content.value, category: category.value.trim() || "general", priority: priority.value as Priority }, ctx.session.name ?? ""));
  };

  // The audience's size, counted by Crier for the target as it stands.
  let countTimer = 0;
  let counted = "";
  const countReach = () => {
    window.clearTimeout(countTimer);
    countTimer = window.setTimeout(async () => {
      const t = target();
      const key = JSON.stringify(t);
      if (key === counted) return;
      counted = key;
      if (t.type !== "ALL" && !(t.ids ?? []).length) { reach.textContent = "Add at least one to see whom it reaches."; return; }
      try {
        const { count } = await call<{ count: number }>("POST", "/api/v1/audience/count", { target: t });
        if (counted === key) reach.textContent = `Reaches ${count.toLocaleString()} user${count === 1 ? "" : "s"} in the directory.`;
      } catch (err) {
        reach.textContent = err instanceof ApiError ? `Cannot count yet: ${err.problem.errors?.[0]?.message ?? err.problem.detail}` : "";
      }
    }, 300);
  };
  roles.onChange = users.onChange = countReach;

  // The user directory, searched as the admin types.
  let searchTimer = 0;
  users.input.addEventListener("input", () => {
    window.clearTimeout(searchTimer);
    searchTimer = window.setTimeout(async () => {
      const q = users.input.value.trim();
      if (!q) { replace(userResults); return; }
      try {
        const page = await call<{ items: User[] }>("GET", `/api/v1/users?q=${encodeURIComponent(q)}&limit=8`);
        replace(userResults, page.items.map((u) => h("li", null, h("button", { type: "button", class: "link", onclick: () => { users.add(u.id); replace(userResults); users.input.focus(); } },
          `${u.name} (${u.id})`))));
        if (!page.items.length) replace(userResults, h("li", { class: "help" }, "No user matches; press Enter to add the id as typed."));
      } catch { replace(userResults); }
    }, 250);
  });
  void call<{ items: RoleCount[] }>("GET", "/api/v1/roles").then((page) => roles.suggest(page.items.map((r) => [r.role, `${r.role} (${r.users})`]))).catch(() => {});

  const body = (): Record<string, unknown> | null => {
    const b: Record<string, unknown> = {
      title: title.value, content: content.value, category: category.value, priority: priority.value, target: target(),
    };
    const w = whenValue();
    if (w === "at") {
      const at = scheduledAt();
      if (!at) return null;
      b["scheduled_at"] = at.toISOString();
    }
    if (w === "local") {
      b["local_time"] = `${localInputs[0]!.value}T${localInputs[1]!.value}`;
      b["default_time_zone"] = defaultZone.value.trim();
    }
    if (w === "draft") b["draft"] = true;
    if (w === "repeat") {
      const r: Record<string, unknown> = { time_zone: repeatZone.value.trim() };
      if (cron.value.trim()) r["cron"] = cron.value.trim();
      if (every.value.trim()) r["every"] = every.value.trim();
      if (count.value) r["count"] = Number(count.value);
      b["recurrence"] = r;
      b["expires_after"] = lasts.value.trim();
    }
    if (expDate.value && w !== "repeat") {
      const z = w === "at" ? atZone.value.trim() : zone;
      const exp = instantOf(expDate.value, expTime.value || "00:00", z);
      if (exp) b["expires_at"] = exp.toISOString();
    }
    if (windowOn.checked) {
      b["delivery_window"] = { days: days.filter((d) => d.box.checked).map((d) => d.d), from: winFrom.value, to: winTo.value, time_zone: winZone.value.trim() };
    }
    return b;
  };

  const form = h("form", { class: "compose", novalidate: true },
    f.summary,
    h("div", { class: "compose-grid" },
      h("div", { class: "compose-fields" },
        f.field("title", "Title", title),
        f.field("content", "Content", content, counter),
        h("div", { class: "row" }, f.field("category", "Category", category), f.field("priority", "Priority", priority)),
        audience, when,
        expiry,
        h("div", { class: "check" }, windowOn, h("label", { for: windowOn.id }, "Only deliver within a send window")),
        windowPane,
        status,
        h("div", { class: "form-actions" }, submit, h("a", { class: "button secondary", href: `${base}/` }, "Cancel"))),
      previewPane),
    zoneList);

  form.addEventListener("input", () => { update(); countReach(); });
  form.addEventListener("change", () => { update(); countReach(); });
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void (async () => {
      f.clear();
      replace(status);
      const b = body();
      if (!b) {
        f.show(new ApiError(422, { type: "about:blank", title: "Unprocessable Entity", status: 422, detail: "",
          errors: [{ field: "scheduled_at.zone", message: "pick a date, a time and a known IANA time zone such as Europe/Berlin" }] }));
        return;
      }
      submit.disabled = true;
      try {
        if (whenValue() === "repeat") {
          const created = await call<{ id: string; title: string }>("POST", "/api/v1/series", b, { "Idempotency-Key": idempotencyKey });
          announce(`Series started: ${created.title}`);
          ctx.go(`${base}/series/${created.id}`);
          return;
        }
        const created = await call<Broadcast>("POST", "/api/v1/broadcasts", b, { "Idempotency-Key": idempotencyKey });
        announce(`Created: ${created.title}, ${created.status.toLowerCase()}`);
        ctx.go(`${base}/broadcasts/${created.id}`);
      } catch (err) {
        if (err instanceof ApiError && err.status === 422 && err.problem.errors?.length) f.show(err);
        else replace(status, errorBox(err));
      } finally {
        submit.disabled = false;
      }
    })();
  });
  // One key per composed broadcast: a double click or a retry after a lost
  // answer creates it once.
  let idempotencyKey = crypto.randomUUID();
  form.addEventListener("input", () => { idempotencyKey = crypto.randomUUID(); });

  replace(main, h("h1", null, "Compose a broadcast"), form);
  update();
  countReach();
  return () => { window.clearTimeout(countTimer); window.clearTimeout(searchTimer); };
}

/** Chips is a list of values picked one by one (roles, user ids), each
 * removable by a button that says what it removes. */
class Chips {
  readonly input: HTMLInputElement;
  readonly list: HTMLUListElement;
  private readonly suggestions: HTMLDataListElement;
  private items: string[] = [];
  onChange: () => void = () => {};

  constructor(private readonly what: string, addLabel: string, placeholder: string) {
    this.suggestions = h("datalist", { id: uid("suggest") });
    this.input = h("input", { type: "text", placeholder, autocomplete: "off", list: this.suggestions.id, "aria-label": addLabel });
    this.list = h("ul", { class: "chips", "aria-label": what });
    this.input.addEventListener("keydown", (ev) => {
      if (ev.key !== "Enter") return;
      ev.preventDefault();
      this.add(this.input.value);
    });
    // Enter adds, never submits the form: stopped at keypress too, where
    // browsers submit forms implicitly.
    this.input.addEventListener("keypress", (ev) => { if (ev.key === "Enter") ev.preventDefault(); });
    this.input.after(this.suggestions);
  }

  get values(): string[] { return [...this.items]; }

  suggest(options: [string, string][]): void {
    replace(this.suggestions, options.map(([value, label]) => h("option", { value }, label)));
    this.input.after(this.suggestions);
  }

  add(raw: string): void {
    const v = raw.trim();
    this.input.value = "";
    if (!v || this.items.includes(v)) return;
    this.items.push(v);
    this.render();
    announce(`Added ${v}`);
  }

  private render(): void {
    replace(this.list, this.items.map((v) => h("li", null, h("span", null, v),
      h("button", { type: "button", class: "chip-remove", "aria-label": `Remove ${v} from ${this.what.toLowerCase()}`, onclick: () => {
        this.items = this.items.filter((x) => x !== v);
        this.render();
        announce(`Removed ${v}`);
        this.input.focus();
      } }, "×"))));
    this.onChange();
  }
}
