// One broadcast: what it says and to whom, its timeline (its own times and,
// for admins, the audit log with who did what), how far it got, and the
// actions its status allows, each confirmed first.

import { call, type Broadcast, type Page, type Status } from "../api.js";
import { base, errorBox, repeat, type Context, type Stop } from "../app.js";
import { confirmDialog, confirmThen } from "../confirm.js";
import { announce, h, replace, uid } from "../dom.js";
import { browserZone, dateAndTimeIn, instantOf, show } from "../time.js";
import { badge, preview, priorityBadge, targetText } from "../view.js";

interface AuditEntry { id: number; occurred_at: string; actor: { id: string; name: string }; action: string; request_id?: string }
interface Stats { targeted: number; counted: boolean; delivered: number; read: number; delivery_rate: number; read_rate: number;
  waves?: { at: string; zones: string[]; sent: boolean; targeted: number; delivered: number; read: number }[] }
interface Delivery { user_id: string; status: string; delivered_at: string | null; read_at: string | null }

const pollEvery = 3000;
const terminal: Status[] = ["EXPIRED", "CANCELLED", "FAILED"];

const actionWords: Record<string, string> = {
  "broadcast.create": "Created", "broadcast.schedule": "Scheduled", "broadcast.reschedule": "Rescheduled",
  "broadcast.cancel": "Cancelled", "broadcast.retry": "Retried", "broadcast.signal_refused": "A change was refused",
};

