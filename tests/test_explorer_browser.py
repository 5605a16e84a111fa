"""The attention explorer in a real browser: headless Chromium, driven by selenium, opens the
pages of a translator and a language model, switches layer and head, hovers tokens, opens the
model and neuron views and moves the temperature slider, and checks what the page shows against
the model's own numbers (computed by the test, not read from the page).

Needs Chromium and its driver (Debian/Ubuntu: `sudo apt-get install chromium chromium-driver`)
and selenium (in the test extra); without them these tests skip and say so. Screenshots of each
view go to $EXPLORER_SCREENSHOTS, else to pytest's temporary folder (the path is printed).

`python -m tests.test_explorer_browser CHECKPOINT` writes figures/explorer_*.png from a trained
translator (and SmolLM2's page when it is fetched): README's screenshots.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from tinytransformer.explorer import page_data, render
from tinytransformer.nn import inference

from .test_explorer import lm_case, tiny_lm, translator_case

ROOT = Path(__file__).resolve().parents[1]
INSTALL = ("the browser tests need Chromium, its driver and selenium: `sudo apt-get install "
           "chromium chromium-driver` (Debian/Ubuntu) and `pip install -e \".[test]\"`")
# Headless, and nothing that reaches for the network (updates, sync, field trials).
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage")


def start_chromium(width: int = 1400, height: int = 1000):
    """A headless Chromium under selenium, with a fresh profile; None when there is none."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = next(filter(None, map(shutil.which, ("chromium", "chromium-browser",
                                                   "google-chrome"))), None)
    driver = shutil.which("chromedriver")
    if binary is None or driver is None:
        return None
    options = webdriver.ChromeOptions()
    for flag in (*FLAGS, f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}",
                 f"--window-size={width},{height}"):
        options.add_argument(flag)
    options.binary_location = binary
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(driver))


@pytest.fixture(scope="module")
def browser():
    pytest.importorskip("selenium", reason=INSTALL)
    driver = start_chromium()
    if driver is None:
        pytest.skip(f"no Chromium or chromedriver on PATH: {INSTALL}")
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = Path(os.environ.get("EXPLORER_SCREENSHOTS") or tmp_path_factory.mktemp("explorer"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"explorer screenshots in {folder}")
    return folder


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """{name: (file, the page's data, {kind: the model's weights [L, H, T_q, T_k]})}"""
    folder = tmp_path_factory.mktemp("pages")
    out = {}
    for name, (data, weights) in {"translator": translator_case(False), "lm": lm_case()}.items():
        path = folder / f"{name}.html"
        path.write_text(render(data), encoding="utf-8")
        out[name] = (path, data, weights)
    return out


@pytest.fixture(scope="module")
def smollm2_page(tmp_path_factory):
    """SmolLM2's page and weights, like `pages` (the model loads in 10-45 s)."""
    from tinytransformer.explorer.sources import load_pretrained
    from tinytransformer.pretrained import ModelNotFetchedError

    try:
        model, tokenizer = load_pretrained("smollm2")
    except ModelNotFetchedError as e:
        pytest.skip(f"{e}")
    data = page_data(model, tokenizer, "The cat sat on the mat because it", "smollm2")
    with inference(model):
        _, maps = model(np.array([tokenizer.encode(data["sentence"])]), need_weights=True)
    path = tmp_path_factory.mktemp("llm") / "smollm2.html"
    path.write_text(render(data), encoding="utf-8")
    return path, data, {"self": np.stack([w[0] for w in maps])}


def open_page(browser, path):
    browser.get(path.as_uri())
    assert browser.execute_script("return document.body.dataset.view") == "head"


def choose(browser, element_id: str, index: int) -> None:
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element("id", element_id)).select_by_index(index)


LINES = """return [...document.querySelectorAll('line.attn')].map((l) => [Number(l.dataset.head),
  Number(l.dataset.q), Number(l.dataset.k), Number(l.dataset.weight),
  Number(l.getAttribute('stroke-opacity')), getComputedStyle(l).display !== 'none']);"""


def drawn(browser, visible_only=False):
    """The head view's lines: [(head, query, key, weight, opacity, visible)]"""
    return [row for row in browser.execute_script(LINES) if row[5] or not visible_only]


def test_pages_load_without_errors_or_network(browser, pages, shots):
    for name, (path, _, _) in pages.items():
        open_page(browser, path)
        assert browser.execute_script(
            "return performance.getEntriesByType('resource').length") == 0  # nothing fetched
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
        browser.save_screenshot(str(shots / f"{name}_head.png"))


