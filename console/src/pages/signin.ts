// Sign-in: with the identity provider (OpenID Connect) when one is
// configured, by pasting a token, or by a one-time link (`make dev` and
// `crier signin-link` print one; its code rides in the address's fragment,
// which no server log or Referer ever sees).

import { ApiError, call } from "../api.js";
import { base, errorBox, refreshSession, type Context } from "../app.js";
import { announce, h, replace, uid } from "../dom.js";

export async function signIn(main: HTMLElement, ctx: Context): Promise<void> {
  const next = safeNext(ctx.query.get("next"));
  const status = h("div", { class: "signin-status" });
  const code = new URLSearchParams(location.hash.slice(1)).get("code");
  if (code) {
    history.replaceState(null, "", location.pathname + location.search); // the code is spent either way
    replace(main, h("h1", null, "Signing in…"), status);
    try {
      await call("POST", `${base}/session`, { code });
      await refreshSession();
      announce("Signed in");
      ctx.go(next, true);
      return;
    } catch (err) {
      replace(status, errorBox(err));
    }
  }
  if (ctx.query.get("error")) {
    replace(status, h("div", { class: "alert", role: "alert" }, h("strong", null, "Sign-in failed. "), ctx.query.get("error")));
  }
  if (ctx.session.signed_in && !code) {
    ctx.go(next, true);
    return;
  }

  const tokenID = uid("token");
  const tokenHelp = uid("token-help");
  const textarea = h("textarea", { id: tokenID, name: "token", rows: 4, required: true, autocomplete: "off", spellcheck: "false", "aria-describedby": tokenHelp });
  const form = h("form", { class: "card", novalidate: true },
    h("h2", null, "Paste a token"),
    h("label", { for: tokenID }, "Token"),
    textarea,
    h("p", { id: tokenHelp, class: "help" }, "A JSON Web Token with the admin or broadcaster role, as ", h("code", null, "crier token"), " prints."),
    h("button", { type: "submit" }, "Sign in"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void (async () => {
      replace(status);
      textarea.removeAttribute("aria-invalid");
      try {
        await call("POST", `${base}/session`, { token: textarea.value.trim() });
        await refreshSession();
        announce("Signed in");
        ctx.go(next, true);
      } catch (err) {
        textarea.setAttribute("aria-invalid", "true");
        replace(status, errorBox(err instanceof ApiError && err.status === 401 ? new ApiError(401, { ...err.problem, title: "That token was refused." }) : err));
        textarea.focus();
      }
    })();
  });

  replace(main,
    h("h1", null, "Sign in to Crier"),
    status,
    ctx.session.oidc ? h("div", { class: "card" },
      h("h2", null, "With your organisation's account"),
      h("a", { class: "button", href: `${base}/oidc/login?next=${encodeURIComponent(next)}`, "data-external": "" }, "Sign in with single sign-on")) : null,
    form);
}

/** safeNext keeps a return address inside the console. */
function safeNext(next: string | null): string {
  return next && next.startsWith(base + "/") && !next.startsWith("//") ? next : `${base}/`;
}
