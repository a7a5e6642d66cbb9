// The broadcasts: filtered, paged, and kept current while the page is open
// (the first page is read again every few seconds, so a broadcast that
// turns SENT shows it without a reload).

import { call, query, type Broadcast, type Page } from "../api.js";
import { base, errorBox, repeat, type Context, type Stop } from "../app.js";
import { announce, h, replace, uid } from "../dom.js";
import { relative, show } from "../time.js";
import { badge, priorities, priorityBadge, statuses, targetText } from "../view.js";

const pollEvery = 2000;
const filterKeys = ["status", "q", "category", "priority", "sender", "series_id"] as const;

export function list(main: HTMLElement, ctx: Context): Stop {
  const filters = Object.fromEntries(filterKeys.map((k) => [k, ctx.query.get(k) ?? ""])) as Record<(typeof filterKeys)[number], string>;
  const tbody = h("tbody");
  const more = h("div", { class: "more" });
  const problem = h("div");
  const count = h("p", { class: "help", "aria-live": "polite" });
  const rows = new Map<string, HTMLTableRowElement>();
  // What each row shows, so a refresh redraws only rows that changed (and a
  // keyboard user's focus on a row's link survives the polling).
  const drawn = new Map<string, string>();
  let next: string | undefined;
  let stopped = false;

  const field = (key: (typeof filterKeys)[number], label: string, control: HTMLInputElement | HTMLSelectElement) => {
    const id = uid(key);
    control.id = id;
    control.name = key;
    control.value = filters[key];
    return h("div", { class: "field" }, h("label", { for: id }, label), control);
  };
  const select = (options: readonly string[], any: string) =>
    h("select", null, h("option", { value: "" }, any), options.map((o) => h("option", { value: o }, o.replace("_", " "))));
  const form = h("form", { class: "filters", role: "search", "aria-label": "Filter broadcasts" },
    field("q", "Search", h("input", { type: "search", placeholder: "Title or content" })),
    field("status", "Status", select(statuses, "Any status")),
    field("priority", "Priority", select(priorities, "Any priority")),
    field("category", "Category", h("input", { type: "text", placeholder: "e.g. ops" })),
    ctx.session.admin ? field("sender", "Sender", h("input", { type: "text", placeholder: "Sender id" })) : null,
    field("series_id", "Series", h("input", { type: "text", placeholder: "Series id" })),
    h("div", { class: "field actions" }, h("button", { type: "submit" }, "Filter"),
      h("a", { href: `${base}/`, class: "button secondary" }, "Clear")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    const q: Record<string, string> = {};
    for (const k of filterKeys) q[k] = String(data.get(k) ?? "").trim();
    ctx.go(`${base}/${query(q)}`);
  });

  const row = (b: Broadcast): HTMLTableRowElement => {
    const when = b.published_at ?? b.scheduled_at;
    return h("tr", { "data-id": b.id },
      h("td", null, h("a", { href: `${base}/broadcasts/${b.id}` }, b.title)),
      h("td", { class: "status-cell" }, badge(b.status)),
      h("td", null, priorityBadge(b.priority)),
      h("td", null, b.category),
      h("td", null, targetText(b.target)),
      h("td", null, when ? h("time", { datetime: when, title: show(when, "UTC") }, show(when), h("small", null, " ", relative(when))) : "Not scheduled"),
      ctx.session.admin ? h("td", null, b.sender.name) : null);
  };

  const load = async (cursor?: string): Promise<Page<Broadcast>> =>
    call<Page<Broadcast>>("GET", `/api/v1/broadcasts${query({ ...filters, limit: "25", cursor })}`);

  const fill = (page: Page<Broadcast>) => {
    for (const b of page.items) {
      const r = row(b);
      rows.set(b.id, r);
      drawn.set(b.id, JSON.stringify(b));
      tbody.append(r);
    }
    next = page.next_cursor;
    replace(more, next ? h("button", { type: "button", class: "secondary", onclick: () => { void loadMore(); } }, "Load more") : null);
    replace(count, rows.size === 0 ? "No broadcast matches." : `${rows.size} shown${next ? ", more below" : ""}.`);
  };
  const loadMore = async () => {
    try { fill(await load(next)); } catch (err) { replace(problem, errorBox(err)); }
  };

  // Refresh: the first page again; rows already shown are updated in
  // place, new ones are put on top, and each change of status is announced.
  const refresh = async () => {
    const page = await load();
    const fresh: HTMLTableRowElement[] = [];
    for (const b of page.items) {
      const old = rows.get(b.id);
      const key = JSON.stringify(b);
      if (old && drawn.get(b.id) === key) continue;
      drawn.set(b.id, key);
      const r = row(b);
      if (!old) {
        fresh.push(r);
      } else {
        const was = old.querySelector<HTMLElement>("[data-status]")?.dataset["status"];
        if (was !== b.status) announce(`${b.title}: ${b.status.replace("_", " ").toLowerCase()}`);
        old.replaceWith(r);
      }
      rows.set(b.id, r);
    }
    tbody.prepend(...fresh);
    replace(problem);
  };

  replace(main,
    h("div", { class: "page-head" }, h("h1", null, "Broadcasts"), h("a", { class: "button", href: `${base}/broadcasts/new` }, "Compose")),
    form, problem, count,
    h("div", { class: "table-wrap" }, h("table", { class: "broadcasts" },
      h("caption", { class: "visually-hidden" }, "Broadcasts, newest first; statuses update live"),
      h("thead", null, h("tr", null, ["Title", "Status", "Priority", "Category", "Audience", "Time"].map((c) => h("th", { scope: "col" }, c)),
        ctx.session.admin ? h("th", { scope: "col" }, "Sender") : null)),
      tbody)),
    more);

  let stopPolling: Stop = () => {};
  void (async () => {
    try { fill(await load()); } catch (err) { replace(problem, errorBox(err)); }
    if (!stopped) stopPolling = repeat(pollEvery, refresh, (err) => replace(problem, errorBox(err)));
  })();
  return () => { stopped = true; stopPolling(); };
}
