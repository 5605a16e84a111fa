// head_view.js: queries on the left, keys on the right, and for each chosen head a line from
// query i to key j whose opacity is the weight a_ij (masked pairs, weight 0, get no line).
// Hovering a token keeps only its lines; clicking a query opens it in the neuron view.

const ROW = 24;          // px per token
const COLUMN = 130;      // px for a column of tokens
const SPAN = 200;        // px between the two columns, where the lines go

function renderHeadView(section) {
  const k = currentKind();
  const rows = Math.max(k.queries.length, k.keys.length);
  const width = 2 * COLUMN + SPAN;
  const box = svgEl("svg", {id: "head-svg", width, height: (rows + 1) * ROW});
  box.append(
    svgEl("text", {x: COLUMN - 8, y: 14, class: "side", "text-anchor": "end"}, ["queries"]),
    svgEl("text", {x: COLUMN + SPAN + 8, y: 14, class: "side"}, ["keys"]));
  box.append(...attentionLines(k));
  k.queries.forEach((t, i) => box.append(tokenLabel(box, t, "q", i, COLUMN - 8, "end")));
  k.keys.forEach((t, j) => box.append(tokenLabel(box, t, "k", j, COLUMN + SPAN + 8, "start")));
  const shown = state.heads.map((on, h) => (on ? h : null)).filter((h) => h !== null);
  section.replaceChildren(
    el("p", {class: "hint"}, [`Layer ${state.layer}, heads ${shown.join(", ") || "(none)"}. ` +
      "Hover a token to see only its lines; click a query for the neuron view."]),
    el("p", {class: "note"}, [k.note]), box);
}

function rowY(i) {
  return (i + 1) * ROW + ROW / 2;
}

function attentionLines(k) {
  const lines = [];
  const w = k.weights[state.layer];
  state.heads.forEach((on, h) => {
    if (!on) return;
    w[h].forEach((row, i) => row.forEach((a, j) => {
      if (a <= 0) return;
      lines.push(svgEl("line", {
        class: "attn", x1: COLUMN, y1: rowY(i), x2: COLUMN + SPAN, y2: rowY(j),
        stroke: headColor(h), "stroke-opacity": a, "data-head": h, "data-q": i, "data-k": j,
        "data-weight": a,
      }, [svgEl("title", {}, [`head ${h}: ${k.queries[i]} \u2192 ${k.keys[j]}  ${fmt(a)}`])]));
    }));
  });
  return lines;
}

function tokenLabel(box, text, side, index, x, anchor) {
  const label = svgEl("text", {
    x, y: rowY(index) + 5, "text-anchor": anchor, class: `token ${side}`, "data-index": index,
    onmouseenter: () => isolate(box, side, index),
    onmouseleave: () => isolate(box, null, null),
    onclick: side === "q" ? () => openNeuron(index) : null,
  }, [shortToken(text)]);
  label.append(svgEl("title", {}, [text]));
  return label;
}

// Keep the lines of one token (side "q" or "k") and hide the others; side null shows all.
function isolate(box, side, index) {
  for (const line of box.querySelectorAll("line.attn")) {
    line.classList.toggle("hidden", side !== null && Number(line.dataset[side]) !== index);
  }
  for (const token of box.querySelectorAll("text.token")) {
    const mine = side !== null && token.classList.contains(side) &&
      Number(token.dataset.index) === index;
    token.classList.toggle("focus", mine);
  }
}

function openNeuron(query) {
  const first = state.heads.indexOf(true);
  setState({view: "neuron", query, head: first >= 0 ? first : state.head});
}