@pytest.mark.parametrize("kind", [0, 1, 2], ids=["encoder_self", "decoder_self", "cross"])
def test_head_view_draws_the_weights(browser, pages, kind):
    path, data, weights = pages["translator"]
    open_page(browser, path)
    choose(browser, "kind", kind)
    choose(browser, "layer", 1)
    browser.find_element("id", "head-0").click()  # heads 0 and 1 -> head 1 only
    w = weights[data["kinds"][kind]["name"]][1, 1]  # [T_q, T_k]
    lines = drawn(browser)
    assert {h for h, *_ in lines} == {1}
    assert sorted((q, k) for _, q, k, *_ in lines) == sorted(zip(*np.nonzero(w > 0)))
    for _, q, k, weight, opacity, _ in lines:
        assert abs(weight - w[q, k]) <= 1e-6 and abs(opacity - w[q, k]) <= 1e-6


def test_hovering_a_token_keeps_its_lines(browser, pages):
    from selenium.webdriver import ActionChains

    path, data, weights = pages["translator"]
    open_page(browser, path)
    choose(browser, "kind", 1)  # decoder self-attention: query i has i + 1 keys
    w = weights["decoder_self"][0]  # [H, T_q, T_k], both heads shown
    for side, index, count in (("q", 3, (w[:, 3] > 0).sum()), ("k", 2, (w[:, :, 2] > 0).sum())):
        token = browser.find_element("css selector", f"text.token.{side}[data-index='{index}']")
        ActionChains(browser).move_to_element(token).perform()
        visible = drawn(browser, visible_only=True)
        column = 1 if side == "q" else 2
        assert len(visible) == count and all(row[column] == index for row in visible)
    ActionChains(browser).move_to_element(browser.find_element("tag name", "h1")).perform()
    assert len(drawn(browser, visible_only=True)) == (w > 0).sum()


def test_model_view_opens_a_head(browser, pages, shots):
    path, data, _ = pages["translator"]
    open_page(browser, path)
    choose(browser, "kind", 2)
    browser.find_element("id", "view-model").click()
    browser.save_screenshot(str(shots / "translator_model.png"))
    thumbs = browser.find_elements("css selector", "canvas.thumb")
    L, H = np.shape(data["kinds"][2]["weights"])[:2]
    assert len(thumbs) == L * H
    browser.find_element("css selector", "canvas.thumb[data-layer='1'][data-head='0']").click()
    assert browser.execute_script("return document.body.dataset.view") == "head"
    assert browser.find_element("id", "layer").get_attribute("value") == "1"
    assert {h for h, *_ in drawn(browser)} == {0}


NEURON = """return [...document.querySelectorAll('#neuron-table tr.key')].map((r) =>
  [r.classList.contains('masked'), Number(r.querySelector('td.softmax').dataset.value),
   r.querySelector('td.softmax').textContent,
   Number(r.querySelector('td.model').dataset.value)]);"""


@pytest.mark.parametrize("page, kind, query, head", [
    ("translator", 0, 4, 1), ("translator", 1, 5, 0), ("translator", 2, 7, 1), ("lm", 0, 6, 3),
    pytest.param("smollm2", 0, 7, 4, marks=pytest.mark.slow)])  # head 4 reads key head 1
def test_neuron_view_follows_the_formula(browser, pages, shots, page, kind, query, head, request):
    path, data, weights = (request.getfixturevalue("smollm2_page") if page == "smollm2"
                           else pages[page])
    open_page(browser, path)
    if page == "translator":
        choose(browser, "kind", kind)
    browser.find_element("css selector", f"text.token.q[data-index='{query}']").click()
    assert browser.execute_script("return document.body.dataset.view") == "neuron"
    choose(browser, "neuron-head", head)
    spec = data["kinds"][kind]
    model = weights[spec["name"]][0, head, query]  # [T_k]: layer 0, computed by the test
    rows = browser.execute_script(NEURON)
    softmax = np.array([p for _, p, _, _ in rows])
    np.testing.assert_allclose(softmax, model, rtol=0, atol=1e-6)  # computed in JavaScript
    np.testing.assert_allclose([m for *_, m in rows], model, rtol=0, atol=1e-6)
    assert all(text.startswith(f"{p:.4f}") for _, p, text, _ in rows)
    total = float(browser.find_element("id", "softmax-sum").get_attribute("data-value"))
    assert abs(total - 1) <= 1e-6 and abs(softmax.sum() - 1) <= 1e-6
    masked = [m for m, *_ in rows]
    assert masked == [spec["causal"] and j > query for j in range(len(rows))]
    assert all(p == 0 for m, p, *_ in rows if m)
    browser.find_element("css selector", "#neuron-table tr.key").click()
    detail = browser.find_element("css selector", "#neuron-table tr.detail.open")
    assert "q \u00b7 k_j = (" in detail.text
    browser.save_screenshot(str(shots / f"{page}_{spec['name']}_neuron.png"))


