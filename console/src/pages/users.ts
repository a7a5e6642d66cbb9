// The user directory: searched by id or name, filtered by role, paged. For
// admins, an import: a CSV or JSON file (or pasted text) is read in the
// browser first, so every fault shows at its line before anything is sent;
// then it goes in batches, each all or nothing, so a large file shows its
// progress and a refused batch points at its own lines.

import { ApiError, call, query, type Page } from "../api.js";
import { base, busy, errorBox, type Context, type Stop } from "../app.js";
import { announce, h, replace, uid } from "../dom.js";

interface User { id: string; name: string; roles: string[]; source: "admin" | "token"; time_zone: string; created_at: string; updated_at: string }
interface RoleCount { role: string; users: number }
/** UserImportEntry is one user of POST /api/v1/users/import. */
interface UserImportEntry { id: string; name?: string; roles?: string[] | null; time_zone?: string }

/** Read is a file (or pasted text) read as users: each user's line in it,
 * and the faults of the lines that could not be read. */
interface Read { source: string; entries: UserImportEntry[]; lines: number[]; faults: Fault[]; repeated: number }
interface Fault { line: number; message: string }

// Well under the API's 100,000 users and 32 MiB a request: a batch of the
// largest users allowed is about 7 MB, and progress moves often enough.
const batchSize = 1000;
const pageSize = "50";
const faultsShown = 100;
const filterKeys = ["q", "role"] as const;

/** count writes a quantity as the console's English does: 12,000. */
const count = (n: number) => n.toLocaleString("en-US");
const plural = (n: number, one: string, many = `${one}s`) => `${count(n)} ${n === 1 ? one : many}`;

