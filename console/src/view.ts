// Pieces several pages show the same way.

import type { Broadcast, Status, Target } from "./api.js";
import { h } from "./dom.js";

export const statuses: Status[] = ["DRAFT", "SCHEDULED", "IN_PROGRESS", "SENT", "EXPIRED", "CANCELLED", "FAILED"];
export const priorities = ["LOW", "NORMAL", "HIGH", "URGENT"] as const;

const statusWords: Record<Status, string> = {
  DRAFT: "Draft", SCHEDULED: "Scheduled", IN_PROGRESS: "In progress", SENT: "Sent", EXPIRED: "Expired", CANCELLED: "Cancelled", FAILED: "Failed",
};

/** badge shows a status in words and colour (the words carry it; colour only helps). */
export function badge(s: Status): HTMLElement {
  return h("span", { class: `badge status-${s.toLowerCase()}`, "data-status": s }, statusWords[s] ?? s);
}

export function priorityBadge(p: string): HTMLElement {
  return h("span", { class: `priority priority-${p.toLowerCase()}` }, p.charAt(0) + p.slice(1).toLowerCase());
}

/** targetText says whom a target reaches, in words. */
export function targetText(t: Target): string {
  const ids = t.ids ?? [];
  switch (t.type) {
    case "ALL": return "Everyone";
    case "ROLE": return `Role${ids.length === 1 ? "" : "s"}: ${ids.join(", ")}`;
    case "SELECTED": return ids.length <= 3 ? `Users: ${ids.join(", ")}` : `${ids.length} selected users`;
  }
}

/** preview shows a broadcast as a user's inbox shows it. */
export function preview(b: Pick<Broadcast, "title" | "content" | "category" | "priority">, sender: string): HTMLElement {
  return h("article", { class: `preview priority-edge-${b.priority.toLowerCase()}`, "aria-label": "Preview" },
    h("header", null, priorityBadge(b.priority), h("span", { class: "category" }, b.category || "general")),
    h("h3", null, b.title || "Untitled"),
    h("p", { class: "content" }, b.content || ""),
    h("footer", null, "From ", sender));
}
