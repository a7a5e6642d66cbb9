// Series: recurring broadcasts, one Temporal Schedule each. The list, and a
// series' page with its next occurrences (in UTC and in its zone), the
// broadcasts it made, and pause, resume, trigger and cancel.

import { call, query, type Broadcast, type Page } from "../api.js";
import { base, errorBox, type Context, type Stop } from "../app.js";
import { confirmDialog, confirmThen } from "../confirm.js";
import { announce, h, replace } from "../dom.js";
import { show } from "../time.js";
import { badge, priorityBadge, targetText } from "../view.js";

type SeriesStatus = "ACTIVE" | "PAUSED" | "CANCELLED" | "ENDED";

/** Series is a series as the API answers it: a broadcast's template fields
 * and its recurrence. */
interface Series extends Pick<Broadcast, "id" | "sender" | "title" | "content" | "category" | "priority" | "target" | "created_at"> {
  status: SeriesStatus;
  recurrence: { cron?: string; every?: string; time_zone: string; starts_at?: string | null; ends_at?: string | null; count?: number };
  expires_after: string;
  schedule_id: string;
  occurrences: number;
  last_occurrence_at: string | null;
  skipped: number;
  next_occurrences?: { at: string; local: string }[];
}

const statusWords: Record<SeriesStatus, string> = { ACTIVE: "Active", PAUSED: "Paused", CANCELLED: "Cancelled", ENDED: "Ended" };

function seriesBadge(s: SeriesStatus): HTMLElement {
  return h("span", { class: `badge series-${s.toLowerCase()}`, "data-status": s }, statusWords[s] ?? s);
}

/** when says how often a series recurs, in words. */
function when(s: Series): string {
  const r = s.recurrence;
  const how = r.cron ? `cron ${r.cron}` : `every ${r.every}`;
  const bounds = [r.count ? `${r.count} times` : "", r.ends_at ? `until ${show(r.ends_at, r.time_zone)}` : ""].filter(Boolean).join(", ");
  return `${how} in ${r.time_zone}${bounds ? ` (${bounds})` : ""}`;
}

export function seriesList(main: HTMLElement): Stop | void {
  const tbody = h("tbody");
  const more = h("div", { class: "more" });
  const problem = h("div");
  const load = async (cursor?: string) => {
    try {
      const page = await call<Page<Series>>("GET", `/api/v1/series${query({ limit: "25", cursor })}`);
      tbody.append(...page.items.map((s) => h("tr", null,
        h("td", null, h("a", { href: `${base}/series/${s.id}` }, s.title)),
        h("td", null, seriesBadge(s.status)),
        h("td", null, when(s)),
        h("td", null, targetText(s.target)),
        h("td", null, String(s.occurrences), s.skipped ? h("small", null, `${s.skipped} skipped`) : null),
        h("td", null, s.sender.name))));
      if (!tbody.children.length) tbody.append(h("tr", null, h("td", { colspan: 6 }, "No series yet. Create one with POST /api/v1/series (see the README).")));
      replace(more, page.next_cursor ? h("button", { type: "button", class: "secondary", onclick: () => { void load(page.next_cursor); } }, "Load more") : null);
    } catch (err) {
      replace(problem, errorBox(err));
    }
  };
  replace(main, h("h1", null, "Series"),
    h("p", { class: "help" }, "Recurring broadcasts: each occurrence is an ordinary broadcast, listed under Broadcasts too."),
    problem,
    h("div", { class: "table-wrap" }, h("table", null, h("caption", { class: "visually-hidden" }, "Series, newest first"),
      h("thead", null, h("tr", null, ["Title", "Status", "When", "Audience", "Occurrences", "Sender"].map((c) => h("th", { scope: "col" }, c)))),
      tbody)),
    more);
  void load();
}

