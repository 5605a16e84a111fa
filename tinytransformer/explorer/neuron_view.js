// neuron_view.js: Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V (§4.1) for one query and
// one head, number by number: the query vector q_i, each key vector k_j, their element-wise
// products, the sum q_i . k_j, the scaled score s_j = q_i . k_j / sqrt(D), and the softmax
// a_j. The page computes all of it here, from q and k; the last column is the model's own
// weight, so that a reader sees the two agree. Click a key's row to see its sum written out.

function neuronRows(k) {
  const G = k.q[0].length / k.k[0].length;  // query heads per key head (grouped-query attention)
  const q = k.q[state.layer][state.head][state.query];
  const keys = k.k[state.layer][Math.floor(state.head / G)];
  const rows = keys.map((kj, j) => {
    const products = q.map((x, d) => x * kj[d]);
    const dot = products.reduce((a, b) => a + b, 0);
    const masked = k.causal && j > state.query;  // M_ij = -infinity: a later position
    return {j, kj, products, dot, masked, score: masked ? -Infinity : dot / Math.sqrt(q.length)};
  });
  const p = softmax(rows.map((r) => r.score));
  const model = k.weights[state.layer][state.head][state.query];
  rows.forEach((r, j) => Object.assign(r, {p: p[j], model: model[j]}));
  return {q, rows, G};
}

function renderNeuronView(section) {
  const k = currentKind();
  const {q, rows, G} = neuronRows(k);
  const D = q.length;
  const formula = el("p", {class: "formula"}, [`s_j = q \u00b7 k_j / \u221a${D}`,
    k.causal ? " (\u2212\u221e for a later key: the causal mask)" : "",
    `,   a_j = exp(s_j) / \u03a3 exp(s_k),   layer ${state.layer}, head ${state.head}, D = ${D}`]);
  section.replaceChildren(neuronPicks(k, G), formula, el("p", {class: "note"}, [k.note]),
    neuronTable(k, q, rows));
}

// The head and the query token; with grouped-query attention, which heads share the keys.
function neuronPicks(k, G) {
  const first = G * Math.floor(state.head / G);
  return el("p", {class: "pick"}, [
    "head ", select("neuron-head", k.q[0].map((_, h) => `${h}`), state.head,
      (h) => setState({head: h})),
    " query ", select("neuron-query", k.queries.map((t, i) => `${i}: ${shortToken(t)}`),
      state.query, (i) => setState({query: i})),
    G > 1 ? ` (grouped-query attention: heads ${first}\u2013${first + G - 1} share these keys)`
      : ""]);
}

function neuronTable(k, q, rows) {
  const scale = maxAbs([q, ...rows.map((r) => r.kj)]);
  const productScale = maxAbs(rows.map((r) => r.products));
  const header = el("tr", {}, ["key", "k_j", "q \u2218 k_j (element-wise)", "q \u00b7 k_j",
    `\u00f7 \u221a${q.length} = s_j`, "softmax a_j", "model's a_j"].map((t) => el("th", {}, [t])));
  const query = el("tr", {class: "query"}, [
    el("th", {}, [`q: ${shortToken(k.queries[state.query])}`]),
    el("td", {}, [strip(q, scale, "q-vector")]), el("td", {colspan: 5})]);
  const body = rows.flatMap((r) => [keyRow(k, r, scale, productScale), detailRow(r, q)]);
  return el("table", {id: "neuron-table"}, [header, query, ...body, totalRow(rows)]);
}

// The softmax sums to 1, and it is the model's own weights (to float32's precision).
function totalRow(rows) {
  const sum = rows.reduce((a, r) => a + r.p, 0);
  const diff = Math.max(...rows.map((r) => Math.abs(r.p - r.model)));
  return el("tr", {class: "total"}, [
    el("th", {colspan: 5}, ["sum of the softmax; largest |softmax \u2212 model|"]),
    el("td", {id: "softmax-sum", class: "num", "data-value": sum}, [fmt(sum, 6)]),
    el("td", {id: "max-diff", class: "num", "data-value": diff}, [diff.toExponential(1)])]);
}

function keyRow(k, r, scale, productScale) {
  const cells = r.masked
    ? [el("td", {class: "num dot"}, ["\u2014"]), el("td", {class: "num score"}, ["\u2212\u221e"])]
    : [el("td", {class: "num dot", "data-value": r.dot}, [fmt(r.dot)]),
      el("td", {class: "num score", "data-value": r.score}, [fmt(r.score)])];
  return el("tr", {class: r.masked ? "key masked" : "key", "data-key": r.j,
    onclick: (e) => e.currentTarget.nextSibling.classList.toggle("open")}, [
    el("th", {title: k.keys[r.j]}, [shortToken(k.keys[r.j])]),
    el("td", {}, [strip(r.kj, scale, "k-vector")]),
    el("td", {}, [strip(r.products, productScale, "products")]),
    ...cells,
    el("td", {class: "num softmax", "data-value": r.p}, [fmt(r.p), bar(r.p)]),
    el("td", {class: "num model", "data-value": r.model}, [fmt(r.model)])]);
}

// The sum q . k_j written out term by term, then the scaling and the softmax.
function detailRow(r, q) {
  const terms = q.map((x, d) => `(${fmt(x, 3)})(${fmt(r.kj[d], 3)})`).join(" + ");
  const text = r.masked
    ? "masked: this key comes after the query, so s_j = \u2212\u221e and a_j = 0"
    : `q \u00b7 k_j = ${terms} = ${fmt(r.dot)};   s_j = ${fmt(r.dot)} / \u221a${q.length} = ` +
      `${fmt(r.score)};   a_j = ${fmt(r.p, 6)}`;
  return el("tr", {class: "detail"}, [el("td", {colspan: 7}, [text])]);
}

// A vector as a row of cells coloured by value (red > 0, blue < 0); the value on hover.
function strip(values, scale, name) {
  const width = Math.max(3, Math.floor(192 / values.length));
  return el("span", {class: `strip ${name}`}, values.map((x) => el("span", {
    class: "cell", title: fmt(x), "data-value": x,
    style: `width: ${width}px; background: ${diverging(x, scale)}`,
  })));
}

function bar(p) {
  return el("span", {class: "bar", style: `width: ${Math.round(60 * p)}px`});
}
