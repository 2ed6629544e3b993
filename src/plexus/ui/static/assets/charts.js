// Hand-drawn SVG charts: time series as lines and areas, stacked columns, and bar lists.

import { HEIGHT, PAD, chartFrame, emptyText, swatchLine, xAxis, yAxis, yScale } from "./chart_frame.js";
import { h, svg } from "./dom.js";
import { axisTime, dateTime } from "./format.js";

/**
 * A time series chart. `update({times, series})`: times in Unix seconds; each series is
 * {label, values (numbers or null for no data), tone (1-6), area (filled)}. `empty` is said
 * when no value is above zero.
 */
export function timeChart({ label, format, empty = "No traffic in this period" }) {
  let data = { times: [], series: [] };
  let dots = () => {};
  const legend = h("div", { class: "legend" });
  const frame = chartFrame({
    label,
    draw: (plot, width) => {
      const drawn = drawSeries(plot, width, data, format, empty);
      dots = drawn.dots;
      return drawn.xs;
    },
    place: (index) => dots(index),
    describe: (index) => [
      h("div", { class: "tooltip-title", text: dateTime(data.times[index]) }),
      ...data.series.map((s) => swatchLine(s.tone, `${s.label}: `, h("strong", { text: format(s.values[index]) }))),
    ],
  });
  const update = (next) => {
    data = next;
    legend.replaceChildren(...next.series.map((s) => swatchLine(s.tone, s.label)));
    frame.redraw();
  };
  return { element: h("figure", { class: "chart" }, frame.element, legend), update, destroy: frame.destroy };
}

function drawSeries(plot, width, { times, series }, format, empty) {
  const values = series.flatMap((s) => s.values).filter((v) => v !== null && v !== undefined);
  if (!times.length || !values.some((v) => v > 0)) {
    emptyText(plot, width, empty);
    return { xs: [], dots: () => {} };
  }
  const { top, step } = yScale(Math.max(...values));
  const y = yAxis(plot, width, top, step, format);
  const inner = width - PAD.left - PAD.right;
  const xs = times.map((_, i) => PAD.left + (times.length === 1 ? inner / 2 : (i * inner) / (times.length - 1)));
  const span = times[times.length - 1] - times[0];
  xAxis(plot, xs, (index) => axisTime(times[index], span));
  const cursor = svg("g", { class: "cursor" }, svg("line", { x1: 0, x2: 0, y1: PAD.top, y2: HEIGHT - PAD.bottom }));
  for (const s of series) {
    for (const run of runs(s.values)) {
      const points = run.map((i) => `${xs[i].toFixed(1)},${y(s.values[i]).toFixed(1)}`);
      if (s.area) {
        const base = y(0).toFixed(1);
        const d = `M${xs[run[0]].toFixed(1)},${base}L${points.join("L")}L${xs[run[run.length - 1]].toFixed(1)},${base}Z`;
        plot.append(svg("path", { class: ["area", `series-${s.tone}`], d }));
      }
      if (run.length === 1) {
        // A lone value (a gap on each side) has no line to draw: a dot shows it.
        const [i] = run;
        plot.append(svg("circle", { class: `series-${s.tone}`, r: 3, cx: xs[i].toFixed(1), cy: y(s.values[i]).toFixed(1) }));
      } else plot.append(svg("path", { class: ["line", `series-${s.tone}`], d: `M${points.join("L")}` }));
    }
    cursor.append(svg("circle", { class: `series-${s.tone}`, r: 3.5, cx: 0, cy: -10 }));
  }
  plot.append(cursor);
  // The dots ride the cursor: each sits on its series' value in the focused column.
  const circles = [...cursor.querySelectorAll("circle")];
  const dots = (index) =>
    circles.forEach((dot, i) => {
      const value = series[i].values[index];
      dot.setAttribute("cy", value === null || value === undefined ? -10 : y(value));
    });
  return { xs, dots };
}

