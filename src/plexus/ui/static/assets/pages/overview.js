// Overview: the period's totals, its series over time, and who and what it went to.

import { get } from "../api.js";
import { card, describe, every, notice, pageHeader, segmented } from "../components.js";
import { barList, timeChart } from "../charts.js";
import { h, replace } from "../dom.js";
import { compact, int, ms, percent, usd } from "../format.js";
import { setQuery } from "../router.js";

// Each range and the bucket that gives it 48 to 60 points.
const RANGES = {
  "1h": { seconds: 3600, bucket: 60, label: "1 hour" },
  "24h": { seconds: 86400, bucket: 1800, label: "24 hours" },
  "7d": { seconds: 7 * 86400, bucket: 3 * 3600, label: "7 days" },
  "30d": { seconds: 30 * 86400, bucket: 12 * 3600, label: "30 days" },
};
const TOPS = [
  ["aliases", "Top aliases"],
  ["providers", "Top providers"],
  ["models", "Top upstream models"],
  ["keys", "Top keys"],
];

export function mount(root, { query }) {
  let range = RANGES[query.get("range")] ? query.get("range") : "24h";
  const controller = new AbortController();
  const stats = h("div", { class: "stats" });
  const message = h("div");
  const tops = h("div", { class: "grid four" });
  const charts = {
    traffic: timeChart({ label: "Requests and errors", format: compact }),
    latency: timeChart({ label: "Latency", format: ms, empty: "No answered request in this period" }),
    ttft: timeChart({ label: "Time to first token", format: ms, empty: "No token streamed in this period" }),
    tokens: timeChart({ label: "Tokens", format: compact }),
    cost: timeChart({ label: "Cost", format: usd, empty: "No priced request in this period" }),
  };
  const choose = (value) => {
    range = value;
    setQuery({ range: value === "24h" ? null : value });
    load();
  };
  root.append(
    pageHeader("Overview", "Traffic through the gateway", segmented("range", "Period", Object.keys(RANGES).map((k) => [k, k]), range, choose)),
    message,
    stats,
    h(
      "div",
      { class: "grid two" },
      card("Requests and errors", charts.traffic.element),
      card("Latency, whole request", charts.latency.element),
      card("Time to first token", charts.ttft.element),
      card("Tokens", charts.tokens.element),
    ),
    card("Cost", charts.cost.element),
    tops,
  );

  async function load() {
    const { seconds, bucket } = RANGES[range];
    try {
      const data = await get("/overview", { since: `-${range}`, bucket }, controller.signal);
      replace(message);
      show(data, seconds, bucket);
    } catch (error) {
      if (error.name !== "AbortError") replace(message, notice("bad", describe(error)));
    }
  }

  function show(data, seconds, bucket) {
    const totals = data.totals || {};
    replace(stats, statCards(totals));
    const series = grid(data.series || [], seconds, bucket);
    const times = series.map((point) => point.t);
    const pick = (key) => series.map((point) => point[key] ?? null);
    const count = (key) => series.map((point) => point[key] ?? 0);
    charts.traffic.update({
      times,
      series: [
        { label: "Requests", values: count("requests"), tone: 1, area: true },
        { label: "Errors", values: count("errors"), tone: 5 },
      ],
    });
    charts.latency.update({
      times,
      series: [
        { label: "p50", values: pick("p50_ms"), tone: 1 },
        { label: "p95", values: pick("p95_ms"), tone: 3 },
      ],
    });
    charts.ttft.update({
      times,
      series: [
        { label: "p50", values: pick("ttft_p50_ms"), tone: 2 },
        { label: "p95", values: pick("ttft_p95_ms"), tone: 4 },
      ],
    });
    charts.tokens.update({
      times,
      series: [
        { label: "Input", values: count("input_tokens"), tone: 1 },
        { label: "Output", values: count("output_tokens"), tone: 2 },
        { label: "Cache read", values: count("cache_read_tokens"), tone: 6 },
      ],
    });
    charts.cost.update({ times, series: [{ label: "Cost", values: count("cost_usd"), tone: 2, area: true }] });
    const top = data.top || {};
    replace(
      tops,
      TOPS.map(([key, title]) =>
        card(
          title,
          barList(top[key] || [], {
            label: title,
            value: (item) => item.requests || 0,
            format: int,
            detail: (item) => usd(item.cost_usd),
          }),
        ),
      ),
    );
  }

  load();
  const stop = every(30, load);
  return () => {
    stop();
    controller.abort();
    Object.values(charts).forEach((chart) => chart.destroy());
  };
}

function statCards(totals) {
  const requests = totals.requests || 0;
  const errors = totals.errors || 0;
  const tokens = (totals.input_tokens || 0) + (totals.output_tokens || 0) + (totals.cache_read_tokens || 0);
  return [
    stat("Requests", int(requests), `${int(errors)} failed`),
    stat("Error rate", requests ? percent(errors / requests) : "—", "4xx and 5xx answers", errors ? "bad" : null),
    stat("Cost", usd(totals.cost_usd), "priced requests"),
    stat("Tokens", compact(tokens), `${compact(totals.input_tokens || 0)} in · ${compact(totals.output_tokens || 0)} out`),
    stat("Latency p50 / p95", `${ms(totals.p50_ms)}`, `p95 ${ms(totals.p95_ms)}`),
    stat("First token p50 / p95", `${ms(totals.ttft_p50_ms)}`, `p95 ${ms(totals.ttft_p95_ms)}`),
  ];
}

function stat(label, value, note, tone) {
  return h(
    "div",
    { class: ["stat", tone ? `tone-${tone}` : null] },
    h("div", { class: "stat-label", text: label }),
    h("div", { class: "stat-value", text: value }),
    h("div", { class: "stat-note", text: note }),
  );
}

/** The series on a regular grid of buckets up to now: a bucket without traffic is empty, not
 * missing, so that lines do not jump across quiet hours. */
function grid(series, seconds, bucket) {
  const byTime = new Map(series.map((point) => [Math.floor(point.t / bucket) * bucket, point]));
  const end = Math.floor(Date.now() / 1000 / bucket) * bucket;
  const points = [];
  for (let t = end - seconds + bucket; t <= end; t += bucket) points.push(byTime.get(t) || { t });
  return points;
}
