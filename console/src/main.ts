// The console's entry point: its pages, by address.

import { whenSignedOut } from "./api.js";
import { base, go, route, start } from "./app.js";
import { h, replace } from "./dom.js";
import { audit } from "./pages/audit.js";
import { compose } from "./pages/compose.js";
import { deadLetters } from "./pages/deadletters.js";
import { detail } from "./pages/detail.js";
import { health } from "./pages/health.js";
import { list } from "./pages/list.js";
import { seriesList, seriesPage } from "./pages/series.js";
import { signIn } from "./pages/signin.js";
import { users } from "./pages/users.js";

route("/signin", "Sign in", signIn, { public: true });
route("/", "Broadcasts", list, { nav: "broadcasts" });
route("/broadcasts/new", "Compose", compose, { nav: "compose" });
route("/broadcasts/:id", "Broadcast", detail, { nav: "broadcasts" });
route("/series", "Series", seriesList, { nav: "series" });
route("/series/:id", "Series", seriesPage, { nav: "series" });
route("/users", "Users", users, { nav: "users" });
route("/audit", "Audit log", audit, { nav: "audit" });
route("/dead-letters", "Dead letters", deadLetters, { nav: "dead-letters" });
route("/health", "Health", health, { nav: "health" });

whenSignedOut(() => go(`${base}/signin?next=${encodeURIComponent(location.pathname + location.search)}`, true));
start().catch((err: unknown) => {
  replace(document.getElementById("main") as HTMLElement, h("h1", null, "Crier"),
    h("div", { class: "alert", role: "alert" }, "The console could not start: ", String(err)));
});