def test_temperature_reshapes_the_next_token(browser, pages, shots):
    from selenium.webdriver import ActionChains

    path, data, _ = pages["lm"]
    model, tokenizer = tiny_lm()
    logits = model(np.array([tokenizer.encode(data["sentence"])])).data[0, -1].astype(float)
    open_page(browser, path)
    slider = browser.find_element("id", "temperature")
    for move in (-60, 90, 40):  # dragged with the mouse: the slider must survive its own input
        ActionChains(browser).click_and_hold(slider).move_by_offset(move, 0).release().perform()
        T = float(slider.get_attribute("value"))
        rows = browser.execute_script("return [...document.querySelectorAll('tr.candidate')]"
                                      ".map((r) => [Number(r.dataset.id), "
                                      "Number(r.querySelector('td.prob').dataset.value)]);")
        p = np.exp((logits - logits.max()) / T)
        p /= p.sum()
        assert [i for i, _ in rows] == np.argsort(-logits)[:10].tolist()
        np.testing.assert_allclose([q for _, q in rows], p[[i for i, _ in rows]], atol=1e-6)
        assert browser.find_element("id", "temperature-value").text == f"{T:.2f}"
    assert T != 1.0
    browser.save_screenshot(str(shots / "lm_temperature.png"))


def has_cjk_font() -> bool | None:
    """Whether fontconfig knows a font for Chinese (None: no fontconfig to ask)."""
    if shutil.which("fc-list") is None:
        return None
    return bool(subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout)


GLYPHS = """const label = [...document.querySelectorAll('text.token')]
  .find((t) => /[\\u4e00-\\u9fff]/.test(t.textContent));
const style = getComputedStyle(label);
function ink(text) {
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 64;
  const ctx = canvas.getContext('2d');
  ctx.font = `${style.fontSize} ${style.fontFamily}`;
  ctx.fillText(text, 8, 48);
  return [ctx.measureText(text).width, ctx.getImageData(0, 0, 64, 64).data.join()];
}
const [a, b, none] = [label.textContent.trim()[0], '\\u4e00', '\\u{10fffd}'].map(ink);
return {width: a[0], inked: /[1-9]/.test(a[1]), differ: a[1] !== b[1],
  not_tofu: a[1] !== none[1] && b[1] !== none[1]};"""


def test_chinese_labels_have_glyphs(browser, pages):
    """A Chinese label drawn in the page's own font has ink, differs from another character,
    and from a code point no font has (the box a missing glyph becomes)."""
    found = has_cjk_font()
    if not found:
        pytest.skip("no font for Chinese on this machine (fc-list :lang=zh finds none), so the "
                    "browser can only draw boxes: `sudo apt-get install fonts-wqy-microhei`"
                    if found is False else "no fc-list to ask which fonts cover Chinese")
    open_page(browser, pages["translator"][0])
    choose(browser, "kind", 2)  # cross-attention: Chinese queries
    result = browser.execute_script(GLYPHS)
    assert result == {"width": result["width"], "inked": True, "differ": True, "not_tofu": True}
    assert result["width"] > 0


# -- README's screenshots ---------------------------------------------------------------------


def shoot(driver, name: str) -> None:
    """The page down to its last element, in one picture, as figures/NAME (the window's height
    includes the browser's own bars, even headless)."""
    driver.set_window_size(1200, 1800)
    bottom, bars = driver.execute_script("return [document.body.getBoundingClientRect().bottom, "
                                         "window.outerHeight - window.innerHeight]")
    driver.set_window_size(1200, int(bottom) + 24 + bars)
    driver.save_screenshot(str(ROOT / "figures" / name))


def write_figures(checkpoint: str) -> None:
    """The translator's three views, then SmolLM2's neuron view (it must be fetched)."""
    from tinytransformer.explorer.sources import write_page

    driver, folder = start_chromium(1200, 900), Path(tempfile.mkdtemp())
    print(write_page(folder / "tr.html", "my mother will watch a movie at home tomorrow .",
                     checkpoint))
    driver.get((folder / "tr.html").as_uri())
    choose(driver, "kind", 2)
    choose(driver, "layer", 1)
    shoot(driver, "explorer_head.png")
    driver.find_element("id", "view-model").click()
    shoot(driver, "explorer_model.png")
    driver.find_element("id", "view-head").click()
    driver.find_element("css selector", "text.token.q[data-index='6']").click()  # 在
    driver.find_element("css selector", "#neuron-table tr.key[data-key='7']").click()  # home
    shoot(driver, "explorer_neuron.png")
    print(write_page(folder / "llm.html", "The cat sat on the mat because it", name="smollm2"))
    driver.get((folder / "llm.html").as_uri())
    driver.find_element("id", "view-neuron").click()
    choose(driver, "layer", 12)
    shoot(driver, "explorer_smollm2.png")
    driver.quit()


if __name__ == "__main__":
    write_figures(*sys.argv[1:])
