// main.js: the header (which model, checkpoint and sentence), then one render of everything.

const VIEWS = {head: renderHeadView, model: renderModelView, neuron: renderNeuronView};

function renderAbout(header) {
  const facts = [["model", DATA.model], ["checkpoint", DATA.checkpoint || "(not from a file)"],
    ["sentence", DATA.sentence]];
  if (DATA.output !== null) facts.push(["translation", DATA.output]);
  header.replaceChildren(el("h1", {}, ["Attention explorer"]), el("dl", {}, facts.flatMap(
    ([name, value]) => [el("dt", {}, [name]), el("dd", {id: `about-${name}`}, [value])])));
}

function render() {
  renderControls(document.getElementById("controls"));
  for (const [name, draw] of Object.entries(VIEWS)) {
    const section = document.getElementById(`${name}-view`);
    section.hidden = name !== state.view;
    if (!section.hidden) draw(section);
  }
  renderNextToken(document.getElementById("next-token"));
  document.body.dataset.view = state.view;  // for tests and styles: which view is showing
}

renderAbout(document.getElementById("about"));
resetForKind();
render();
