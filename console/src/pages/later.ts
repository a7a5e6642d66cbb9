// Pages the console lists but does not have yet: each says where the same
// thing is today, so the navigation is ready and nobody is stranded.

import type { Page } from "../app.js";
import { h, replace } from "../dom.js";

export function later(title: string, api: string): Page {
  return (main) => {
    replace(main, h("h1", null, title),
      h("p", null, "This page is not in the console yet. The same is in the API: ", h("code", null, api),
        " (see ", h("a", { href: "/openapi.yaml", "data-external": "" }, "the OpenAPI description"), ")."));
  };
}