export function users(main: HTMLElement, ctx: Context): Stop | void {
  let filters = Object.fromEntries(filterKeys.map((k) => [k, ctx.query.get(k) ?? ""])) as Record<(typeof filterKeys)[number], string>;
  const tbody = h("tbody");
  const problem = h("div");
  const shownText = h("p", { class: "help", "aria-live": "polite" });
  const captionID = uid("users-caption");
  // The table scrolls sideways on a phone: a region that takes the focus,
  // so a keyboard can scroll it (its cells hold nothing focusable).
  const wrap = h("div", { class: "table-wrap", role: "region", "aria-labelledby": captionID, tabindex: "0" }, h("table", { class: "users" },
    h("caption", { id: captionID, class: "visually-hidden" }, "Users, by id"),
    h("thead", null, h("tr", null, ["Id", "Name", "Roles", "Time zone"].map((c) => h("th", { scope: "col" }, c)))),
    tbody));
  // One button for every page, so focus on it survives loading the next.
  const more = h("button", { type: "button", class: "secondary", hidden: true, onclick: () => { void loadMore(); } }, "Load more");
  let next: string | undefined;
  let shown = 0;
  let generation = 0; // a newer search makes an older one's late answer moot
  let stopped = false;

  const searchID = uid("q");
  const roleID = uid("role");
  const search = h("input", { id: searchID, name: "q", type: "search", maxlength: 200, placeholder: "Id or name", autocomplete: "off" });
  search.value = filters.q;
  const roleSelect = h("select", { id: roleID, name: "role" });
  // The role asked for stays an option even when the list of roles (at most
  // 1,000, or not read) lacks it, so the form shows what the table shows.
  const fillRoles = (roles: RoleCount[]) => {
    const keep = roleSelect.value || filters.role;
    replace(roleSelect, h("option", { value: "" }, "Any role"),
      keep && !roles.some((r) => r.role === keep) ? h("option", { value: keep }, keep) : null,
      roles.map((r) => h("option", { value: r.role }, `${r.role} (${plural(r.users, "user")})`)));
    roleSelect.value = keep;
  };
  fillRoles([]);
  // Without the roles the select offers none, and says so; the list works.
  const rolesProblem = h("div");
  const loadRoles = async () => {
    try {
      fillRoles((await call<{ items: RoleCount[] }>("GET", "/api/v1/roles")).items);
      replace(rolesProblem);
    } catch (err) {
      replace(rolesProblem, errorBox(err));
    }
  };

  // Searching stays on the page (the address follows, as a link would set
  // it; Back shows the search before): leaving the page would stop an
  // import under way.
  const apply = (q: string, role: string) => {
    filters = { q, role };
    const path = `${base}/users${query(filters)}`;
    if (location.pathname + location.search !== path) history.pushState(null, "", path);
    void reload();
  };
  const form = h("form", { class: "filters", role: "search", "aria-label": "Filter users" },
    h("div", { class: "field" }, h("label", { for: searchID }, "Search"), search),
    h("div", { class: "field" }, h("label", { for: roleID }, "Role"), roleSelect),
    h("div", { class: "field actions" }, h("button", { type: "submit" }, "Filter"),
      h("button", { type: "button", class: "secondary", onclick: () => { search.value = ""; roleSelect.value = ""; apply("", ""); } }, "Clear")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    apply(search.value.trim(), roleSelect.value);
  });

  const row = (u: User) => h("tr", null,
    h("td", { class: "user-id" }, u.id),
    h("td", null, u.name || "—"),
    h("td", null, u.roles.length ? u.roles.join(", ") : "—"),
    h("td", null, u.time_zone || "—"));

  const load = (cursor?: string) => call<Page<User>>("GET", `/api/v1/users${query({ ...filters, limit: pageSize, cursor })}`);
  const fill = (page: Page<User>) => {
    for (const u of page.items) tbody.append(row(u));
    shown += page.items.length;
    next = page.next_cursor || undefined;
    const hadFocus = document.activeElement === more;
    more.hidden = !next;
    if (hadFocus && more.hidden) wrap.focus(); // the last page: focus stays near what it loaded
    replace(shownText, shown === 0 ? (filters.q || filters.role ? "No user matches." : "The directory is empty.") : `${plural(shown, "user")} shown${next ? ", more below" : ""}.`);
  };
  const reload = async () => {
    const mine = ++generation;
    try {
      const page = await load();
      if (mine !== generation || stopped) return;
      replace(tbody);
      shown = 0;
      replace(problem);
      fill(page);
    } catch (err) {
      if (mine === generation) replace(problem, errorBox(err));
    }
  };
  const loadMore = async () => {
    const mine = generation;
    await busy(more, async () => {
      try {
        const page = await load(next);
        if (mine === generation && !stopped) fill(page);
      } catch (err) {
        replace(problem, errorBox(err));
      }
    });
  };
  const importer = ctx.session.admin ? importPane(() => { void reload(); void loadRoles(); }) : null;

  replace(main,
    h("h1", null, "Users"),
    form, rolesProblem, problem, shownText, wrap, h("div", { class: "more" }, more),
    importer?.el ?? null);
  void reload();
  void loadRoles();
  return () => { stopped = true; generation++; importer?.stop(); };
}

/** importPane is the import: a file or pasted text, read and checked, then
 * sent in batches; onDone runs after a complete import. */
