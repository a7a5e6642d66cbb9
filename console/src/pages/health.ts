// Health, for the admin on call: whether this node's dependencies answer,
// the API nodes and their connections (presence), and from this node's own
// metrics how late publications were and how far consumers lag.

import { call } from "../api.js";
import { errorBox, repeat, type Context, type Stop } from "../app.js";
import { h, replace } from "../dom.js";
import { relative, show } from "../time.js";

interface Presence {
  online_users: number;
  connections: number;
  nodes: { node_id: string; connections: number; users: number; last_seen_at: string; stale: boolean }[];
}

const pollEvery = 5000;

/** Sample is one line of Prometheus's text format. */
interface Sample { name: string; labels: Record<string, string>; value: number }

/** parseMetrics reads Prometheus's text exposition format (the lines that
 * are samples; comments and blank lines are skipped). */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, "$1");
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** quantile estimates the q-quantile of a histogram from its cumulative
 * buckets, as Prometheus's histogram_quantile does (linear within a bucket). */
export function quantile(q: number, buckets: { le: number; count: number }[]): number | null {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  if (!total) return null;
  const rank = q * total;
  let prevLe = 0, prevCount = 0;
  for (const b of sorted) {
    if (b.count >= rank) {
      if (!Number.isFinite(b.le)) return prevLe;
      return prevLe + (b.le - prevLe) * ((rank - prevCount) / Math.max(1, b.count - prevCount));
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

function plural(n: number, what: string): string {
  return `${n.toLocaleString()} ${what}${n === 1 ? "" : "s"}`;
}

function seconds(s: number | null): string {
  if (s === null) return "—";
  return s < 1 ? `${Math.round(s * 1000)} ms` : `${s.toFixed(2)} s`;
}

export function health(main: HTMLElement, _ctx: Context): Stop {
  const ready = h("div");
  const nodes = h("div");
  const lateness = h("div");
  const lag = h("div");
  const problem = h("div");
  let stopped = false;
  let stopPolling: Stop = () => {};

  const refresh = async () => {
    const r = await fetch("/readyz", { headers: { Accept: "application/json" } });
    const body = await r.text();
    replace(ready, h("h2", null, "This node"), r.ok
      ? h("p", null, h("span", { class: "badge status-sent" }, "Ready"), " PostgreSQL, Kafka and Temporal answer.")
      : h("div", { class: "alert", role: "alert" }, h("strong", null, "Not ready. "), body));

    const p = await call<Presence>("GET", "/api/v1/admin/presence");
    replace(nodes, h("h2", null, "API nodes"),
      h("p", null, `${plural(p.online_users, "user")} online over ${plural(p.connections, "connection")}.`),
      h("div", { class: "table-wrap" }, h("table", null, h("caption", { class: "visually-hidden" }, "API nodes and their live connections"),
        h("thead", null, h("tr", null, ["Node", "Connections", "Users", "Last seen"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", null, p.nodes.map((n) => h("tr", null, h("td", null, n.node_id, n.stale ? h("small", null, "stale: stopped refreshing") : null),
          h("td", null, String(n.connections)), h("td", null, String(n.users)),
          h("td", null, h("time", { datetime: n.last_seen_at, title: show(n.last_seen_at) }, relative(n.last_seen_at)))))))));

    const samples = parseMetrics(await (await fetch("/metrics")).text());
    const buckets = samples.filter((s) => s.name === "crier_publication_lateness_seconds_bucket")
      .map((s) => ({ le: s.labels["le"] === "+Inf" ? Infinity : Number(s.labels["le"]), count: s.value }));
    const count = samples.find((s) => s.name === "crier_publication_lateness_seconds_count")?.value ?? 0;
    replace(lateness, h("h2", null, "Publication lateness"),
      h("p", { class: "help" }, "How long after its scheduled time each publication reached Kafka, as this node's relay measured it since it started (a node without the relay has none)."),
      count ? h("div", { class: "numbers" },
        h("div", null, h("span", { class: "number" }, count.toLocaleString()), " published"),
        h("div", null, h("span", { class: "number" }, seconds(quantile(0.5, buckets))), " median"),
        h("div", null, h("span", { class: "number" }, seconds(quantile(0.99, buckets))), " 99th percentile"))
        : h("p", null, "Nothing published through this node yet."));
    const lags = samples.filter((s) => s.name === "crier_consumer_lag");
    const letters = samples.filter((s) => s.name === "crier_dead_letters_total").reduce((n, s) => n + s.value, 0);
    replace(lag, h("h2", null, "Consumers"),
      lags.length ? h("div", { class: "table-wrap" }, h("table", null, h("caption", { class: "visually-hidden" }, "Consumer lag, in events"),
        h("thead", null, h("tr", null, ["Consumer group", "Lag (events)"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", null, lags.map((s) => h("tr", null, h("td", null, s.labels["group"] ?? "—"), h("td", null, String(s.value)))))))
        : h("p", { class: "help" }, "No consumer on this node reports lag."),
      h("p", null, `Dead letters recorded by this node: ${letters.toLocaleString()}.`));
    replace(problem);
  };
  replace(main, h("h1", null, "Health"), problem, ready, nodes, lateness, lag,
    h("p", { class: "help" }, "Across the cluster, Crier's Grafana dashboard and alerts (deploy/) say more."));
  const failed = (err: unknown) => replace(problem, errorBox(err));
  void refresh().catch(failed).then(() => { if (!stopped) stopPolling = repeat(pollEvery, refresh, failed); });
  return () => { stopped = true; stopPolling(); };
}
