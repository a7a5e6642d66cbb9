// The audit log: every recorded change, newest first, filtered as the API
// filters it (the filters kept in the address), paged. Each entry opens to
// its target as the API showed it before and after the change.

import { call, query, type Page } from "../api.js";
import { base, busy, errorBox, type Context, type Stop } from "../app.js";
import { h, replace, uid, type Child } from "../dom.js";
import { show } from "../time.js";

interface AuditEntry {
  id: number;
  occurred_at: string;
  actor: { id: string; name: string; roles: string[] };
  action: string;
  target_type: string;
  target_id?: string;
  request_id?: string;
  client_request_id?: string;
  before: unknown;
  after: unknown;
  detail: Record<string, unknown> | null;
}

// openapi.yaml's AuditTargetType and AuditAction: the API refuses others.
const targetTypes: Record<string, string> = { broadcast: "Broadcast", user: "User", dead_letter: "Dead letter", series: "Series" };
const actions = [
  "broadcast.create", "broadcast.schedule", "broadcast.reschedule", "broadcast.cancel", "broadcast.signal_refused", "broadcast.retry",
  "user.upsert", "user.import", "dead_letter.redrive", "dead_letter.drop",
  "series.create", "series.update", "series.pause", "series.resume", "series.trigger", "series.cancel", "series.occurrence_skipped",
];
const filterKeys = ["target_type", "target_id", "actor", "action"] as const;
const pageSize = "50";

export function audit(main: HTMLElement, ctx: Context): Stop | void {
  const filters = Object.fromEntries(filterKeys.map((k) => [k, ctx.query.get(k) ?? ""])) as Record<(typeof filterKeys)[number], string>;
  const tbody = h("tbody");
  const problem = h("div");
  const shownText = h("p", { class: "help", "aria-live": "polite" });
  const captionID = uid("audit-caption");
  const wrap = h("div", { class: "table-wrap", role: "region", "aria-labelledby": captionID, tabindex: "0" }, h("table", { class: "audit" },
    h("caption", { id: captionID, class: "visually-hidden" }, "Audit log, newest first"),
    h("thead", null, h("tr", null, ["Time", "Actor", "Action", "Target", "Request", "Change"].map((c) => h("th", { scope: "col" }, c)))),
    tbody));
  // One button for every page, so focus on it survives loading the next.
  const more = h("button", { type: "button", class: "secondary", hidden: true, onclick: () => { void loadMore(); } }, "Load more");
  let next: string | undefined;
  let shown = 0;
  let stopped = false;

  const field = (key: (typeof filterKeys)[number], label: string, control: HTMLInputElement | HTMLSelectElement) => {
    control.id = uid(key);
    control.name = key;
    control.value = filters[key];
    return h("div", { class: "field" }, h("label", { for: control.id }, label), control);
  };
  // A value from the address the list lacks stays an option: the form shows
  // what was asked (and the API's 400 says why it is refused).
  const select = (options: [string, string][], any: string, current: string) =>
    h("select", null, h("option", { value: "" }, any),
      current && !options.some(([v]) => v === current) ? h("option", { value: current }, current) : null,
      options.map(([v, label]) => h("option", { value: v }, label)));
  const form = h("form", { class: "filters", role: "search", "aria-label": "Filter the audit log" },
    field("target_type", "Target type", select(Object.entries(targetTypes), "Any target", filters.target_type)),
    field("target_id", "Target id", h("input", { type: "text", placeholder: "Broadcast, user, dead letter or series id", autocomplete: "off" })),
    field("actor", "Actor", h("input", { type: "text", placeholder: "Token subject", autocomplete: "off" })),
    field("action", "Action", select(actions.map((a) => [a, a]), "Any action", filters.action)),
    h("div", { class: "field actions" }, h("button", { type: "submit" }, "Filter"),
      h("a", { href: `${base}/audit`, class: "button secondary" }, "Clear")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    const q: Record<string, string> = {};
    for (const k of filterKeys) q[k] = String(data.get(k) ?? "").trim();
    ctx.go(`${base}/audit${query(q)}`);
  });

  const row = (e: AuditEntry) => h("tr", null,
    h("td", null, h("time", { datetime: e.occurred_at, title: show(e.occurred_at, "UTC") }, show(e.occurred_at))),
    h("td", null, e.actor.name || e.actor.id, e.actor.name ? h("small", null, e.actor.id) : null),
    h("td", null, e.action),
    h("td", null, target(e)),
    h("td", { class: "request-id" }, e.request_id ?? "—"),
    h("td", null, change(e)));

  const load = (cursor?: string) => call<Page<AuditEntry>>("GET", `/api/v1/audit${query({ ...filters, limit: pageSize, cursor })}`);
  const fill = (page: Page<AuditEntry>) => {
    for (const e of page.items) tbody.append(row(e));
    shown += page.items.length;
    next = page.next_cursor || undefined;
    const hadFocus = document.activeElement === more;
    more.hidden = !next;
    if (hadFocus && more.hidden) wrap.focus();
    const filtered = filterKeys.some((k) => filters[k]);
    replace(shownText, shown === 0 ? (filtered ? "No entry matches." : "Nothing is recorded yet.") : `${shown.toLocaleString("en-US")} shown${next ? ", more below" : ""}.`);
  };
  const loadMore = async () => {
    await busy(more, async () => {
      try {
        const page = await load(next);
        if (!stopped) fill(page);
      } catch (err) {
        replace(problem, errorBox(err));
      }
    });
  };

  replace(main, h("h1", null, "Audit log"), form, problem, shownText, wrap, h("div", { class: "more" }, more));
  void (async () => {
    try {
      const page = await load();
      if (!stopped) fill(page);
    } catch (err) {
      replace(problem, errorBox(err));
    }
  })();
  return () => { stopped = true; };
}