function importPane(onDone: () => void): { el: HTMLElement; stop: () => void } {
  const headingID = uid("import-title");
  const fileID = uid("users-file");
  const textID = uid("users-text");
  const progressID = uid("import-progress");
  const file = h("input", { id: fileID, type: "file", accept: ".csv,.ndjson,.json,.jsonl", "aria-describedby": `${fileID}-help` });
  const text = h("textarea", { id: textID, rows: 6, spellcheck: "false", autocomplete: "off", "aria-describedby": `${textID}-help`,
    placeholder: "id,name,roles,time_zone\nada,Ada Lovelace,ops;oncall,Europe/London" });
  const summary = h("p", { class: "import-summary", "aria-live": "polite" });
  const faultList = h("div");
  const submit = h("button", { type: "submit", disabled: true }, "Import");
  const progress = h("progress", { id: progressID, max: 1, value: 0 });
  const progressText = h("p", { class: "counter" });
  const progressPane = h("div", { class: "import-progress", hidden: true, tabindex: "-1" }, h("label", { for: progressID }, "Import progress"), progress, progressText);
  const result = h("div", { class: "import-result", tabindex: "-1" });
  let read: Read | undefined;
  let seq = 0; // a later choice of file or text makes an earlier read moot
  let timer = 0;
  let running = false;
  let stopped = false;

  const showRead = (r: Read | undefined) => {
    read = r;
    replace(faultList);
    submit.disabled = !r || r.faults.length > 0 || r.entries.length === 0;
    submit.textContent = r && !submit.disabled ? `Import ${plural(r.entries.length, "user")}` : "Import";
    if (!r) { replace(summary); return; }
    const repeated = r.repeated ? ` ${plural(r.repeated, "id appears", "ids appear")} more than once: the last entry of each wins.` : "";
    if (!r.faults.length) {
      replace(summary, r.entries.length ? `${plural(r.entries.length, "user")} read from ${r.source}.${repeated}` : `No users in ${r.source}.`);
      return;
    }
    const lines = new Set(r.faults.map((f) => f.line)).size;
    replace(summary, `${plural(r.entries.length, "user")} read from ${r.source}, but ${plural(lines, "line")} cannot be: `,
      "fix ", lines === 1 ? "it" : "them", r.source === pasted ? " in the text" : " and choose the file again", ". Nothing is sent until every line reads.");
    replace(faultList, h("ul", { class: "faults", "aria-label": `Lines of ${r.source} that cannot be read` },
      r.faults.slice(0, faultsShown).map((f) => h("li", null, h("strong", null, `Line ${f.line}`), `: ${f.message}`))),
      r.faults.length > faultsShown ? h("p", { class: "help" }, `and ${plural(r.faults.length - faultsShown, "more fault")}.`) : null);
  };

  const readFile = () => {
    const f = file.files?.[0];
    if (!f) { readText(); return; }
    const mine = ++seq;
    replace(summary, `Reading ${f.name}…`);
    f.text().then((t) => {
      if (mine !== seq) return;
      const r = readUsers(t, f.name, kindOf(f.name));
      showRead(r);
      if (r.faults.length) file.value = ""; // choosing the mended file again is then a change
    },
      (err: unknown) => { if (mine === seq) { showRead(undefined); replace(faultList, errorBox(err)); } });
  };
  const readText = () => {
    seq++;
    if (text.value.trim()) showRead(readUsers(text.value, pasted));
    else if (file.files?.[0]) readFile(); // back to the file chosen
    else showRead(undefined);
  };
  file.addEventListener("change", () => { replace(result); readFile(); });
  text.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => { replace(result); readText(); }, 300);
  });

  // Leaving the page (or closing it) stops the import after the batch
  // under way: the browser asks first.
  const guard = (ev: BeforeUnloadEvent) => { ev.preventDefault(); };
  const busy = (on: boolean) => {
    running = on;
    file.disabled = text.disabled = submit.disabled = on;
    if (on) window.addEventListener("beforeunload", guard);
    else window.removeEventListener("beforeunload", guard);
  };

  // run sends r's users from entry from on (0, or the start of a batch a
  // passing fault refused: the batches before it are in).
  const run = async (r: Read, from = 0) => {
    const total = r.entries.length;
    let done = from;
    // The button pressed is disabled (or, to try again, goes): focus moves
    // to the progress, which says how far the import is.
    const moveFocus = document.activeElement === submit || result.contains(document.activeElement);
    busy(true);
    replace(result);
    progress.max = total;
    progress.value = done;
    progressText.textContent = `Imported ${count(done)} of ${count(total)}`;
    progressPane.hidden = false;
    if (moveFocus) progressPane.focus();
    for (let start = from; start < total; start += batchSize) {
      const batch = r.entries.slice(start, start + batchSize);
      try {
        await call<{ imported: number }>("POST", "/api/v1/users/import", batch);
      } catch (err) {
        busy(false);
        showRead(r);
        refused(r, start, batch.length, done, err);
        return;
      }
      done += batch.length;
      progress.value = done;
      progressText.textContent = `Imported ${count(done)} of ${count(total)}`;
      if (stopped && done < total) {
        announce(`The user import stopped when you left the page: ${count(done)} of ${count(total)} imported`);
        busy(false);
        return;
      }
    }
    busy(false);
    showRead(r);
    replace(result, h("p", { class: "import-done" }, h("strong", null, "Done. "), `Imported ${count(done)} of ${count(total)} users from ${r.source}.`));
    announce(`Imported ${plural(done, "user")} from ${r.source}`);
    onDone();
  };

  // refused says which batch was refused and why, each field fault at its
  // line: the API names entries of the batch ("[3].id"), the file has lines.
  const refused = (r: Read, start: number, size: number, done: number, err: unknown) => {
    const total = r.entries.length;
    const batches = Math.ceil(total / batchSize);
    const number = start / batchSize + 1;
    const at = (i: number) => r.lines[start + i];
    const fieldFaults = err instanceof ApiError ? err.problem.errors ?? [] : [];
    const items = fieldFaults.map((e) => {
      const m = /^\[(\d+)\]\.?(.*)$/.exec(e.field);
      if (!m) return h("li", null, `${e.field}: ${e.message}`);
      const i = Number(m[1]);
      const id = r.entries[start + i]?.id;
      return h("li", null, h("strong", null, `Line ${at(i) ?? "?"}`), `${id ? ` (${id})` : ""}${m[2] ? `, ${m[2]}` : ""}: ${e.message}`);
    });
    // A 400 names the entry it could not read in its detail: "user [3]".
    const named = err instanceof ApiError ? /user \[(\d+)\]/.exec(err.problem.detail ?? "") : null;
    const more = err instanceof ApiError ? err.problem.more_errors : undefined;
    // No answer, too many requests or a dependency down may pass: the same
    // batch can go again. Anything else is the data's: it needs mending.
    const passing = !(err instanceof ApiError) || err.status === 0 || err.status === 429 || err.status >= 500;
    if (!passing) {
      submit.disabled = true;
      if (r.source !== pasted) file.value = "";
    }
    replace(result,
      h("h3", null, "The import stopped"),
      h("p", null, `Batch ${number} of ${batches} (lines ${at(0)}–${at(size - 1)}) was refused, so none of its users was imported. `,
        done ? `${count(done)} of ${count(total)} users were imported before it` : `Nothing was imported`,
        number < batches ? "; the batches after it were not sent." : "."),
      items.length ? h("ul", { class: "faults" }, items) : null,
      more ? h("p", { class: "help" }, `and ${plural(more, "more fault")} in this batch.`) : null,
      named ? h("p", null, `user [${named[1]}] is line ${at(Number(named[1])) ?? "?"} of ${r.source}.`) : null,
      errorBox(err),
      passing
        ? h("div", { class: "form-actions" }, h("button", { type: "button", onclick: () => { void run(r, start); } }, `Try again from batch ${number}`))
        : h("p", null, r.source === pasted ? "Mend the text above to import again." : `Mend ${r.source} and choose it again to import.`));
    result.focus();
    announce(`The import stopped at batch ${number}: ${count(done)} of ${count(total)} users imported`);
  };

  const form = h("form", { novalidate: true, "aria-labelledby": headingID },
    h("div", { class: "field" }, h("label", { for: fileID }, "Users file"),
      h("p", { class: "help", id: `${fileID}-help` }, "CSV with a header row of id,name,roles,time_zone (roles separated by ; or | in their cell), NDJSON (one JSON user a line) or a JSON array."),
      file),
    h("div", { class: "field" }, h("label", { for: textID }, "Or paste users"),
      h("p", { class: "help", id: `${textID}-help` }, "The same formats: CSV with its header row, or JSON."),
      text),
    summary, faultList,
    h("div", { class: "form-actions" }, submit),
    progressPane, result);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (read && !running && !read.faults.length && read.entries.length) void run(read);
  });

  const el = h("section", { class: "card import", "aria-labelledby": headingID },
    h("h2", { id: headingID }, "Import users"),
    h("p", { class: "help" }, "Each user is set whole, as an admin's entry: a name, roles or time zone left out is stored empty. ",
      `The users go ${count(batchSize)} at a time, each batch all or nothing.`),
    form);
  return { el, stop: () => { stopped = true; window.clearTimeout(timer); window.removeEventListener("beforeunload", guard); } };
}

