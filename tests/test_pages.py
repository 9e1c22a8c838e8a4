"""Every dataset's page on the local Hub, and the static catalog, as a reader sees them in headless Chromium.

One browser for the module (Debian's chromium + chromedriver through selenium). For each page: no console
error, every image decoded, every link answering 200, and the views showing what the data says: boxes at
their coordinates (checked on screenshot pixels), answers and aligned sentences, documents in reading order,
audio players with the segment's duration. Screenshots are kept under test-artifacts/pages/.
"""
from __future__ import annotations

import base64
import functools
import http.server
import io
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import wave
from pathlib import Path
from urllib.parse import urlsplit

import PIL.Image
import PIL.ImageColor
import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from builders.hub import pages, preview
from builders.cards import load_card_metadata
from builders.hub.catalog import write_catalog
from builders.samples import GENERATORS
from conftest import realdata_dir
from helpers import PROJECT, parquet_rows, run_script

ARTIFACTS = PROJECT / "test-artifacts" / "pages"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1400,1000", "--force-device-scale-factor=1")
DATASETS = sorted(GENERATORS)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def signed_in(browser, local_hub, published_samples):
    """The browser signed in through the hub's own form, as a user would."""
    sign_in(browser, local_hub)
    assert browser.current_url == f"{local_hub.endpoint}/"
    assert "signed in as" in browser.find_element(By.TAG_NAME, "nav").text
    return browser


def sign_in(browser, hub, token: str | None = None) -> None:
    browser.get(f"{hub.endpoint}/login?next=/")
    browser.find_element(By.NAME, "token").send_keys(token or hub.token)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(lambda: "/login" not in browser.current_url or "Sign in" not in browser.title, "the sign-in answer")


# Helpers --------------------------------------------------------------------------------------------------


def console_errors(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]


def open_page(driver, url: str) -> None:
    console_errors(driver)  # drain what earlier pages left
    driver.get(url)
    driver.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")


def save_screenshot(driver, name: str) -> Path:
    """The whole page, not only the viewport (kept as a test artifact)."""
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 15000), "scale": 1}})
    path = ARTIFACTS / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def viewport_pixels(driver) -> PIL.Image.Image:
    return PIL.Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")


def images_not_loaded(driver) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)"
        ".map(i => i.alt || i.src.slice(0, 60))")


def links(driver) -> list[str]:
    return driver.execute_script("return Array.from(document.links).map(a => a.href)")


def status_of(url: str, cookie: str | None = None) -> int:
    request = urllib.request.Request(url, method="GET", headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()  # the whole body, as a browser would: the server must be able to send it
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def check_links(driver, origin: str) -> int:
    """Every link to this site answers 200 (with the browser's cookies); other sites are not contacted (no
    network in tests), but must be well-formed http(s) URLs. Returns how many links were followed."""
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies())
    followed = 0
    for href in sorted(set(links(driver))):
        parts = urlsplit(href)
        if f"{parts.scheme}://{parts.netloc}" == origin:
            assert status_of(href.split("#")[0], cookie) == 200, href
            followed += 1
        elif parts.scheme == "mailto":
            assert re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+", parts.path), href
        else:
            assert parts.scheme in ("http", "https") and "." in parts.netloc, href
    return followed


def check_page(driver, url: str, name: str, origin: str) -> None:
    open_page(driver, url)
    assert driver.find_elements(By.TAG_NAME, "h1")
    wait_for(lambda: not images_not_loaded(driver), "images to decode")
    save_screenshot(driver, name)
    assert console_errors(driver) == []
    assert images_not_loaded(driver) == []
    assert check_links(driver, origin) > 0