export function detail(main: HTMLElement, ctx: Context): Stop {
  const id = ctx.params["id"] ?? "";
  const { session } = ctx;
  // The heading stays one element (its text changes): focus on it survives.
  const title = h("h1", null, "Broadcast");
  const head = h("div", { class: "page-head" }, title);
  const facts = h("dl", { class: "facts" });
  const actions = h("div", { class: "actions", role: "group", "aria-label": "Actions" });
  const problem = h("div");
  const timeline = h("ol", { class: "timeline", "aria-live": "polite" });
  const stats = h("div", { class: "stats" });
  const deliveries = h("div");
  const previewPane = h("div");
  const dialog = confirmDialog();
  let stopped = false;
  let stopPolling: Stop = () => {};
  let last: Broadcast | undefined;

  const render = (b: Broadcast, entries: AuditEntry[]) => {
    if (last && last.status !== b.status) announce(`Status: ${b.status.replace("_", " ").toLowerCase()}`);
    last = b;
    document.title = `${b.title} · Crier`;
    replace(title, b.title, " ", badge(b.status));
    const wf = session.temporal_ui
      ? h("a", { href: `${session.temporal_ui}/namespaces/${encodeURIComponent(session.temporal_namespace)}/workflows/${encodeURIComponent(b.workflow_id)}`, "data-external": "", rel: "noopener" }, b.workflow_id)
      : h("code", null, b.workflow_id);
    const fact = (term: string, ...value: (Node | string)[]) => [h("dt", null, term), h("dd", null, ...value)];
    replace(facts,
      fact("Audience", targetText(b.target)),
      fact("Priority", priorityBadge(b.priority)),
      fact("Category", b.category),
      fact("Sender", `${b.sender.name} (${b.sender.id})`),
      b.local_time ? fact("Local time", `${b.local_time} in each recipient's zone (else ${b.default_time_zone || "UTC"})`) : [],
      fact("Goes out", show(b.scheduled_at), ...(browserZone() === "UTC" ? [] : [" · ", show(b.scheduled_at, "UTC")])),
      fact("Expires", show(b.expires_at)),
      b.series_id ? fact("Series", h("a", { href: `${base}/series/${b.series_id}` }, b.series_id)) : [],
      b.failure_reason ? fact("Failure", b.failure_reason) : [],
      fact("Workflow", wf));
    renderActions(b);
    renderTimeline(b, entries);
    replace(previewPane, h("h2", null, "As users see it"), preview(b, b.sender.name));
  };

  const renderTimeline = (b: Broadcast, entries: AuditEntry[]) => {
    type Item = { at: string; what: string; who?: string };
    const items: Item[] = [];
    const audited = new Set(entries.map((e) => e.action));
    for (const e of entries) items.push({ at: e.occurred_at, what: actionWords[e.action] ?? e.action, who: e.actor.name || e.actor.id });
    if (!audited.has("broadcast.create")) items.push({ at: b.created_at, what: "Created", who: b.sender.name });
    if (b.published_at) items.push({ at: b.published_at, what: b.waves?.length ? `Published (first of ${b.waves.length} waves)` : "Published to its audience" });
    if (b.cancelled_at) items.push({ at: b.cancelled_at, what: b.published_at ? "Retracted: cancelled after publication, removed from every inbox and open stream" : "Cancelled before publication: nothing was sent" });
    if (b.expired_at) items.push({ at: b.expired_at, what: "Expired: removed from every inbox and open stream" });
    if (!audited.has("broadcast.cancel") && b.cancelled_at) { /* the retraction item above says it */ }
    items.sort((x, y) => x.at.localeCompare(y.at));
    replace(timeline, items.map((i) => h("li", null, h("time", { datetime: i.at }, show(i.at)), " ", h("strong", null, i.what), i.who ? ` by ${i.who}` : "")));
  };

  const allowed = (op: string, s: Status) => (session.lifecycle[op] ?? []).includes(s);
  const renderActions = (b: Broadcast) => {
    const buttons: HTMLElement[] = [];
    if (allowed("cancel", b.status)) {
      buttons.push(h("button", { type: "button", class: "danger", onclick: () => confirmThen(dialog, {
        title: "Cancel this broadcast?",
        text: b.published_at ? "It is taken out of every inbox and open stream at once. This cannot be undone." : "It will not be sent. This cannot be undone.",
        confirm: "Cancel broadcast", danger: true }, () => act(`/api/v1/broadcasts/${b.id}/cancel`, undefined, "Cancelled")) }, "Cancel…"));
    }
    if (session.admin && allowed("reschedule", b.status)) buttons.push(timeButton(b, "Reschedule…", "reschedule", "Rescheduled"));
    if (session.admin && allowed("schedule", b.status)) buttons.push(timeButton(b, "Schedule…", "schedule", "Scheduled"));
    if (session.admin && allowed("retry", b.status)) {
      buttons.push(h("button", { type: "button", onclick: () => confirmThen(dialog, { title: "Retry this broadcast?",
        text: "It is scheduled again and its workflow starts a new run; users get it once.", confirm: "Retry" },
        () => act(`/api/v1/broadcasts/${b.id}/retry`, {}, "Retried")) }, "Retry…"));
    }
    replace(actions, buttons.length ? buttons : h("p", { class: "help" }, terminal.includes(b.status) ? "Nothing more can be done with this broadcast." : ""));
  };

  const timeButton = (b: Broadcast, label: string, op: string, done: string) => h("button", { type: "button", onclick: () => {
    const zone = browserZone();
    const start = dateAndTimeIn(b.scheduled_at && new Date(b.scheduled_at) > new Date() ? new Date(b.scheduled_at) : new Date(Date.now() + 3_600_000), zone);
    const dateID = uid("date");
    const timeID = uid("time");
    const date = h("input", { id: dateID, type: "date", value: start.date, required: true });
    const time = h("input", { id: timeID, type: "time", value: start.time, required: true, step: 1 });
    const fields = h("div", { class: "row" }, h("div", { class: "field" }, h("label", { for: dateID }, "Date"), date),
      h("div", { class: "field" }, h("label", { for: timeID }, `Time (${zone})`), time));
    confirmThen(dialog, { title: `${label.replace("…", "")} “${b.title}”`, text: "The new time, in your time zone:", confirm: label.replace("…", ""), extra: fields }, () => {
      const at = instantOf(date.value, time.value, zone);
      return act(`/api/v1/broadcasts/${b.id}/${op}`, { scheduled_at: at?.toISOString() }, done);
    });
  } }, label);

  const act = async (path: string, body: unknown, done: string) => {
    await call("POST", path, body);
    announce(done);
    await refresh();
  };

  const renderStats = (s: Stats) => {
    const bar = (label: string, n: number, of: number) => {
      const pct = of > 0 ? Math.min(100, Math.round((n / of) * 100)) : 0;
      return h("div", { class: "bar" }, h("span", { class: "bar-label" }, label),
        h("span", { class: "bar-track", role: "img", "aria-label": `${label}: ${n} of ${of} (${pct}%)` }, fill(pct)),
        h("span", { class: "bar-value" }, `${n.toLocaleString()}${of ? ` (${pct}%)` : ""}`));
    };
    replace(stats, h("h2", null, "Reach"),
      s.counted ? null : h("p", { class: "help" }, "The audience is counted when the broadcast is published."),
      h("div", { class: "numbers" },
        h("div", null, h("span", { class: "number" }, s.targeted.toLocaleString()), " targeted"),
        h("div", null, h("span", { class: "number" }, s.delivered.toLocaleString()), " delivered"),
        h("div", null, h("span", { class: "number" }, s.read.toLocaleString()), " read")),
      bar("Delivered", s.delivered, s.targeted), bar("Read", s.read, s.targeted),
      s.waves?.length ? h("table", null, h("caption", null, "Waves"),
        h("thead", null, h("tr", null, ["At", "Zones", "Sent", "Targeted", "Delivered", "Read"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", null, s.waves.map((w) => h("tr", null, h("td", null, show(w.at)), h("td", null, w.zones.join(", ") || "default zone"),
          h("td", null, w.sent ? "yes" : "not yet"), h("td", null, String(w.targeted)), h("td", null, String(w.delivered)), h("td", null, String(w.read)))))) : null);
  };

  const renderDeliveries = (items: Delivery[], targeted: number) => {
    const times = items.flatMap((d) => [d.delivered_at, d.read_at].filter((t): t is string => !!t).map((t) => new Date(t).getTime()));
    replace(deliveries, h("h2", null, "Deliveries"),
      items.length ? [chart(items, times, targeted), h("div", { class: "table-wrap" }, h("table", null,
        h("caption", { class: "visually-hidden" }, "Deliveries, by user"),
        h("thead", null, h("tr", null, ["User", "Status", "Delivered", "Read"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", null, items.slice(0, 50).map((d) => h("tr", null, h("td", null, d.user_id), h("td", null, d.status.toLowerCase()),
          h("td", null, show(d.delivered_at)), h("td", null, d.read_at ? show(d.read_at) : "—"))))))] : h("p", { class: "help" }, "No deliveries yet."));
  };

  // Each part is drawn again only when what it shows changed, so a
  // keyboard user's focus (on an action, in the table) survives the polling.
  const shown: Record<string, string> = {};
  const changed = (part: string, data: unknown) => {
    const key = JSON.stringify(data);
    if (shown[part] === key) return false;
    shown[part] = key;
    return true;
  };
  const refresh = async () => {
    const b = await call<Broadcast>("GET", `/api/v1/broadcasts/${encodeURIComponent(id)}`);
    const entries = session.admin
      ? (await call<Page<AuditEntry>>("GET", `/api/v1/audit?target_type=broadcast&target_id=${b.id}&limit=50`)).items : [];
    if (changed("broadcast", [b, entries])) render(b, entries);
    if (session.admin) {
      const st = await call<Stats>("GET", `/api/v1/broadcasts/${b.id}/stats`);
      if (changed("stats", st)) renderStats(st);
      const ds = await loadDeliveries(b.id);
      if (changed("deliveries", [ds, st.targeted])) renderDeliveries(ds, st.targeted);
    }
    replace(problem);
  };

  replace(main, head, problem, h("div", { class: "detail-grid" },
    h("section", { "aria-label": "Details" }, facts, actions, h("h2", null, "Timeline"), timeline),
    h("section", { "aria-label": "Preview" }, previewPane)),
    h("section", { "aria-label": "Reach" }, stats), h("section", { "aria-label": "Deliveries" }, deliveries), dialog);
  const ready = (async () => {
    try { await refresh(); } catch (err) {
      replace(problem, errorBox(err));
      return;
    }
    if (!stopped) stopPolling = repeat(pollEvery, refresh, (err) => replace(problem, errorBox(err)), () => !(last && terminal.includes(last.status)));
  })();
  void ready;
  return () => { stopped = true; stopPolling(); if (dialog.open) dialog.close(); };
}