const pasted = "the pasted text";

/** kindOf is the format a file's name says, if it says one. */
function kindOf(name: string): "csv" | "json" | undefined {
  const ext = name.toLowerCase().split(".").pop() ?? "";
  if (ext === "csv") return "csv";
  if (["json", "jsonl", "ndjson"].includes(ext)) return "json";
  return undefined;
}

/** readUsers reads text as users: CSV, or JSON (an array, or one object a
 * line), as kind says or, without it, as the text starts. */
function readUsers(raw: string, source: string, kind?: "csv" | "json"): Read {
  const text = raw.replace(/^\uFEFF/, "");
  const first = text.trimStart().charAt(0);
  const got = (kind ?? (first === "[" || first === "{" ? "json" : "csv")) === "csv" ? readCSV(text) : readJSON(text);
  got.faults.sort((a, b) => a.line - b.line);
  const ids = new Set(got.entries.map((e) => e.id.trim()));
  return { source, ...got, repeated: got.entries.length - ids.size };
}

type Got = Omit<Read, "source" | "repeated">;

/** check finds what the API would refuse in a user, before it is sent
 * (openapi.yaml's UserImportEntry; lengths in characters, after trimming). */
function check(e: UserImportEntry): string[] {
  const out: string[] = [];
  const chars = (s: string) => [...s.trim()].length;
  const nul = (s: string) => s.includes("\u0000");
  const id = e.id.trim();
  if (!id) out.push("the id is empty: every user needs one");
  else if (chars(id) > 256) out.push(`the id is ${count(chars(id))} characters long, more than 256`);
  if (nul(e.id)) out.push("the id holds a NUL character");
  if (e.name !== undefined && chars(e.name) > 200) out.push(`the name is ${count(chars(e.name))} characters long, more than 200`);
  if (e.name !== undefined && nul(e.name)) out.push("the name holds a NUL character");
  const roles = e.roles ?? [];
  if (roles.length > 100) out.push(`${count(roles.length)} roles, more than 100`);
  roles.forEach((r, i) => {
    if (!r.trim()) out.push(`role ${i + 1} is empty`);
    else if (chars(r) > 64) out.push(`the role “${r.trim().slice(0, 20)}…” is ${chars(r)} characters long, more than 64`);
    if (nul(r)) out.push(`role ${i + 1} holds a NUL character`);
  });
  if (e.time_zone !== undefined && chars(e.time_zone) > 64) out.push("the time zone is longer than 64 characters: it is an IANA name like Europe/Berlin");
  return out;
}