/** target names what the entry changed: a broadcast (or series) by its
 * title, linking to its page; a user by name; the rest by id. */
function target(e: AuditEntry): Child {
  const kind = targetTypes[e.target_type] ?? e.target_type;
  if (!e.target_id) {
    // An import's summary: no single target, its counts in detail.
    const d = e.detail ?? {};
    const counts = [typeof d["imported"] === "number" ? `${d["imported"].toLocaleString("en-US")} imported` : "",
      typeof d["roles_changed"] === "number" ? `${d["roles_changed"].toLocaleString("en-US")} roles changed` : ""].filter(Boolean).join(", ");
    return [e.action === "user.import" ? "User import" : kind, counts ? h("small", null, counts) : null];
  }
  const seen = asObject(e.after) ?? asObject(e.before);
  const title = typeof seen?.["title"] === "string" ? seen["title"] : typeof seen?.["name"] === "string" ? seen["name"] : "";
  const label = title || e.target_id;
  const id = encodeURIComponent(e.target_id);
  const href = e.target_type === "broadcast" ? `${base}/broadcasts/${id}` : e.target_type === "series" ? `${base}/series/${id}` : "";
  return [href ? h("a", { href }, label) : label, h("small", null, title ? `${kind} ${e.target_id}` : kind)];
}

/** change is the entry's before and after, drawn when first opened (a
 * page of broadcasts' JSON is long). */
function change(e: AuditEntry): HTMLDetailsElement {
  const body = h("div", { class: "audit-change" });
  const details = h("details", { class: "change" },
    h("summary", null, "Before and after", h("span", { class: "visually-hidden" }, ` of entry ${e.id}`)), body);
  details.addEventListener("toggle", () => {
    if (!details.open || body.hasChildNodes()) return;
    const keys = changedKeys(e.before, e.after);
    replace(body,
      keys ? h("p", null, h("strong", null, "Changed: "), keys.length ? keys.join(", ") : "nothing the API shows") : null,
      json("Before", e.before, e.action.endsWith(".create") ? "None: this created it." : "None."),
      json("After", e.after, "None."),
      e.detail !== null && e.detail !== undefined ? json("Detail", e.detail, "") : null,
      e.client_request_id ? h("p", { class: "help" }, "The client's request id: ", h("code", null, e.client_request_id)) : null);
  });
  return details;
}

/** json shows v pretty-printed, as text, under label. */
function json(label: string, v: unknown, none: string): HTMLElement {
  return h("figure", { class: "json" }, h("figcaption", null, label),
    v === null || v === undefined ? h("p", { class: "help" }, none) : h("pre", null, JSON.stringify(v, null, 2)));
}

/** changedKeys lists the top-level fields that differ between two objects;
 * undefined unless both are objects. */
function changedKeys(before: unknown, after: unknown): string[] | undefined {
  const b = asObject(before);
  const a = asObject(after);
  if (!b || !a) return undefined;
  const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])];
  return keys.filter((k) => JSON.stringify(b[k]) !== JSON.stringify(a[k]));
}

function asObject(v: unknown): Record<string, unknown> | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : undefined;
}
