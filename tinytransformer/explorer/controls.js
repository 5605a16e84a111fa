// controls.js: the page's data and state, and the controls that change the state. Every change
// goes through setState, which re-draws the page: each view is a function of (DATA, state).

const DATA = JSON.parse(document.getElementById("explorer-data").textContent);

const state = {
  view: "head",        // "head", "model" or "neuron"
  kind: 0,             // index into DATA.kinds (encoder self-, decoder self-, cross-attention)
  layer: 0,
  heads: [],           // heads shown in the head view (booleans)
  head: 0,             // the head of the neuron view
  query: 0,            // the query token of the neuron view
  temperature: 1,
};

function currentKind() {
  return DATA.kinds[state.kind];
}

// Heads and tokens depend on the kind: start each kind with every head and the last query.
function resetForKind() {
  const k = currentKind();
  state.layer = Math.min(state.layer, k.weights.length - 1);
  state.heads = k.weights[0].map(() => true);
  state.head = Math.min(state.head, state.heads.length - 1);
  state.query = k.queries.length - 1;
}

function setState(changes) {
  const kindChanged = "kind" in changes && changes.kind !== state.kind;
  Object.assign(state, changes);
  if (kindChanged) resetForKind();
  render();
}

function select(id, options, value, onChange) {
  return el("select", {id, onchange: (e) => onChange(Number(e.target.value))},
    options.map((text, i) => el("option", {value: i, selected: i === value ? "" : null}, [text])));
}

function renderControls(nav) {
  const k = currentKind();
  const tabs = ["head", "model", "neuron"].map((v) => el("button", {
    id: `view-${v}`, class: v === state.view ? "tab active" : "tab",
    onclick: () => setState({view: v}),
  }, [`${v} view`]));
  const kinds = DATA.kinds.length > 1
    ? el("label", {}, ["attention ", select("kind", DATA.kinds.map((x) => x.label), state.kind,
      (i) => setState({kind: i}))])
    : el("span", {class: "kind"}, [k.label]);
  const layers = el("label", {}, ["layer ", select("layer", k.weights.map((_, i) => `${i}`),
    state.layer, (i) => setState({layer: i}))]);
  nav.replaceChildren(el("div", {class: "tabs"}, tabs), kinds, layers, headToggles());
  if (state.view === "model") layers.classList.add("unused");
}

// One checkbox per head, in the head's colour; the neuron view uses its own single head.
function headToggles() {
  const toggle = (h, on) => setState({heads: state.heads.map((was, i) => (i === h ? on : was))});
  const boxes = state.heads.map((on, h) => el("label", {class: "head",
    style: `color: ${headColor(h)}`}, [el("input", {type: "checkbox", id: `head-${h}`,
    checked: on ? "" : null, onchange: (e) => toggle(h, e.target.checked)}), `${h}`]));
  const unused = state.view === "head" ? "" : " unused";
  return el("span", {class: `heads${unused}`}, ["heads ", ...boxes]);
}