/** add keeps e, read at line, or its faults. */
function add(got: Got, e: UserImportEntry, line: number): void {
  const faults = check(e);
  if (faults.length) {
    for (const message of faults) got.faults.push({ line, message });
    return;
  }
  got.entries.push(e);
  got.lines.push(line);
}

const headerNames: Record<string, keyof UserImportEntry> = { id: "id", name: "name", roles: "roles", time_zone: "time_zone", timezone: "time_zone" };

/** readCSV reads CSV with a header row naming its columns (id, and any of
 * name, roles, time_zone, in any order). */
function readCSV(text: string): Got {
  const got: Got = { entries: [], lines: [], faults: [] };
  // The separator is the header's: a comma, or a tab or semicolon (how some
  // spreadsheets write "CSV"). Roles then still split on ; or |.
  const header = /^[^\r\n]*/.exec(text)?.[0] ?? "";
  const sep = header.includes(",") ? "," : header.includes("\t") ? "\t" : header.includes(";") ? ";" : ",";
  const { rows, fault } = csvRows(text, sep);
  if (fault) got.faults.push(fault);
  const head = rows[0];
  if (!head) return got;
  const columns: (keyof UserImportEntry)[] = [];
  for (const raw of head.fields) {
    const key = headerNames[raw.trim().toLowerCase().replace(/[\s-]+/g, "_")];
    if (!key) got.faults.push({ line: head.line, message: `the header names a column “${raw}”: the columns are id, name, roles and time_zone` });
    else if (columns.includes(key)) got.faults.push({ line: head.line, message: `the header names ${key} twice` });
    if (key) columns.push(key);
  }
  if (!columns.includes("id")) {
    got.faults.push({ line: head.line, message: "the first line must be the header, with an id column: id,name,roles,time_zone" });
  }
  if (got.faults.some((f) => f.line === head.line)) return got;
  const sepName = sep === "\t" ? "a tab" : `“${sep}”`;
  for (const r of rows.slice(1)) {
    if (r.fault) { got.faults.push({ line: r.line, message: r.fault }); continue; }
    if (r.fields.length > columns.length) {
      got.faults.push({ line: r.line, message: `${r.fields.length} fields, but the header names ${columns.length} columns: put a field that holds ${sepName} in double quotes` });
      continue;
    }
    const e: UserImportEntry = { id: "" };
    columns.forEach((key, i) => {
      const v = r.fields[i] ?? "";
      if (key === "roles") e.roles = v.split(/[;|]/).map((s) => s.trim()).filter(Boolean);
      else e[key] = v;
    });
    add(got, e, r.line);
  }
  return got;
}

