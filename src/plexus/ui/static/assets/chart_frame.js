// What the SVG charts share: a plot that redraws at its real width, a y axis with round
// ticks, a tooltip placed through CSS custom properties (no inline style attribute: CSP),
// and pointer and keyboard focus on one column at a time.

import { h, svg } from "./dom.js";

export const HEIGHT = 200;
export const PAD = { top: 12, right: 14, bottom: 26, left: 52 };

/**
 * A chart's frame. `draw(plot, width)` fills the SVG and returns its columns' centres (x of
 * each column); `describe(index)` gives the tooltip's content for a column, and
 * `place(index)` moves what else marks the focused column.
 */
export function chartFrame({ label, draw, describe, place = () => {} }) {
  const plot = svg("svg", { class: "chart-svg", role: "img", "aria-label": label, height: HEIGHT });
  const tooltip = h("div", { class: "chart-tooltip", hidden: true, "aria-hidden": "true" });
  const frame = h("div", { class: "chart-frame", tabindex: "0", "aria-label": `${label}: use the arrow keys to read values` }, plot, tooltip);
  const live = h("div", { class: "visually-hidden", "aria-live": "polite" });
  let width = 0;
  let columns = [];
  let focused = null;

  const redraw = () => {
    plot.replaceChildren();
    if (!width) return;
    plot.setAttribute("viewBox", `0 0 ${width} ${HEIGHT}`);
    plot.setAttribute("width", width);
    columns = draw(plot, width) || [];
    if (focused !== null) show(Math.min(focused, columns.length - 1));
  };
  const show = (index) => {
    const cursor = plot.querySelector(".cursor");
    if (index === null || index < 0 || !columns.length) {
      focused = null;
      tooltip.hidden = true;
      if (cursor) cursor.classList.remove("visible");
      return;
    }
    focused = index;
    const x = columns[index];
    tooltip.replaceChildren(...describe(index));
    tooltip.hidden = false;
    tooltip.classList.toggle("flip", x > width / 2);
    tooltip.style.setProperty("--x", `${x}px`);
    if (cursor) {
      cursor.setAttribute("transform", `translate(${x} 0)`);
      cursor.classList.add("visible");
    }
    place(index);
  };
  const nearest = (clientX) => {
    const left = plot.getBoundingClientRect().left;
    let best = 0;
    columns.forEach((x, index) => {
      if (Math.abs(x - (clientX - left)) < Math.abs(columns[best] - (clientX - left))) best = index;
    });
    return best;
  };

  frame.addEventListener("pointermove", (event) => show(nearest(event.clientX)));
  frame.addEventListener("pointerleave", () => show(null));
  frame.addEventListener("blur", () => show(null));
  frame.addEventListener("keydown", (event) => {
    const last = columns.length - 1;
    const moves = { ArrowLeft: (focused ?? last + 1) - 1, ArrowRight: (focused ?? -1) + 1, Home: 0, End: last };
    if (event.key === "Escape") show(null);
    if (!(event.key in moves)) return;
    event.preventDefault();
    show(Math.max(0, Math.min(last, moves[event.key])));
    live.textContent = tooltip.textContent;
  });
  const observer = new ResizeObserver((entries) => {
    const next = Math.floor(entries[0].contentRect.width);
    if (next !== width) {
      width = next;
      redraw();
    }
  });
  observer.observe(frame);
  return { element: h("div", { class: "chart-body" }, frame, live), redraw, destroy: () => observer.disconnect() };
}

/** The top of the y axis and its tick step: round numbers covering `max`. */
export function yScale(max, count = 4) {
  if (!(max > 0)) return { top: 1, step: 0.25 };
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].find((f) => f * power >= raw) * power;
  return { top: step * Math.ceil(max / step), step };
}

/** Horizontal grid lines and their labels, for values from 0 to `top`. */
export function yAxis(plot, width, top, step, format) {
  const inner = HEIGHT - PAD.top - PAD.bottom;
  for (let value = 0; value <= top + step / 2; value += step) {
    const y = PAD.top + inner - (value / top) * inner;
    plot.append(
      svg("line", { class: "grid", x1: PAD.left, x2: width - PAD.right, y1: y, y2: y }),
      svg("text", { class: "tick", x: PAD.left - 8, y: y + 4, "text-anchor": "end", text: format(value) }),
    );
  }
  return (value) => PAD.top + inner - (value / top) * inner;
}

/** Labels under the columns at `xs`, as many as fit. */
export function xAxis(plot, xs, labelOf) {
  const fit = Math.max(2, Math.floor((xs[xs.length - 1] - xs[0]) / 84) + 1);
  const every = Math.max(1, Math.ceil(xs.length / fit));
  xs.forEach((x, index) => {
    if (index % every !== 0) return;
    plot.append(svg("text", { class: "tick", x, y: HEIGHT - 8, "text-anchor": "middle", text: labelOf(index) }));
  });
}

/** A coloured square and a text, for legends and tooltips. */
export function swatchLine(tone, ...text) {
  return h("div", { class: "swatch-line" }, h("span", { class: ["swatch", `series-${tone}`] }), text);
}

/** The text shown when a chart has nothing to draw. */
export function emptyText(plot, width, text) {
  plot.append(svg("text", { class: "chart-empty", x: width / 2, y: HEIGHT / 2, "text-anchor": "middle", text }));
}
