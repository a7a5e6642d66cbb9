// Form helpers: labelled fields whose errors from the API's problem+json
// answers show beside them, and a summary that links to each.

import type { ApiError, FieldError } from "./api.js";
import { h, replace, uid, type Child } from "./dom.js";

/** Fields maps the API's field names ("title", "target.ids") to controls. */
export class Fields {
  private controls = new Map<string, { control: HTMLElement; error: HTMLElement }>();
  readonly summary = h("div", { class: "error-summary", tabindex: "-1", hidden: true });

  /** field wraps control in a labelled field, known to the API as name. */
  field(name: string, label: string, control: HTMLElement, help?: Child): HTMLElement {
    const id = control.id || uid(name.replace(/\W/g, "-"));
    control.id = id;
    const error = h("p", { class: "field-error", id: `${id}-error`, hidden: true });
    const helpEl = help ? h("p", { class: "help", id: `${id}-help` }, help) : null;
    control.setAttribute("aria-describedby", [helpEl ? `${id}-help` : "", `${id}-error`].filter(Boolean).join(" "));
    this.controls.set(name, { control, error });
    // An error goes once its field is edited: it no longer describes it.
    control.addEventListener("input", () => {
      control.removeAttribute("aria-invalid");
      error.hidden = true;
      error.textContent = "";
      if (![...this.controls.values()].some((c) => !c.error.hidden)) this.summary.hidden = true; // all fixed
    });
    return h("div", { class: "field" }, h("label", { for: id }, label), helpEl, control, error);
  }

  /** group registers a fieldset (radios, pickers) as name: errors show at its legend. */
  group(name: string, fieldset: HTMLFieldSetElement, focusable: HTMLElement): void {
    const error = h("p", { class: "field-error", id: uid("group-error"), hidden: true });
    fieldset.append(error);
    fieldset.setAttribute("aria-describedby", error.id);
    this.controls.set(name, { control: focusable, error });
  }

  clear(): void {
    for (const { control, error } of this.controls.values()) {
      control.removeAttribute("aria-invalid");
      error.hidden = true;
      error.textContent = "";
    }
    this.summary.hidden = true;
    replace(this.summary);
  }

  /** show puts each field error beside its field (the longest registered
   * name that prefixes it: "target.ids[3]" shows at "target.ids") and lists
   * them all in the summary, which takes the focus. */
  show(err: ApiError): void {
    this.clear();
    const errors: FieldError[] = err.problem.errors ?? [];
    const items: HTMLElement[] = [];
    for (const e of errors) {
      const at = this.find(e.field);
      if (at) {
        at.control.setAttribute("aria-invalid", "true");
        at.error.hidden = false;
        at.error.textContent = at.error.textContent ? `${at.error.textContent} ${e.message}` : e.message;
        items.push(h("li", null, h("a", { href: `#${at.control.id}`, onclick: (ev: Event) => { ev.preventDefault(); at.control.focus(); } }, `${e.field}: ${e.message}`)));
      } else {
        items.push(h("li", null, `${e.field}: ${e.message}`));
      }
    }
    replace(this.summary,
      h("h2", null, errors.length ? `Fix ${errors.length === 1 ? "this" : `these ${errors.length}`} to continue` : err.problem.title),
      items.length ? h("ul", null, items) : h("p", null, err.problem.detail),
      err.problem.more_errors ? h("p", null, `and ${err.problem.more_errors} more`) : null);
    this.summary.hidden = false;
    this.summary.setAttribute("role", "alert");
    this.summary.focus();
  }

  private find(field: string): { control: HTMLElement; error: HTMLElement } | undefined {
    let best: string | undefined;
    for (const name of this.controls.keys()) {
      if ((field === name || field.startsWith(name + ".") || field.startsWith(name + "[")) && (!best || name.length > best.length)) best = name;
    }
    return best ? this.controls.get(best) : undefined;
  }
}