export function seriesPage(main: HTMLElement, ctx: Context): Stop | void {
  const id = ctx.params["id"] ?? "";
  const title = h("h1", null, "Series");
  const facts = h("dl", { class: "facts" });
  const actions = h("div", { class: "actions", role: "group", "aria-label": "Actions" });
  const next = h("div");
  const made = h("div");
  const problem = h("div");
  const dialog = confirmDialog();

  const act = async (path: string, body: unknown, done: string) => {
    await call("POST", `/api/v1/series/${id}/${path}`, body);
    announce(done);
    await refresh();
  };
  const render = (s: Series, occurrences: Broadcast[]) => {
    document.title = `${s.title} · Crier`;
    replace(title, s.title, " ", seriesBadge(s.status));
    const ui = ctx.session.temporal_ui;
    const fact = (term: string, ...value: (Node | string)[]) => [h("dt", null, term), h("dd", null, ...value)];
    replace(facts,
      fact("When", when(s)),
      fact("Audience", targetText(s.target)),
      fact("Priority", priorityBadge(s.priority)),
      fact("Category", s.category),
      fact("Each lasts", s.expires_after),
      fact("Made", `${s.occurrences} occurrence${s.occurrences === 1 ? "" : "s"}`, s.skipped ? `, ${s.skipped} skipped` : "", s.last_occurrence_at ? `, the last ${show(s.last_occurrence_at)}` : ""),
      fact("Sender", `${s.sender.name} (${s.sender.id})`),
      fact("Schedule", ui ? h("a", { href: `${ui}/namespaces/${encodeURIComponent(ctx.session.temporal_namespace)}/schedules/${encodeURIComponent(s.schedule_id)}`, "data-external": "", rel: "noopener" }, s.schedule_id) : h("code", null, s.schedule_id)));
    const live = s.status === "ACTIVE" || s.status === "PAUSED";
    const cancelActive = h("input", { type: "checkbox", id: "cancel-active" });
    replace(actions, live ? [
      s.status === "ACTIVE"
        ? h("button", { type: "button", class: "secondary", onclick: () => confirmThen(dialog, { title: "Pause this series?", text: "No occurrence is made while it is paused; resume it to go on.", confirm: "Pause" }, () => act("pause", undefined, "Paused")) }, "Pause…")
        : h("button", { type: "button", class: "secondary", onclick: () => confirmThen(dialog, { title: "Resume this series?", text: "Occurrences are made again from the next one due.", confirm: "Resume" }, () => act("resume", undefined, "Resumed")) }, "Resume…"),
      h("button", { type: "button", class: "secondary", onclick: () => confirmThen(dialog, { title: "Make one occurrence now?", text: "An occurrence is sent now, besides the scheduled ones.", confirm: "Send one now" }, () => act("trigger", undefined, "Triggered")) }, "Trigger now…"),
      h("button", { type: "button", class: "danger", onclick: () => confirmThen(dialog, { title: "Cancel this series?", text: "It makes no more occurrences. This cannot be undone.", confirm: "Cancel series", danger: true,
        extra: h("div", { class: "check" }, cancelActive, h("label", { for: "cancel-active" }, "Also cancel its occurrences still active (those shown are retracted)")) },
        () => act("cancel", { cancel_active: cancelActive.checked }, "Series cancelled")) }, "Cancel…"),
    ] : h("p", { class: "help" }, "This series makes no more occurrences."));
    replace(next, h("h2", null, "Next occurrences"), s.next_occurrences?.length
      ? h("ol", null, s.next_occurrences.map((o) => h("li", null, h("time", { datetime: o.at }, show(o.at, "UTC")), ` · ${show(o.at, s.recurrence.time_zone)} (${s.recurrence.time_zone})`)))
      : h("p", { class: "help" }, live ? "Temporal did not say; try again in a moment." : "None."));
    replace(made, h("h2", null, "Its broadcasts"), occurrences.length
      ? h("div", { class: "table-wrap" }, h("table", null, h("caption", { class: "visually-hidden" }, "Occurrences, newest first"),
        h("thead", null, h("tr", null, ["Occurrence", "Status", "Published"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", null, occurrences.map((b) => h("tr", null,
          h("td", null, h("a", { href: `${base}/broadcasts/${b.id}` }, show(b.occurrence_at ?? b.scheduled_at))),
          h("td", null, badge(b.status)), h("td", null, show(b.published_at)))))))
      : h("p", { class: "help" }, "None yet."));
  };
  const refresh = async () => {
    const s = await call<Series>("GET", `/api/v1/series/${encodeURIComponent(id)}`);
    const occ = await call<Page<Broadcast>>("GET", `/api/v1/series/${encodeURIComponent(id)}/occurrences?limit=20`);
    render(s, occ.items);
    replace(problem);
  };
  replace(main, h("div", { class: "page-head" }, title), problem, facts, actions, next, made, dialog);
  void refresh().catch((err: unknown) => replace(problem, errorBox(err)));
  return () => { if (dialog.open) dialog.close(); };
}