/** Indexes of the runs of consecutive non-null values (a gap breaks the line). */
function runs(values) {
  const result = [];
  let current = [];
  values.forEach((value, index) => {
    if (value === null || value === undefined) {
      if (current.length) result.push(current);
      current = [];
    } else current.push(index);
  });
  if (current.length) result.push(current);
  return result;
}

/**
 * Stacked columns, one per period. `update({labels, groups, empty})`: labels per column,
 * groups of {label, values (one per column), tone}; `empty` is said when all are zero.
 */
export function stackedColumns({ label, format }) {
  let data = { labels: [], groups: [] };
  const legend = h("div", { class: "legend" });
  const frame = chartFrame({
    label,
    draw: (plot, width) => drawColumns(plot, width, data, format),
    describe: (index) => [
      h("div", { class: "tooltip-title", text: data.labels[index] }),
      ...data.groups
        .filter((g) => g.values[index])
        .map((g) => swatchLine(g.tone, `${g.label}: `, h("strong", { text: format(g.values[index]) }))),
    ],
  });
  const update = (next) => {
    data = next;
    legend.replaceChildren(...next.groups.map((g) => swatchLine(g.tone, g.label)));
    frame.redraw();
  };
  return { element: h("figure", { class: "chart" }, frame.element, legend), update, destroy: frame.destroy };
}

function drawColumns(plot, width, { labels, groups, empty }, format) {
  const totals = labels.map((_, i) => groups.reduce((sum, g) => sum + (g.values[i] || 0), 0));
  if (!labels.length || !totals.some((t) => t > 0)) {
    emptyText(plot, width, empty || "Nothing in this period");
    return [];
  }
  const { top, step } = yScale(Math.max(...totals));
  const y = yAxis(plot, width, top, step, format);
  const slot = (width - PAD.left - PAD.right) / labels.length;
  const barWidth = Math.max(2, Math.min(48, slot * 0.7));
  const xs = labels.map((_, i) => PAD.left + slot * (i + 0.5));
  xAxis(plot, xs, (index) => labels[index]);
  plot.append(svg("g", { class: "cursor" }, svg("rect", { class: "column-cursor", x: -slot / 2, width: slot, y: PAD.top, height: HEIGHT - PAD.top - PAD.bottom })));
  xs.forEach((x, i) => {
    let base = 0;
    for (const g of groups) {
      const value = g.values[i] || 0;
      if (!value) continue;
      plot.append(svg("rect", { class: ["column", `series-${g.tone}`], x: x - barWidth / 2, width: barWidth, y: y(base + value), height: Math.max(0.5, y(base) - y(base + value)) }));
      base += value;
    }
  });
  return xs;
}

/**
 * A ranked list with a bar per item: `value(item)` sizes the bar, `format` writes it, and
 * `detail(item)` adds a second figure.
 */
export function barList(items, { label, value, format, detail }) {
  if (!items.length) return h("p", { class: "muted small", text: "No traffic yet." });
  const max = Math.max(...items.map(value), 0);
  return h(
    "ol",
    { class: "bar-list", "aria-label": label },
    items.map((item) =>
      h(
        "li",
        {},
        h(
          "div",
          { class: "bar-text" },
          h("span", { class: "bar-name", title: item.name || "", text: item.name || "(none)" }),
          h("span", { class: "bar-value", text: format(value(item)) }),
          detail ? h("span", { class: "bar-detail", text: detail(item) }) : null,
        ),
        svg(
          "svg",
          { class: "bar", viewBox: "0 0 100 6", preserveAspectRatio: "none", "aria-hidden": "true" },
          svg("rect", { class: "bar-track", x: 0, y: 0, width: 100, height: 6 }),
          svg("rect", { class: "bar-fill", x: 0, y: 0, height: 6, width: max > 0 ? (value(item) / max) * 100 : 0 }),
        ),
      ),
    ),
  );
}
