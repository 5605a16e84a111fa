// model_view.js: every layer (rows) and head (columns) of the chosen kind at once, each as a
// small attention matrix (query rows, key columns, the head's colour as strong as the weight).
// A click on one opens it in the head view.

const THUMB = 96;  // px: a thumbnail's side, whatever the number of tokens

function renderModelView(section) {
  const k = currentKind();
  const heads = k.weights[0].length;
  const header = el("tr", {}, [el("th"), ...k.weights[0].map((_, h) =>
    el("th", {style: `color: ${headColor(h)}`}, [`head ${h}`]))]);
  const rows = k.weights.map((layer, l) => el("tr", {}, [el("th", {}, [`layer ${l}`]),
    ...layer.map((w, h) => el("td", {}, [thumbnail(w, l, h)]))]));
  section.replaceChildren(
    el("p", {class: "hint"}, [`${k.label}: ${k.weights.length} layers \u00d7 ${heads} heads. ` +
      "Rows of a thumbnail are queries, columns keys; click one to open it in the head view."]),
    el("table", {class: "grid"}, [header, ...rows]));
}

function thumbnail(w, layer, head) {
  const cell = Math.max(1, Math.floor(THUMB / Math.max(w.length, w[0].length)));
  const canvas = el("canvas", {
    class: "thumb", width: cell * w[0].length, height: cell * w.length,
    "data-layer": layer, "data-head": head, title: `layer ${layer}, head ${head}`,
    onclick: () => setState({view: "head", layer, heads: state.heads.map((_, h) => h === head)}),
  });
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = headColor(head);
  w.forEach((row, i) => row.forEach((a, j) => {
    ctx.globalAlpha = a;
    ctx.fillRect(j * cell, i * cell, cell, cell);
  }));
  return canvas;
}