def wait_for(condition, what: str, timeout: float = 30.0):
    """Poll `condition` until it holds; while a page is being replaced its elements vanish or go stale, which
    is "not yet", not a failure (a loaded machine can take seconds to answer a form)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except (NoSuchElementException, StaleElementReferenceException):
            value = None
        if value or time.monotonic() > deadline:
            assert value, f"timed out waiting for {what}"
            return value
        time.sleep(0.05)


def preview_of(driver, config: str):
    """The preview block of one config: the elements between its heading and the next config's."""
    return driver.find_element(By.XPATH, f"//h3[@id='preview-{config}']/following-sibling::details[1]")


def row_of(rows: list[dict], key: str, value) -> dict:
    return next(row for row in rows if row[key] == value)


# The local Hub's pages ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DATASETS)
def test_every_dataset_page_loads_cleanly_with_its_media(signed_in, local_hub, published_samples, sample_builds,
                                                         name):
    check_page(signed_in, f"{local_hub.endpoint}/datasets/{published_samples[name]}", f"hub-{name}",
               local_hub.endpoint)
    report = json.loads((sample_builds[name] / "build_report.json").read_text())
    headings = [h.text for h in signed_in.find_elements(By.CSS_SELECTOR, "h3[id^=preview-]")]
    default = next(config for config, info in report["configs"].items() if info["default"])
    assert headings[0] == default and sorted(headings) == sorted(report["configs"])  # the default first
    assert signed_in.find_element(By.CSS_SELECTOR, "article.card h1").text == load_card_metadata(name)["pretty_name"]


def test_flickr30k_boxes_are_drawn_where_the_data_says(signed_in, local_hub, published_samples, sample_builds):
    open_page(signed_in, f"{local_hub.endpoint}/datasets/{published_samples['flickr30k_entities']}")
    block = preview_of(signed_in, "entities")
    first_rows = parquet_rows(sample_builds["flickr30k_entities"], "entities", "train")[:5]
    figures = block.find_elements(By.CSS_SELECTOR, "figure.boxes")
    assert len(figures) == len(first_rows)
    checked = 0
    for figure, row in zip(figures, first_rows):
        drawn = [r.get_attribute("data-box") for r in figure.find_elements(By.TAG_NAME, "rect")]
        assert drawn == [",".join(map(str, box)) for entity in row["entities"] for box in entity["boxes"]]
        legend = [li.text for li in figure.find_elements(By.CSS_SELECTOR, "ol.legend li")]
        for entity, text in zip(row["entities"], legend, strict=True):
            phrases = {p["text"] for c in row["captions"] for p in c["phrases"] if p["chain_id"] == entity["chain_id"]}
            assert all(phrase in text for phrase in phrases), (entity, text)
        if drawn:
            checked += check_box_pixels(signed_in, figure, row)
    assert checked >= 4  # the sample has an image with several boxes


