// next_token.js: what a decoder-only model predicts after the last token, at temperature T,
//     p_i = exp(z_i / T) / sum_j exp(z_j / T)
// over all V logits z (the page stores every one, so the distribution is exact at any T).
// Dividing by T < 1 sharpens the distribution, T > 1 flattens it; the ranking never changes,
// so the top candidates stay the same tokens.

function renderNextToken(section) {
  const next = DATA.next;
  if (!next) {
    section.replaceChildren();
    return;
  }
  const shown = el("output", {id: "temperature-value"}, [state.temperature.toFixed(2)]);
  const table = el("table", {id: "next-table"}, nextRows(next));
  // Only the numbers change while the slider moves: replacing the slider would end the drag.
  const slider = el("input", {type: "range", id: "temperature", min: 0.05, max: 3, step: 0.05,
    value: state.temperature, oninput: (e) => {
      state.temperature = Number(e.target.value);
      shown.textContent = state.temperature.toFixed(2);
      table.replaceChildren(...nextRows(next));
    }});
  section.replaceChildren(
    el("h2", {}, [next.title || `Next token after \u201c${shortToken(next.after, 20)}\u201d`]),
    el("p", {class: "formula"}, [`p_i = exp(z_i / T) / \u03a3_j exp(z_j / T) over all `,
      `${next.logits.length} tokens;  T = `, shown, " ", slider]),
    table);
}

function nextRows(next) {
  const p = softmax(next.logits.map((z) => z / state.temperature));
  const rows = next.top.map((id, r) => el("tr", {class: "candidate", "data-id": id}, [
    el("th", {title: next.top_tokens[r]}, [shortToken(next.top_tokens[r], 20)]),
    el("td", {}, [el("span", {class: "bar", style: `width: ${Math.round(240 * p[id])}px`})]),
    el("td", {class: "num prob", "data-value": p[id]}, [fmt(p[id])])]));
  const others = next.logits.length - next.top.length;
  if (others === 0) return rows;
  const rest = 1 - next.top.reduce((a, id) => a + p[id], 0);
  return [...rows, el("tr", {class: "rest"}, [el("th", {}, [`the other ${others}`]), el("td"),
    el("td", {class: "num", "data-value": rest}, [fmt(rest)])])];
}