interface CSVRow { line: number; fields: string[]; fault?: string }

/** csvRows splits CSV (RFC 4180: fields in double quotes may hold the
 * separator, line breaks and quotes written twice) into rows, each with the
 * line it starts on; blank lines are skipped. */
function csvRows(text: string, sep: string): { rows: CSVRow[]; fault?: Fault } {
  const rows: CSVRow[] = [];
  let fields: string[] = [];
  let field = "";
  let line = 1; // the line being read
  let start = 1; // the line the row began on
  let inQuotes = false;
  let quoted = false; // the field was quoted: kept as is, only spaces may follow
  let quotes = false; // the row had a quoted field (so is not blank)
  let fault: string | undefined;
  const endField = () => {
    fields.push(quoted ? field : field.trim());
    field = "";
    quoted = false;
  };
  const endRow = () => {
    endField();
    if (fields.length > 1 || fields[0] !== "" || quotes) rows.push(fault ? { line: start, fields, fault } : { line: start, fields });
    fields = [];
    quotes = false;
    fault = undefined;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (inQuotes) {
      if (c === '"') {
        if (text.charAt(i + 1) === '"') { field += '"'; i++; } else inQuotes = false;
        continue;
      }
      if (c === "\n" || (c === "\r" && text.charAt(i + 1) !== "\n")) line++;
      field += c;
      continue;
    }
    if (c === sep) { endField(); continue; }
    if (c === "\n" || c === "\r") {
      if (c === "\r" && text.charAt(i + 1) === "\n") i++;
      endRow();
      line++;
      start = line;
      continue;
    }
    if (quoted) {
      if (c !== " " && c !== "\t") fault ??= "text after a closing quote: a quote inside a quoted field is written twice (\"\")";
      continue;
    }
    if (c === '"' && field.trim() === "") { inQuotes = quoted = quotes = true; field = ""; continue; }
    field += c;
  }
  if (inQuotes) return { rows, fault: { line: start, message: "a double quote opens here and is never closed, so the rest of the file reads as one field" } };
  if (field !== "" || fields.length || quoted) endRow();
  return { rows };
}

/** readJSON reads a JSON array of users, or NDJSON: one user a line (a
 * single user object over several lines reads too). */
