// Small SVG charts for the admin dashboard, drawn with no third-party code:
// columns (optionally stacked, or as shares of each column) and horizontal
// bar lists. Colours come from CSS classes, so the strict CSP holds.

const SVG_NS = "http://www.w3.org/2000/svg";
const WIDTH = 640;
const HEIGHT = 220;
const MARGIN = { top: 12, right: 12, bottom: 30, left: 44 };
const ROW_HEIGHT = 26;
const LABEL_WIDTH = 170;

function element(name, attributes = {}, text = null) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

/** Round `value` up to 1, 2 or 5 times a power of ten, so axis labels read well. */
export function niceMax(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) {
    if (step * power >= value) return step * power;
  }
  return 10 * power;
}

function reset(figure, width, height, label) {
  for (const old of figure.querySelectorAll("svg, .legend, .empty")) old.remove();
  const svg = element("svg", {
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": label,
    class: "chart-svg",
  });
  figure.append(svg);
  return svg;
}

function legend(figure, series) {
  const list = document.createElement("ul");
  list.className = "legend";
  for (const { name, key } of series) {
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = `swatch series-${key}`;
    item.append(swatch, document.createTextNode(name));
    list.append(item);
  }
  figure.append(list);
}

function empty(figure, svg) {
  svg.remove();
  const note = document.createElement("p");
  note.className = "empty hint";
  note.textContent = "No data in this range.";
  figure.append(note);
  figure.dataset.bars = "0";
}

/**
 * Draw one column per label; several series stack in each column.
 * @param {HTMLElement} figure  the <figure> to draw in, replacing an earlier chart
 * @param {{labels: string[], series: {name: string, key: string, values: number[]}[],
 *          percent?: boolean, unit?: string}} data
 *   With `percent`, each column shows its series as shares of the column's total.
 */
export function columnChart(figure, { labels, series, percent = false, unit = "" }) {
  const svg = reset(figure, WIDTH, HEIGHT, figure.querySelector("figcaption")?.textContent ?? "");
  const totals = labels.map((_, index) => series.reduce((sum, s) => sum + s.values[index], 0));
  if (totals.every((total) => total === 0)) return empty(figure, svg);

  const top = percent ? 100 : niceMax(Math.max(...totals));
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const y = (value) => MARGIN.top + plotHeight - (value / top) * plotHeight;

  // horizontal grid lines with their values
  for (const fraction of [0, 0.5, 1]) {
    const value = top * fraction;
    svg.append(element("line", { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(value), y2: y(value), class: "grid" }));
    const text = percent ? `${Math.round(value)}%` : `${Math.round(value * 10) / 10}`;
    svg.append(element("text", { x: MARGIN.left - 6, y: y(value) + 4, class: "axis", "text-anchor": "end" }, text));
  }

  const step = plotWidth / labels.length;
  const barWidth = Math.max(1, Math.min(step * 0.8, 48));
  let drawn = 0;
  labels.forEach((label, index) => {
    const x = MARGIN.left + index * step + (step - barWidth) / 2;
    let base = 0;
    for (const { name, key, values } of series) {
      const raw = values[index];
      if (raw <= 0) continue;
      const value = percent ? (raw / totals[index]) * 100 : raw;
      const rect = element("rect", {
        x,
        y: y(base + value),
        width: barWidth,
        height: Math.max(1, y(base) - y(base + value)),
        class: `bar series-${key}`,
      });
      const shown = percent ? `${Math.round(value)}% (${raw}${unit})` : `${raw}${unit}`;
      rect.append(element("title", {}, `${label}: ${series.length > 1 ? `${name} ` : ""}${shown}`));
      svg.append(rect);
      base += value;
      drawn += 1;
    }
  });

  // label every column when there is room, else about eight of them
  const every = Math.max(1, Math.ceil(labels.length / 8));
  labels.forEach((label, index) => {
    if (index % every !== 0) return;
    const x = MARGIN.left + index * step + step / 2;
    svg.append(element("text", { x, y: HEIGHT - 10, class: "axis", "text-anchor": "middle" }, label));
  });
  if (series.length > 1) legend(figure, series);
  figure.dataset.bars = String(drawn);
}

/**
 * Draw one horizontal bar per entry, in the order given.
 * @param {HTMLElement} figure
 * @param {[string, number][]} entries  label and count
 */
export function barList(figure, entries, key = "items") {
  const height = MARGIN.top + Math.max(1, entries.length) * ROW_HEIGHT + 8;
  const svg = reset(figure, WIDTH, height, figure.querySelector("figcaption")?.textContent ?? "");
  if (entries.length === 0 || entries.every(([, count]) => count === 0)) return empty(figure, svg);

  const top = niceMax(Math.max(...entries.map(([, count]) => count)));
  const plotWidth = WIDTH - LABEL_WIDTH - MARGIN.right - 48;
  entries.forEach(([label, count], index) => {
    const y = MARGIN.top + index * ROW_HEIGHT;
    svg.append(element("text", { x: LABEL_WIDTH - 8, y: y + 16, class: "axis", "text-anchor": "end" }, label));
    const width = Math.max(1, (count / top) * plotWidth);
    const rect = element("rect", { x: LABEL_WIDTH, y: y + 4, width, height: ROW_HEIGHT - 8, class: `bar series-${key}` });
    rect.append(element("title", {}, `${label}: ${count}`));
    svg.append(rect);
    svg.append(element("text", { x: LABEL_WIDTH + width + 6, y: y + 16, class: "axis" }, String(count)));
  });
  figure.dataset.bars = String(entries.filter(([, count]) => count > 0).length);
}