def check_box_pixels(driver, figure, row) -> int:
    """On a screenshot: each box's left edge is its colour, the image just inside it is not."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", figure)
    image = figure.find_element(By.TAG_NAME, "img")
    frame = driver.execute_script("const r = arguments[0].getBoundingClientRect();"
                                  "return [r.left, r.top, r.width, r.height, arguments[0].naturalWidth]", image)
    left, top, width, height, natural_width = frame
    scale = width / natural_width
    pixels = viewport_pixels(driver)
    checked = 0
    for rect in figure.find_elements(By.TAG_NAME, "rect"):
        x0, y0, x1, y1 = map(int, rect.get_attribute("data-box").split(","))
        colour = PIL.ImageColor.getrgb(rect.get_attribute("stroke"))
        edge_x, mid_y = left + x0 * scale, top + (y0 + y1) / 2 * scale
        box = driver.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.left, r.top]", rect)
        assert abs(box[0] - edge_x) <= 1.5 and abs(box[1] - (top + y0 * scale)) <= 1.5  # where the data says
        edge = pixels.getpixel((round(edge_x), round(mid_y)))
        inside = pixels.getpixel((round(edge_x + 6), round(mid_y)))
        assert close(edge, colour), (row["image_id"], x0, edge, colour)
        assert not close(inside, colour), (row["image_id"], x0, inside, colour)
        checked += 1
    return checked


def close(a, b, tolerance: int = 40) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b))


def test_movieqa_questions_show_answers_and_aligned_plot_sentences(signed_in, local_hub, published_samples,
                                                                   sample_builds):
    open_page(signed_in, f"{local_hub.endpoint}/datasets/{published_samples['movieqa']}")
    rows = parquet_rows(sample_builds["movieqa"], "qa_plot", "train")[:5]
    views = preview_of(signed_in, "qa_plot").find_elements(By.CSS_SELECTOR, "div.qa")
    assert len(views) == len(rows)
    for view, row in zip(views, rows):
        assert view.find_element(By.CSS_SELECTOR, ".question").text == row["question"]
        correct = [li.text.removesuffix(" ✓") for li in view.find_elements(By.CSS_SELECTOR, "ol.answers li.correct")]
        assert correct == ([row["answers"][row["correct_index"]]] if row["correct_index"] >= 0 else [])
        aligned = [li.text for li in view.find_elements(By.CSS_SELECTOR, "ol.context li.aligned")]
        expected = [row["plot_sentences"][i] for i in sorted(row["plot_alignment"] or [])] if row["plot_sentences"] \
            else []
        assert aligned == expected
        assert sorted(aligned) == sorted(row["aligned_sentences"] or [])
    assert any(view.find_elements(By.CSS_SELECTOR, "li.aligned") for view in views)


def test_mint1t_documents_are_shown_in_reading_order(signed_in, local_hub, published_samples, sample_builds):
    open_page(signed_in, f"{local_hub.endpoint}/datasets/{published_samples['mint1t']}")
    rows = parquet_rows(sample_builds["mint1t"], "html", "train")[:5]
    documents = preview_of(signed_in, "html").find_elements(By.CSS_SELECTOR, "div.document")
    assert len(documents) == len(rows)
    for document, row in zip(documents, rows):
        shown = signed_in.execute_script(
            "return Array.from(arguments[0].children).map(e => e.classList.contains('doc-image') ? 'image' :"
            " e.classList.contains('doc-missing') ? 'missing' : 'text:' + e.textContent)", document)
        expected = []
        for text, image in zip(row["texts"], row["images"]):
            if text is not None:
                expected.append(f"text:{preview.cut(text, preview.PREVIEW_DOCUMENT_TEXT)}")
            expected.append("image" if image is not None else ("missing" if text is None else None))
        assert shown == [item for item in expected if item], row["key"]


def test_musecar_segments_have_audio_players_of_their_duration(signed_in, local_hub, published_samples,
                                                               sample_builds):
    open_page(signed_in, f"{local_hub.endpoint}/datasets/{published_samples['musecar']}")
    rows = [row for row in parquet_rows(sample_builds["musecar"], "topic", "train")[:5] if row["audio"] is not None]
    players = preview_of(signed_in, "topic").find_elements(By.TAG_NAME, "audio")
    assert len(players) == len(rows) > 0
    durations = wait_for(lambda: signed_in.execute_script(
        "const d = arguments[0].map(a => a.readyState >= 1 ? a.duration : null);"
        "return d.every(x => x !== null) ? d : null", players), "audio metadata")
    assert durations == pytest.approx([(row["end_ms"] - row["start_ms"]) / 1000 for row in rows], abs=0.05)


def test_video_clips_show_a_poster_frame(signed_in, local_hub, published_samples, sample_builds):
    open_page(signed_in, f"{local_hub.endpoint}/datasets/{published_samples['internvid']}")
    rows = parquet_rows(sample_builds["internvid"], "clips_10m_flt", "train")[:5]
    posters = preview_of(signed_in, "clips_10m_flt").find_elements(By.CSS_SELECTOR, "figure.video img.poster")
    assert len(posters) == sum(row["video"] is not None for row in rows) > 0
    sizes = [signed_in.execute_script("return [arguments[0].naturalWidth, arguments[0].naturalHeight]", p)
             for p in posters]
    assert all(width > 0 and height > 0 for width, height in sizes)


def test_gated_and_private_datasets_show_what_the_hub_shows_to_others(browser, local_hub, published_samples):
    """Signed out: a gated dataset shows its card and conditions but no rows; a private one does not exist."""
    browser.delete_all_cookies()
    try:
        open_page(browser, f"{local_hub.endpoint}/datasets/{published_samples['flickr30k_entities']}")
        assert "Access is gated" in browser.find_element(By.CSS_SELECTOR, "section.gate h2").text
        assert browser.find_elements(By.CSS_SELECTOR, "article.card h1")
        assert browser.find_elements(By.CSS_SELECTOR, "table.preview") == []
        assert "needs the token" in browser.find_element(By.XPATH, "//h2[text()='Preview']/..").text
        assert console_errors(browser) == []
        private = f"{local_hub.endpoint}/datasets/{published_samples['musecar']}"
        assert status_of(private) == 404
        open_page(browser, f"{local_hub.endpoint}/")
        assert published_samples["musecar"] not in browser.find_element(By.TAG_NAME, "body").text
        assert published_samples["flickr30k_entities"] in browser.find_element(By.TAG_NAME, "body").text
    finally:  # sign in again for the tests that follow
        sign_in(browser, local_hub)


def test_sign_in_refuses_a_wrong_token_and_keeps_to_this_site(browser, local_hub):
    assert status_of(f"{local_hub.endpoint}/login?next=//elsewhere.example") == 200
    browser.get(f"{local_hub.endpoint}/login?next=//elsewhere.example")
    assert browser.find_element(By.NAME, "next").get_attribute("value") == "/"
    browser.find_element(By.NAME, "token").send_keys("hf_not_the_token")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(lambda: "not this hub's token" in browser.find_element(By.TAG_NAME, "body").text, "the refusal")


# The static catalog ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalog_site(tmp_path_factory):
    """``make catalog`` (scripts/catalog.py --out DIR: builds every sample), served over HTTP."""
    out = tmp_path_factory.mktemp("catalog")
    result = run_script("catalog.py", "--out", out, "--quiet")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"catalog: {(out / 'index.html').resolve()}"
    handler = functools.partial(QuietHandler, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield out, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_catalog_index_lists_every_dataset_with_its_terms(browser, catalog_site):
    out, origin = catalog_site
    check_page(browser, f"{origin}/index.html", "catalog-index", origin)
    rows = browser.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert len(rows) == len(DATASETS)
    cells = {row.find_elements(By.TAG_NAME, "td")[0].text.splitlines()[-1]: [td.text for td in
             row.find_elements(By.TAG_NAME, "td")] for row in rows}
    assert sorted(cells) == DATASETS
    assert cells["flickr30k_entities"][1:3] == ["flickr30k-noncommercial-research", "gated"]
    assert cells["mint1t"][2] == "public" and cells["musecar"][2] == "private"
    assert cells["movieqa"][2] == "private"
    report = json.loads((out / "builds" / "movieqa" / "build_report.json").read_text())
    assert cells["movieqa"][5] == str(sum(s["rows"] for c in report["configs"].values() for s in c["splits"].values()))


@pytest.mark.parametrize("name", DATASETS)
def test_catalog_page_of_every_dataset_loads_cleanly(browser, catalog_site, name):
    _, origin = catalog_site
    check_page(browser, f"{origin}/{name}.html", f"catalog-{name}", origin)
    assert "synthetic sample data" in browser.find_element(By.CSS_SELECTOR, "p.notice").text
    assert browser.find_elements(By.CSS_SELECTOR, "table.preview")


def test_a_catalog_of_real_builds_withholds_restricted_previews(sample_builds, tmp_path):
    """Made from built folders (as for a real release), the catalog previews public configs only."""
    folders = [sample_builds[name] for name in ("bigdocs", "flickr30k_entities")]
    write_catalog(folders, tmp_path, samples=False)
    bigdocs = (tmp_path / "bigdocs.html").read_text()
    blocks = dict(re.findall(r'<h3 id="preview-([^"]+)">[^<]*</h3>\s*(<details|<p class="note">No preview)', bigdocs))
    report = json.loads((sample_builds["bigdocs"] / "build_report.json").read_text())
    assert {config: block == "<details" for config, block in blocks.items()} == \
        {config: info["redistribution"] == "public" for config, info in report["configs"].items()}
    assert set(blocks.values()) == {"<details", '<p class="note">No preview'}
    flickr = (tmp_path / "flickr30k_entities.html").read_text()
    assert "<img" not in flickr and "its licence restricts redistribution" in flickr
    write_catalog(folders, tmp_path, samples=False, show_restricted=True)
    assert "<img" in (tmp_path / "flickr30k_entities.html").read_text()


def test_the_sign_in_cookie_reads_but_never_writes(local_hub, published_samples):
    """The browser session lets a person read private data; writing still needs the token in the request."""
    opener = urllib.request.build_opener(NoRedirect)
    form = urllib.parse.urlencode({"token": local_hub.token, "next": "/"}).encode()
    with pytest.raises(urllib.error.HTTPError) as answer:  # 303 to "next", with the cookie
        opener.open(urllib.request.Request(f"{local_hub.endpoint}/login", data=form), timeout=30)
    assert answer.value.code == 303 and answer.value.headers["Location"] == "/"
    cookie = answer.value.headers["Set-Cookie"].split(";")[0]
    assert local_hub.token not in cookie and "HttpOnly" in answer.value.headers["Set-Cookie"]
    private = f"{local_hub.endpoint}/datasets/{published_samples['musecar']}"
    assert status_of(private, cookie) == 200 and status_of(private) == 404
    create = urllib.request.Request(f"{local_hub.endpoint}/api/repos/create", method="POST", headers={
        "Cookie": cookie, "Content-Type": "application/json"}, data=json.dumps({"name": "by-cookie"}).encode())
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(create, timeout=30)
    assert refused.value.code == 401


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


# The generic views, on rows no sample has --------------------------------------------------------------------


def test_preview_blocks_are_checked():
    assert preview.check_spec([{"view": "boxes", "image": "image", "objects": "objects", "box": "bbox"}]) == []
    errors = preview.check_spec([{"view": "maps"}, {"view": "qa", "question": "q"},
                                 {"view": "boxes", "image": "i", "objects": "o", "box": "b", "labels": "x[]",
                                  "colour": "red", "box_format": "cxcywh"}])
    assert errors == ["preview entry 1: needs view: one of boxes, document, qa",
                      "preview entry 2 (qa): missing answers",
                      "preview entry 3 (boxes): unknown keys colour",
                      "preview entry 3: box_format must be one of xyxy, xywh",
                      "preview entry 3: labels needs label_key and label_text"]
    qa = {"view": "qa", "configs": ["qa*"], "question": "question", "answers": "answers", "context": "plot"}
    assert preview.views_for([qa], "qa_plot", ["question", "answers"]) == [
        {"view": "qa", "configs": ["qa*"], "question": "question", "answers": "answers"}]  # optional context absent
    assert preview.views_for([qa], "movies", ["question", "answers"]) == []
    assert preview.views_for([qa], "qa", ["question"]) == []


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    PIL.Image.new("RGB", (width, height), (40, 90, 160)).save(out, format="PNG")
    return out.getvalue()


def test_boxes_in_xywh_with_their_own_labels():
    view = {"view": "boxes", "image": "image", "objects": "objects", "box": "bbox", "box_format": "xywh",
            "label": "category"}
    row = {"image": {"bytes": png(100, 50), "path": "a.png"},
           "objects": [{"bbox": [10, 5, 30, 20], "category": "cat <b>"}, {"bbox": None, "category": "dog"}]}
    figure = preview.render_boxes(view, row)
    assert figure.count("<rect ") == 1 and 'data-box="10,5,40,25"' in figure and 'viewBox="0 0 100 50"' in figure
    assert 'cat &lt;b&gt; <span class="note">(1 box)</span>' in figure
    assert 'dog <span class="note">(no box)' in figure


def test_media_are_shown_by_what_their_bytes_are():
    wav = io.BytesIO()
    with wave.open(wav, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000), w.writeframes(b"\0\0" * 800)
    assert preview.render_media(wav.getvalue(), "a.wav").startswith('<audio controls preload="metadata" '
                                                                    'src="data:audio/wav;base64,')
    assert preview.render_media(png(4, 4), "x.svg").startswith('<img src="data:image/png;base64,')
    assert "not a decodable image" in preview.render_media(png(40, 40)[:60], "cut.png")
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    assert preview.render_media(svg, "x.png") == f'<span class="note">x.png ({len(svg)} bytes)</span>'
    assert preview.render_media(b"\0\0\0\x18ftypmp42 not really a video", "v.mp4").endswith("bytes)</span>")


def test_documents_and_questions_without_every_part():
    document = preview.render_document({"view": "document", "texts": "texts", "images": "images",
                                        "image_urls": "urls"},
                                       {"texts": ["a", None, None], "images": [None, None, {"bytes": png(3, 3),
                                                                                            "path": None}],
                                        "urls": [None, "https://img.example/x.jpg", None]})
    assert re.findall(r'<p>a</p>|\[image 1 not in the data: https://img.example/x.jpg\]|<img ', document) == \
        ["<p>a</p>", "[image 1 not in the data: https://img.example/x.jpg]", "<img "]
    qa = preview.render_qa({"view": "qa", "question": "q", "answers": "a", "correct": "c", "aligned": "al"},
                           {"q": "Why?", "a": ["x", ""], "c": -1, "al": [3]})
    assert 'class="correct"' not in qa and "correct answer not given (-1)" in qa and "aligned to al 3" in qa


@pytest.mark.realdata
def test_real_release_images_show_in_the_browser(browser, tmp_path):
    """The authentic Flickr30K and VLDBench images, through the same preview code, decode in Chromium; boxes
    over real photos land where their coordinates say."""
    files = sorted((realdata_dir("flickr30k_entities") / "flickr30k-images").glob("*.jpg"))
    files += sorted((realdata_dir("newsmediabias_plus") / "VLDBench" / "images").glob("*.png"))
    view = {"view": "boxes", "image": "image", "objects": "objects", "box": "box", "label": "name"}
    cells = []
    for path in files:
        data = path.read_bytes()
        width, height = PIL.Image.open(path).size
        box = [width // 4, height // 4, width * 3 // 4, height * 3 // 4]
        cells.append(preview.render_boxes(view, {"image": {"bytes": data, "path": path.name},
                                                 "objects": [{"box": box, "name": "centre"}]}))
    page = tmp_path / "real.html"
    page.write_text(pages.html_page("real images", "".join(cells)), encoding="utf-8")
    open_page(browser, page.as_uri())
    wait_for(lambda: not images_not_loaded(browser), "images to decode")
    save_screenshot(browser, "realdata-images")
    assert len(browser.find_elements(By.CSS_SELECTOR, "figure.boxes img")) == len(files) >= 13
    assert images_not_loaded(browser) == [] and console_errors(browser) == []
    for figure in browser.find_elements(By.CSS_SELECTOR, "figure.boxes"):
        image, rect = figure.find_element(By.TAG_NAME, "img"), figure.find_element(By.TAG_NAME, "rect")
        left, natural, box_left = browser.execute_script(
            "return [arguments[0].getBoundingClientRect().left, arguments[0].naturalWidth,"
            " arguments[1].getBoundingClientRect().left]", image, rect)
        shown = image.rect["width"]
        assert abs(box_left - (left + natural // 4 * shown / natural)) <= 1.5