function readJSON(text: string): Got {
  const got: Got = { entries: [], lines: [], faults: [] };
  if (text.trimStart().startsWith("[")) {
    let all: unknown;
    try {
      all = JSON.parse(text);
    } catch (err) {
      got.faults.push({ line: errorLine(text, err), message: `not valid JSON: ${(err as Error).message}` });
      return got;
    }
    if (!Array.isArray(all)) { got.faults.push({ line: 1, message: "the JSON is not an array of users" }); return got; }
    const at = elementLines(text);
    all.forEach((v, i) => entry(got, v, at[i] ?? 1));
    return got;
  }
  const lines = text.split(/\r\n|\n|\r/);
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i] ?? "";
    if (!l.trim()) continue;
    let v: unknown;
    try {
      v = JSON.parse(l);
    } catch (err) {
      if (!got.entries.length && !got.faults.length) {
        // Not NDJSON, perhaps one user written over several lines.
        try {
          const whole: unknown = JSON.parse(text);
          entry(got, whole, i + 1);
          return got;
        } catch { /* then this line's own fault is the one to show */ }
      }
      got.faults.push({ line: i + 1, message: `not a JSON object on one line: ${(err as Error).message}` });
      continue;
    }
    entry(got, v, i + 1);
  }
  return got;
}

const importFields = ["id", "name", "roles", "time_zone"];

/** entry keeps v, read at line, as a user if it is one the API takes. */
function entry(got: Got, v: unknown, line: number): void {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    got.faults.push({ line, message: `a JSON ${jsonKind(v)}, not a user like {"id": "ada", "name": "Ada", "roles": ["ops"]}` });
    return;
  }
  const o = v as Record<string, unknown>;
  const faults: string[] = [];
  for (const k of Object.keys(o)) if (!importFields.includes(k)) faults.push(`unknown field “${k}”: a user has id, name, roles and time_zone`);
  const text = (k: string, required: boolean): string | undefined => {
    const x = o[k];
    if (x === undefined && !required) return undefined;
    if (typeof x === "string") return x;
    faults.push(x === undefined ? `no ${k}: every user needs one` : `${k} must be a string, not a JSON ${jsonKind(x)}`);
    return undefined;
  };
  const e: UserImportEntry = { id: text("id", true) ?? "" };
  const name = text("name", false);
  if (name !== undefined) e.name = name;
  const zone = text("time_zone", false);
  if (zone !== undefined) e.time_zone = zone;
  const roles = o["roles"];
  if (roles === null) e.roles = null;
  else if (Array.isArray(roles) && roles.every((r) => typeof r === "string")) e.roles = roles as string[];
  else if (roles !== undefined) faults.push("roles must be a list of strings, like [\"ops\", \"oncall\"]");
  if (faults.length) {
    for (const message of faults) got.faults.push({ line, message });
    return;
  }
  add(got, e, line);
}

function jsonKind(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v === "object" ? "object" : typeof v;
}

/** elementLines is the line each element of the JSON array text starts on. */
function elementLines(text: string): number[] {
  const out: number[] = [];
  let line = 1;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let expect = false; // the next value at depth 1 starts an element
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (c === "\n") line++;
    if (inString) {
      if (escaped) escaped = false;
      else if (c === "\\") escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === " " || c === "\t" || c === "\r" || c === "\n") continue;
    if (depth === 1 && expect && c !== "]") { out.push(line); expect = false; }
    if (c === '"') inString = true;
    else if (c === "[" || c === "{") { depth++; if (depth === 1) expect = true; }
    else if (c === "]" || c === "}") depth--;
    else if (c === "," && depth === 1) expect = true;
  }
  return out;
}

/** errorLine is the line a JSON.parse error names, as each browser words
 * it ("line 3 column 5", or "at position 57"). */
function errorLine(text: string, err: unknown): number {
  const msg = String((err as Error).message ?? err);
  const line = /line (\d+)/i.exec(msg);
  if (line) return Number(line[1]);
  const pos = /position (\d+)/i.exec(msg);
  return pos ? text.slice(0, Number(pos[1])).split("\n").length : 1;
}
