// The console's shell: who is signed in, the navigation, and which page
// shows for the address. Pages are functions that fill the main region and
// return how to stop what they started (polling, timers).

import { call, type Session } from "./api.js";
import { announce, h, replace } from "./dom.js";

export type Stop = () => void;
export interface Context {
  session: Session;
  params: Record<string, string>;
  query: URLSearchParams;
  /** go navigates to path within the console. */
  go: (path: string, replaceState?: boolean) => void;
}
export type Page = (main: HTMLElement, ctx: Context) => Stop | void | Promise<Stop | void>;

export const base = "/admin";

interface Route { pattern: RegExp; keys: string[]; page: Page; title: string; nav?: string; public?: boolean }
const routes: Route[] = [];

/** route adds a page at path ("/broadcasts/:id"), under base. */
export function route(path: string, title: string, page: Page, opts: { nav?: string; public?: boolean } = {}): void {
  const keys: string[] = [];
  const pattern = new RegExp("^" + path.replace(/:(\w+)/g, (_, k: string) => { keys.push(k); return "([^/]+)"; }) + "/?$");
  routes.push({ pattern, keys, page, title, ...opts });
}

let session: Session;
let stop: Stop | void = undefined;

/** start reads the session and shows the page of the current address. */
export async function start(): Promise<void> {
  session = await call<Session>("GET", `${base}/session`);
  document.addEventListener("click", (ev) => {
    const a = (ev.target as Element).closest?.("a");
    if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || !url.pathname.startsWith(base + "/") || a.target || a.hasAttribute("download")) return;
    if (a.dataset["external"] !== undefined) return;
    ev.preventDefault();
    go(url.pathname + url.search);
  });
  window.addEventListener("popstate", () => { void show(); });
  await show();
}

/** go shows path, adding it to the history (or replacing the current entry). */
export function go(path: string, replaceState = false): void {
  if (replaceState) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  void show();
}

/** refreshSession reads the session again (after signing in or out). */
export async function refreshSession(): Promise<Session> {
  session = await call<Session>("GET", `${base}/session`);
  return session;
}

async function show(): Promise<void> {
  if (typeof stop === "function") stop();
  stop = undefined;
  const main = document.getElementById("main") as HTMLElement;
  const path = location.pathname.slice(base.length) || "/";
  let found: Route | undefined;
  let params: Record<string, string> = {};
  for (const r of routes) {
    const m = r.pattern.exec(path);
    if (m) {
      found = r;
      params = Object.fromEntries(r.keys.map((k, i) => [k, decodeURIComponent(m[i + 1] ?? "")]));
      break;
    }
  }
  if (found && !found.public && !session.signed_in) {
    go(`${base}/signin?next=${encodeURIComponent(location.pathname + location.search)}`, true);
    return;
  }
  renderShell(found?.nav);
  if (!found) {
    document.title = "Not found · Crier";
    replace(main, h("h1", null, "Not found"), h("p", null, "No console page has this address. ", h("a", { href: `${base}/` }, "Go to the broadcasts.")));
    return;
  }
  document.title = `${found.title} · Crier`;
  replace(main);
  try {
    stop = await found.page(main, { session, params, query: new URLSearchParams(location.search), go });
  } catch (err) {
    replace(main, h("h1", null, found.title), errorBox(err));
  }
  // Move focus to the new page's heading, as a screen reader user expects
  // after following a link in a single-page app.
  const heading = main.querySelector("h1");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: false });
  }
}

const navItems: [string, string, boolean][] = [
  ["broadcasts", "Broadcasts", false],
  ["compose", "Compose", false],
  ["series", "Series", false],
  ["users", "Users", true],
  ["audit", "Audit log", true],
  ["dead-letters", "Dead letters", true],
  ["health", "Health", true],
];
const navPaths: Record<string, string> = { broadcasts: "/", compose: "/broadcasts/new" };

function renderShell(current?: string): void {
  const nav = document.getElementById("nav") as HTMLElement;
  const user = document.getElementById("user") as HTMLElement;
  if (!session.signed_in) {
    replace(nav);
    replace(user);
    return;
  }
  replace(nav, h("ul", null, navItems.filter(([, , adminOnly]) => !adminOnly || session.admin).map(([key, label]) =>
    h("li", null, h("a", { href: base + (navPaths[key] ?? `/${key}`), "aria-current": key === current ? "page" : null }, label)))));
  replace(user,
    h("span", { class: "who" }, session.name ?? session.subject ?? "", " ", h("span", { class: "role" }, session.admin ? "admin" : "broadcaster")),
    h("button", { type: "button", class: "secondary", onclick: () => { void signOut(); } }, "Sign out"));
}

async function signOut(): Promise<void> {
  await call("POST", `${base}/session/end`);
  await refreshSession();
  announce("Signed out");
  go(`${base}/signin`, true);
}

/** errorBox shows a failed call or any error in words, with the request id
 * an operator can look up in the logs. */
export function errorBox(err: unknown): HTMLElement {
  const p = (err as { problem?: { title: string; detail: string; request_id?: string } }).problem;
  return h("div", { class: "alert", role: "alert" },
    h("strong", null, p?.title ?? "Something went wrong"), " ", p?.detail ?? String(err),
    p?.request_id ? h("small", null, ` (request ${p.request_id})`) : null);
}

/** repeat runs f every ms milliseconds, each run after the last ended,
 * while more() says so; a failed run shows through failed and the next one
 * still comes. It returns how to stop it. */
export function repeat(ms: number, f: () => Promise<void>, failed: (err: unknown) => void, more: () => boolean = () => true): Stop {
  let stopped = false;
  let timer = 0;
  const tick = () => {
    timer = window.setTimeout(async () => {
      if (stopped) return;
      try { await f(); } catch (err) { failed(err); }
      if (!stopped && more()) tick();
    }, ms);
  };
  tick();
  return () => { stopped = true; window.clearTimeout(timer); };
}

/** busy runs f once at a time for button, marked busy meanwhile (not
 * disabled: a disabled button drops the focus); a click while busy is
 * ignored. */
export async function busy(button: HTMLElement, f: () => Promise<void>): Promise<void> {
  if (button.getAttribute("aria-disabled")) return;
  button.setAttribute("aria-disabled", "true");
  try { await f(); } finally { button.removeAttribute("aria-disabled"); }
}
