// Dead letters: messages a Kafka consumer could not process, filtered by
// consumer and status (kept in the address), paged. Each opens to its
// message; a PENDING or FAILED one can be redriven or dropped, each asked
// first. A redriven one is watched until its consumer records the outcome.

import { call, query, type Page } from "../api.js";
import { base, busy, errorBox, type Context, type Stop } from "../app.js";
import { confirmDialog, confirmThen } from "../confirm.js";
import { announce, h, replace, uid, type Child } from "../dom.js";
import { show } from "../time.js";

type Status = "PENDING" | "REDRIVING" | "RESOLVED" | "FAILED" | "DROPPED";

interface DeadLetter {
  id: string;
  consumer: string;
  status: Status;
  topic: string;
  partition: number;
  offset: number;
  reason: string;
  error: string;
  attempts: number;
  redrives: number;
  created_at: string;
  updated_at: string;
  failed_at: string;
  resolved_at: string | null;
  dropped_at: string | null;
  message?: { encoding: "utf-8" | "base64"; key: string; value: string; headers: { key: string; value: string }[] };
}

// openapi.yaml's DeadLetterStatus and DeadLetterReason, in words.
const statusWords: Record<Status, string> = { PENDING: "Pending", REDRIVING: "Redriving", RESOLVED: "Resolved", FAILED: "Failed", DROPPED: "Dropped" };
const statuses = Object.keys(statusWords) as Status[];
const reasonWords: Record<string, string> = {
  undecodable: "Not an event", unknown_type: "Unknown event type", invalid_event: "Invalid event", data: "Data refused", panic: "A bug (panic)",
};
const consumers = ["audience", "stream-tail"];
const pageSize = "25";
const watchEvery = 3000;
const errorShown = 160;

/** actionable: only these can be redriven or dropped (else a 409). */
const actionable = (s: Status) => s === "PENDING" || s === "FAILED";
const short = (id: string) => id.slice(0, 8);

interface Row { tr: HTMLTableRowElement; letter: DeadLetter; set: (l: DeadLetter) => void }

