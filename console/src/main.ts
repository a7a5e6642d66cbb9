// The console's entry point: its pages, by address.

import { whenSignedOut } from "./api.js";
import { base, go, route, start } from "./app.js";
import { h, replace } from "./dom.js";
import { compose } from "./pages/compose.js";
import { detail } from "./pages/detail.js";
import { later } from "./pages/later.js";
import { list } from "./pages/list.js";
import { signIn } from "./pages/signin.js";

route("/signin", "Sign in", signIn, { public: true });
route("/", "Broadcasts", list, { nav: "broadcasts" });
route("/broadcasts/new", "Compose", compose, { nav: "compose" });
route("/broadcasts/:id", "Broadcast", detail, { nav: "broadcasts" });
route("/series", "Series", later("Series", "GET /api/v1/series"), { nav: "series" });
route("/series/:id", "Series", later("Series", "GET /api/v1/series/{id}"), { nav: "series" });
route("/users", "Users", later("Users", "GET /api/v1/users"), { nav: "users" });
route("/audit", "Audit log", later("Audit log", "GET /api/v1/audit"), { nav: "audit" });
route("/dead-letters", "Dead letters", later("Dead letters", "GET /api/v1/dead-letters"), { nav: "dead-letters" });
route("/health", "Health", later("Health", "GET /api/v1/admin/presence and /metrics"), { nav: "health" });

whenSignedOut(() => go(`${base}/signin?next=${encodeURIComponent(location.pathname + location.search)}`, true));
start().catch((err: unknown) => {
  replace(document.getElementById("main") as HTMLElement, h("h1", null, "Crier"),
    h("div", { class: "alert", role: "alert" }, "The console could not start: ", String(err)));
});
