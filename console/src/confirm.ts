// A change asked first, in a modal dialog (the browser keeps the focus in
// it; Escape closes it), that runs the change, shows its error in place and
// gives the focus back when it closes. Every page that changes something
// asks through it.

import { errorBox } from "./app.js";
import { h, replace, uid, type Child } from "./dom.js";

export interface Question {
  title: string;
  text: Child;
  /** The confirming button's words: the action, never just "OK". */
  confirm: string;
  /** The declining button's words ("Keep it" unless said). */
  decline?: string;
  danger?: boolean;
  extra?: Node | null;
  /** Where focus goes when the action took its opener away; the page's
   * heading when this finds nothing. */
  fallback?: () => HTMLElement | null;
}

/** confirmDialog is the page's one dialog; each question labels it with
 * its title (so while empty it names nothing that is not there). */
export function confirmDialog(): HTMLDialogElement {
  return h("dialog", { class: "confirm" });
}

/** confirmThen asks q in dialog (modal: focus stays in it; Escape closes
 * it) and runs then on confirmation, showing its error in the dialog. */
export function confirmThen(dialog: HTMLDialogElement, q: Question, then: () => Promise<void>): void {
  const titleID = uid("dialog-title");
  dialog.setAttribute("aria-labelledby", titleID);
  const err = h("div");
  const yes = h("button", { type: "submit", class: q.danger ? "danger" : "" }, q.confirm);
  const form = h("form", { method: "dialog" },
    h("h2", { id: titleID }, q.title), h("p", null, q.text), q.extra ?? null, err,
    h("div", { class: "form-actions" }, yes, h("button", { type: "button", class: "secondary", onclick: () => dialog.close() }, q.decline ?? "Keep it")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    yes.disabled = true;
    then().then(() => dialog.close(), (e: unknown) => { replace(err, errorBox(e)); yes.disabled = false; });
  });
  replace(dialog, form);
  const opener = document.activeElement as HTMLElement | null;
  // Focus goes back where it was; when the action took that control away
  // (a dropped dead letter offers no drop), to the fallback, else the
  // heading.
  dialog.addEventListener("close", () => {
    const back = opener && opener.isConnected ? opener : q.fallback?.() ?? document.querySelector<HTMLElement>("main h1");
    if (back && !back.hasAttribute("tabindex") && back.tagName === "H1") back.setAttribute("tabindex", "-1");
    back?.focus();
  }, { once: true });
  dialog.showModal();
  // Into the fields the change needs (a date), else on the confirming
  // button; a checkbox is a choice to make on the way, not the first stop.
  (q.extra ? form.querySelector<HTMLElement>("input:not([type=checkbox]), select, textarea") ?? yes : yes).focus();
}