export function deadLetters(main: HTMLElement, ctx: Context): Stop | void {
  const consumer = ctx.query.get("consumer") ?? "";
  const wanted = ctx.query.getAll("status").flatMap((s) => s.split(",")).map((s) => s.trim().toUpperCase()).filter(Boolean);
  const tbody = h("tbody");
  const problem = h("div");
  const shownText = h("p", { class: "help", "aria-live": "polite" });
  const dialog = confirmDialog();
  const captionID = uid("dead-letters-caption");
  const wrap = h("div", { class: "table-wrap", role: "region", "aria-labelledby": captionID, tabindex: "0" }, h("table", { class: "dead-letters" },
    h("caption", { id: captionID, class: "visually-hidden" }, "Dead letters, newest first"),
    h("thead", null, h("tr", null, ["Failed", "Consumer", "Status", "Reason", "Where", "Attempts", "Error", "Message", "Actions"].map((c) => h("th", { scope: "col" }, c)))),
    tbody));
  // One button for every page, so focus on it survives loading the next.
  const more = h("button", { type: "button", class: "secondary", hidden: true, onclick: () => { void loadMore(); } }, "Load more");
  const rows = new Map<string, Row>();
  let next: string | undefined;
  let stopped = false;
  let timer = 0;

  const consumerID = uid("consumer");
  const consumerSelect = h("select", { id: consumerID, name: "consumer" }, h("option", { value: "" }, "Any consumer"),
    consumer && !consumers.includes(consumer) ? h("option", { value: consumer }, consumer) : null,
    consumers.map((c) => h("option", { value: c }, c)));
  consumerSelect.value = consumer;
  const boxes = statuses.map((s) => {
    const id = uid("status");
    const box = h("input", { type: "checkbox", id, name: "status", value: s, checked: wanted.includes(s) });
    return h("div", { class: "check" }, box, h("label", { for: id }, statusWords[s]));
  });
  const form = h("form", { class: "filters", role: "search", "aria-label": "Filter dead letters" },
    h("div", { class: "field" }, h("label", { for: consumerID }, "Consumer"), consumerSelect),
    h("fieldset", { class: "checks" }, h("legend", null, "Status (any when none is ticked)"), h("div", { class: "check-list" }, boxes)),
    h("div", { class: "field actions" }, h("button", { type: "submit" }, "Filter"),
      h("a", { href: `${base}/dead-letters`, class: "button secondary" }, "Clear")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    ctx.go(`${base}/dead-letters${query({ consumer: String(data.get("consumer") ?? ""), status: data.getAll("status").map(String) })}`);
  });

  const row = (first: DeadLetter): Row => {
    const cells = { failed: h("td"), consumer: h("td"), status: h("td"), reason: h("td"), where: h("td"), attempts: h("td"), error: h("td", { class: "error-text" }), actions: h("td") };
    const body = h("div", { class: "dead-letter-message" });
    let drawn = ""; // the updated_at the open message shows
    const details = h("details", { class: "change" }, h("summary", null, "Message", h("span", { class: "visually-hidden" }, ` of dead letter ${first.id}`)), body);
    // The message is read when first opened (the list leaves it out), and
    // again when the dead letter changed since.
    const open = async () => {
      const at = r.letter.updated_at;
      drawn = at;
      replace(body, h("p", { class: "help" }, "Reading the message…"));
      try {
        const full = await call<DeadLetter>("GET", `/api/v1/dead-letters/${encodeURIComponent(first.id)}`);
        if (drawn === at) replace(body, message(full));
      } catch (err) {
        drawn = "";
        replace(body, errorBox(err));
      }
    };
    details.addEventListener("toggle", () => { if (details.open && drawn !== r.letter.updated_at) void open(); });
    const tr = h("tr", { "data-id": first.id }, cells.failed, cells.consumer, cells.status, cells.reason, cells.where, cells.attempts, cells.error, h("td", null, details), cells.actions);
    // set redraws the cells in place, the message's too, so an open message
    // and focus on its summary survive a change of status.
    const r: Row = { tr, letter: first, set: (l) => {
      r.letter = l;
      replace(cells.failed, h("time", { datetime: l.failed_at, title: show(l.failed_at, "UTC") }, show(l.failed_at)));
      replace(cells.consumer, l.consumer);
      replace(cells.status, h("span", { class: `badge dl-${l.status.toLowerCase()}`, "data-status": l.status }, statusWords[l.status] ?? l.status));
      replace(cells.reason, reasonWords[l.reason] ?? l.reason, h("small", null, l.reason));
      replace(cells.where, l.topic, h("small", null, `partition ${l.partition}, offset ${l.offset}`));
      replace(cells.attempts, String(l.attempts), h("small", null, l.redrives === 1 ? "1 redrive" : `${l.redrives} redrives`));
      replace(cells.error, l.error.length > errorShown ? `${l.error.slice(0, errorShown)}…` : l.error || "—");
      replace(cells.actions, actions(l));
      if (details.open && drawn !== l.updated_at) void open();
    } };
    r.set(first);
    return r;
  };

  const actions = (l: DeadLetter): Child => {
    if (!actionable(l.status)) return h("span", { class: "help" }, l.status === "REDRIVING" ? "Waiting for its consumer" : "—");
    const which = h("span", { class: "visually-hidden" }, ` dead letter ${short(l.id)}`);
    return h("div", { class: "row-actions" },
      h("button", { type: "button", class: "secondary", onclick: () => redrive(l) }, "Redrive…", which),
      h("button", { type: "button", class: "danger", onclick: () => drop(l) }, "Drop…", which.cloneNode(true)));
  };

  // After an action took its button away, focus goes to the same row's
  // message (still there), not to the top of the page.
  const inRow = (id: string) => () => rows.get(id)?.tr.querySelector<HTMLElement>("summary") ?? null;
  const redrive = (l: DeadLetter) => confirmThen(dialog, {
    title: "Redrive this dead letter?",
    text: `Its message goes to ${l.topic} once more, for the ${l.consumer} consumer only, which processes it as any message (its event applies at most once) and records the outcome here: resolved, or failed with the new error.`,
    confirm: "Redrive", decline: "Not now", fallback: inRow(l.id),
  }, async () => {
    const after = await call<DeadLetter>("POST", `/api/v1/dead-letters/${encodeURIComponent(l.id)}/redrive`);
    rows.get(l.id)?.set(after);
    await refresh();
    announce(`Dead letter ${short(l.id)} redriven: waiting for its consumer`);
  });
  const drop = (l: DeadLetter) => confirmThen(dialog, {
    title: "Drop this dead letter?",
    text: "Crier gives up on it: it stays here as dropped, for the record, and its message stays on the dead-letter topic. A dropped dead letter cannot be redriven.",
    confirm: "Drop", danger: true, fallback: inRow(l.id),
  }, async () => {
    const after = await call<DeadLetter>("DELETE", `/api/v1/dead-letters/${encodeURIComponent(l.id)}`);
    rows.get(l.id)?.set(after);
    await refresh();
    announce(`Dead letter ${short(l.id)} dropped`);
  });

  const load = (cursor?: string) =>
    call<Page<DeadLetter>>("GET", `/api/v1/dead-letters${query({ consumer, status: wanted, limit: pageSize, cursor })}`);
  const counted = () => {
    const filtered = consumer || wanted.length;
    replace(shownText, rows.size === 0 ? (filtered ? "No dead letter matches." : "No dead letters: every message was processed.")
      : `${rows.size.toLocaleString("en-US")} shown${next ? ", more below" : ""}.`);
  };
  const fill = (page: Page<DeadLetter>) => {
    for (const l of page.items) {
      if (rows.has(l.id)) continue; // put on top by a refresh already
      const r = row(l);
      rows.set(l.id, r);
      tbody.append(r.tr);
    }
    next = page.next_cursor || undefined;
    const hadFocus = document.activeElement === more;
    more.hidden = !next;
    if (hadFocus && more.hidden) wrap.focus();
    counted();
    watch();
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

  // refresh reads the first page again: rows shown are redrawn in place
  // when they changed, new ones go on top. Its own fault shows on the page,
  // not in the dialog: the action itself was done.
  const refresh = async () => {
    try {
      const page = await load();
      if (stopped) return;
      const fresh: HTMLTableRowElement[] = [];
      for (const l of page.items) {
        const r = rows.get(l.id);
        if (!r) {
          const nr = row(l);
          rows.set(l.id, nr);
          fresh.push(nr.tr);
        } else if (JSON.stringify(r.letter) !== JSON.stringify(l)) {
          r.set(l);
        }
      }
      tbody.prepend(...fresh);
      replace(problem);
      counted();
      watch();
    } catch (err) {
      replace(problem, errorBox(err));
    }
  };

  // watch reads each REDRIVING dead letter shown every few seconds until
  // its consumer has recorded the outcome, and says what it was.
  const watch = () => {
    window.clearTimeout(timer);
    if (stopped || ![...rows.values()].some((r) => r.letter.status === "REDRIVING")) return;
    timer = window.setTimeout(async () => {
      const said: string[] = [];
      for (const r of [...rows.values()].filter((x) => x.letter.status === "REDRIVING").slice(0, 10)) {
        try {
          const { message: _, ...l } = await call<DeadLetter>("GET", `/api/v1/dead-letters/${encodeURIComponent(r.letter.id)}`);
          if (stopped) return;
          if (l.status !== r.letter.status) said.push(`Dead letter ${short(l.id)}: ${l.status === "RESOLVED" ? "resolved" : l.status === "FAILED" ? "failed again" : statusWords[l.status].toLowerCase()}`);
          if (JSON.stringify(l) !== JSON.stringify(r.letter)) r.set(l);
        } catch (err) {
          replace(problem, errorBox(err));
          break;
        }
      }
      if (said.length) announce(said.join(". "));
      watch();
    }, watchEvery);
  };

  replace(main, h("h1", null, "Dead letters"), form, problem, shownText, wrap, h("div", { class: "more" }, more), dialog);
  void (async () => {
    try {
      const page = await load();
      if (!stopped) fill(page);
    } catch (err) {
      replace(problem, errorBox(err));
    }
  })();
  return () => { stopped = true; window.clearTimeout(timer); if (dialog.open) dialog.close(); };
}

/** message shows a dead letter whole: its message as its consumer read it
 * (JSON pretty-printed), the full error and its times. */
function message(l: DeadLetter): Child[] {
  const m = l.message;
  const fact = (term: string, ...value: Child[]) => [h("dt", null, term), h("dd", null, ...value)];
  return [
    h("dl", { class: "facts" },
      fact("Id", h("code", null, l.id)),
      fact("First failed", show(l.created_at)),
      fact("Last failed", show(l.failed_at)),
      l.resolved_at ? fact("Resolved", show(l.resolved_at)) : [],
      l.dropped_at ? fact("Dropped", show(l.dropped_at)) : [],
      m ? fact("Encoding", m.encoding === "base64" ? "base64 (some of it is not text)" : "UTF-8 text") : [],
      m ? fact("Key", m.key ? h("code", null, m.key) : "none") : []),
    h("figure", { class: "json" }, h("figcaption", null, "Error"), h("pre", null, l.error || "—")),
    m ? h("figure", { class: "json" }, h("figcaption", null, "Value"), h("pre", null, pretty(m.value, m.encoding))) : h("p", { class: "help" }, "No message was kept."),
    m && m.headers.length ? h("figure", { class: "json" }, h("figcaption", null, "Headers"),
      h("dl", { class: "facts" }, m.headers.map((x) => fact(x.key, h("code", null, x.value))))) : null,
  ];
}

/** pretty is a message's value for reading: JSON indented, else as it is. */
function pretty(value: string, encoding: string): string {
  if (encoding !== "utf-8") return value;
  try { return JSON.stringify(JSON.parse(value), null, 2); } catch { return value; }
}
