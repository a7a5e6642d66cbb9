// A small, safe way to build the page: every text goes in as text (never
// as HTML), so nothing a broadcast or a user's name contains can run.

export type Child = Node | string | number | null | undefined | false | Child[];

type Handler = (ev: Event) => void;
export type Props = Record<string, string | number | boolean | Handler | null | undefined>;

/** h creates an element: props become attributes (true: present, false or
 * null: absent) or, for onclick and the like, listeners. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props | null = null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else if (value !== false && value !== null && value !== undefined) {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

/** append adds children to el, flattening lists and skipping empties. */
export function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** replace empties el and fills it with children. */
export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

let ids = 0;
/** uid is an id unique on the page, for label for= and aria-describedby. */
export function uid(prefix: string): string {
  ids += 1;
  return `${prefix}-${ids}`;
}

/** announce tells screen readers (and shows in the status bar) what just
 * happened, as a polite live region. */
export function announce(message: string): void {
  const region = document.getElementById("announcer");
  if (!region) return;
  region.textContent = "";
  // A new text node after a tick is read out even when the message repeats.
  window.setTimeout(() => { region.textContent = message; }, 50);
}