/** fill is a bar's filled part; its width is set through the CSSOM, which
 * the console's Content-Security-Policy allows (a style attribute it
 * would not). */
function fill(pct: number): HTMLElement {
  const el = h("span", { class: "bar-fill" });
  el.style.width = `${pct}%`;
  return el;
}

/** loadDeliveries reads up to 500 deliveries, for the chart and the table. */
async function loadDeliveries(id: string): Promise<Delivery[]> {
  const out: Delivery[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 5; i++) {
    const page = await call<Page<Delivery>>("GET", `/api/v1/broadcasts/${id}/deliveries?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    out.push(...page.items);
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  return out;
}

/** chart draws delivered and read over time, cumulative steps out of the
 * audience (targeted), as an SVG with a text alternative. */
function chart(items: Delivery[], times: number[], targeted: number): Element {
  const ns = "http://www.w3.org/2000/svg";
  const w = 600, hgt = 180, left = 44, right = 12, top = 12, bottom = 28;
  const lo = Math.min(...times), hi = Math.max(...times, lo + 1000);
  const most = Math.max(1, targeted, items.length);
  const x = (t: number) => left + ((t - lo) / (hi - lo)) * (w - left - right);
  const y = (n: number) => hgt - bottom - (n / most) * (hgt - top - bottom);
  const steps = (at: (d: Delivery) => string | null) => {
    const ts = items.map(at).filter((t): t is string => !!t).map((t) => new Date(t).getTime()).sort((a, b) => a - b);
    let d = `M${x(lo).toFixed(1)},${y(0).toFixed(1)}`;
    ts.forEach((t, i) => { d += ` H${x(t).toFixed(1)} V${y(i + 1).toFixed(1)}`; });
    return `${d} H${x(hi).toFixed(1)}`;
  };
  const el = (tag: string, attrs: Record<string, string>, text?: string) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text) e.textContent = text;
    return e;
  };
  const read = items.filter((d) => d.read_at).length;
  const svg = el("svg", { viewBox: `0 0 ${w} ${hgt}`, class: "chart", role: "img",
    "aria-label": `Over time: ${items.length} delivered and ${read} read of ${targeted} targeted, between ${show(new Date(lo))} and ${show(new Date(hi))}` });
  svg.append(
    el("path", { d: `M${left},${top} V${hgt - bottom} H${w - right}`, class: "axis" }),
    el("text", { x: String(left - 6), y: String(y(most) + 4), "text-anchor": "end" }, most.toLocaleString()),
    el("text", { x: String(left - 6), y: String(y(0) + 4), "text-anchor": "end" }, "0"),
    el("text", { x: String(left), y: String(hgt - 8) }, clock(lo)),
    el("text", { x: String(w - right), y: String(hgt - 8), "text-anchor": "end" }, clock(hi)),
    el("path", { d: steps((d) => d.delivered_at), class: "line delivered" }),
    el("path", { d: steps((d) => d.read_at), class: "line read" }));
  return h("figure", null, svg, h("figcaption", null, h("span", { class: "key delivered" }, "delivered"), " and ",
    h("span", { class: "key read" }, "read"), `, cumulative, of ${targeted.toLocaleString()} targeted`));
}

/** clock is an instant's time of day, to the second, in the viewer's zone. */
function clock(t: number): string {
  return new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit" }).format(new Date(t));
}
