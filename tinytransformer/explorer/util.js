// util.js: the few DOM and number helpers every view shares.

const SVG_NS = "http://www.w3.org/2000/svg";

// el("td", {class: "num", "data-value": 0.5}, ["0.5000"]): an HTML element with attributes
// and children (strings become text nodes, so token text is never parsed as HTML); an
// attribute whose value is null is left out, a name starting with "on" adds a listener.
function el(tag, attrs = {}, children = []) {
  return fill(document.createElement(tag), attrs, children);
}

function svgEl(tag, attrs = {}, children = []) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

function fill(node, attrs, children) {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined) continue;  // {checked: on ? "" : null}
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) {
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

// One colour per head, the same in every view (matplotlib's tab10, then darker shades).
const HEAD_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
  "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39",
  "#7b4173", "#3182bd"];

function headColor(h) {
  return HEAD_COLORS[h % HEAD_COLORS.length];
}

// Fixed decimals, without the "-0.0000" that toFixed gives tiny negative numbers.
function fmt(x, digits = 4) {
  const text = x.toFixed(digits);
  return Number(text) === 0 ? (0).toFixed(digits) : text;
}

// softmax(s)_j = exp(s_j - max s) / sum_k exp(s_k - max s); -Infinity (masked) gives 0.
// Subtracting the max keeps exp from overflowing and does not change the result.
function softmax(scores) {
  const top = Math.max(...scores.filter(Number.isFinite));
  const e = scores.map((s) => (Number.isFinite(s) ? Math.exp(s - top) : 0));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / total);
}

// White at 0, red for positive and blue for negative values, full colour at |x| = scale.
function diverging(x, scale) {
  const t = Math.min(1, Math.abs(x) / (scale || 1));
  const [r, g, b] = x >= 0 ? [214, 39, 40] : [31, 119, 180];
  const mix = (c) => Math.round(255 + (c - 255) * t);
  return `rgb(${mix(r)}, ${mix(g)}, ${mix(b)})`;
}

function maxAbs(rows) {
  return Math.max(1e-12, ...rows.flat().map(Math.abs));
}

// Long tokens are cut for the columns; the whole token stays in the tooltip.
function shortToken(text, limit = 14) {
  const shown = text.replace(/\n/g, "\u21b5").replace(/ /g, "\u2423");
  return shown.length > limit ? shown.slice(0, limit - 1) + "\u2026" : shown;
}
