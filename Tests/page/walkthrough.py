"""The page's walk-throughs in a real browser (Debian's chromium driven by Playwright), as a person would do
them, at 1280 and 360 px: train from the form and see the curve (after a reload too), a bad field's error beside
it, every sampler's plot, 100 000 points, an upload trained on, the learned score field, a model deleted, and an
accessibility audit (axe-core) with no serious or critical violations. Assertions are on the DOM and on canvas
pixels; a failure keeps a screenshot. With KEYED_BASE and KEYED_TOKEN (a service that requires keys and a submit
key's token, as scripts/page-test starts it), also the walk-through with a key. Usage: python walkthrough.py
BASE_URL SCREENSHOT_DIR"""
import os, sys, time, traceback
from playwright.sync_api import sync_playwright
from axe_playwright_python.sync_playwright import Axe

base, shots = sys.argv[1], sys.argv[2]
os.makedirs(shots, exist_ok=True)
failures = []

# Pixels of a canvas drawn in the page's blue (plots, curve, arrows), counted in the page.
BLUE = """id => { const c = document.getElementById(id), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && d[i + 2] > 140 && d[i] < 110) n++; return n; }"""


# Pixels of a canvas that are light grey to white (an image grid drawn on it).
BRIGHT = """id => { const c = document.getElementById(id), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && d[i] > 60 && Math.abs(d[i] - d[i + 2]) < 8) n++; return n; }"""


def blue(page, canvas, at_least, timeout=20000):
    page.wait_for_function(f"({BLUE})('{canvas}') >= {at_least}", timeout=timeout)


def train_from_form(page, steps):
    """Trains the chosen data set from the form for `steps` steps; returns the job's id once it succeeded."""
    page.fill("#train-form [name=steps]", str(steps))
    page.click("#train-form button[type=submit]")
    page.wait_for_function("/queued j_/.test(document.getElementById('train-message').textContent)")
    job = page.inner_text("#train-message").split()[-1]
    page.wait_for_function(f"(document.querySelector('#job-rows tr[data-job={job}]') || {{}}).innerText?.includes('succeeded')", timeout=120000)
    return job


def sample_from_form(page, n, timeout=120000):
    """Samples n points of the chosen model with the sampler form's settings; waits for them."""
    page.fill("#sample-form [name=n]", str(n))
    page.click("#sample-form button[type=submit]")
    page.wait_for_function(f"/{n} samples/.test(document.getElementById('sample-message').textContent)", timeout=timeout)


def step(page, width, name, fn):
    try:
        fn()
        print(f"  ok   {width}px  {name}", flush=True)
    except Exception:
        failures.append(f"{width}px {name}")
        path = os.path.join(shots, f"{width}-{name.replace(' ', '_')}.png")
        try:
            page.screenshot(path=path, full_page=True)
        except Exception:
            pass
        print(f"  FAIL {width}px  {name} (screenshot {path})\n{traceback.format_exc()}", flush=True)


def walk(browser, width):
    page = browser.new_page(viewport={"width": width, "height": 900}, device_scale_factor=2)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_default_timeout(30000)
    page.goto(base)
    page.wait_for_selector("#dataset-select option[value=swiss_roll]", state="attached")

    def train():
        page.select_option("#dataset-select", "swiss_roll")
        job = train_from_form(page, 1500)
        # The change of status is announced (a polite live region).
        page.wait_for_function(f"document.getElementById('job-announcer').textContent.includes('job {job} (train) succeeded')")
        blue(page, "loss", 200)
    step(page, width, "train from the form and see the curve", train)

    def reload():
        page.reload()
        page.wait_for_selector("#job-rows tr", state="attached")
        blue(page, "loss", 200)
        if "training loss of" not in (page.get_attribute("#loss", "aria-label") or "").lower():
            raise AssertionError("the loss chart has no text summary")
    step(page, width, "reload and still see the curve", reload)

    def bad_fields():
        page.select_option("#dataset-select", "swiss_roll")
        page.fill("#train-form [name=hidden]", "x,y")  # checked in the page
        page.click("#train-form button[type=submit]")
        page.wait_for_selector("#train-form label:has([name=hidden]) .field-error")
        assert page.get_attribute("#train-form [name=hidden]", "aria-invalid") == "true"
        page.fill("#train-form [name=hidden]", "")
        page.fill("#train-form [name=steps]", "100000000000")  # past the recipe's range (GET /recipe), checked in the page
        page.click("#train-form button[type=submit]")
        page.wait_for_selector("#train-form label:has([name=steps]) .field-error")
        assert "steps" in page.inner_text("#train-form label:has([name=steps]) .field-error")
        assert page.query_selector("#train-form label:has([name=hidden]) .field-error") is None
        page.fill("#train-form [name=steps]", "")
        page.fill("#train-form [name=hidden]", ",".join(["8"] * 17))  # more layers than declared, checked in the page
        page.click("#train-form button[type=submit]")
        page.wait_for_selector("#train-form label:has([name=hidden]) .field-error")
        assert "at most 16" in page.inner_text("#train-message"), page.inner_text("#train-message")
        page.fill("#train-form [name=hidden]", "")
        page.fill("#train-form [name=time_features]", "33")  # odd: a rule of the recipe's, the server names the field
        page.click("#train-form button[type=submit]")
        page.wait_for_selector("#train-form label:has([name=time_features]) .field-error")
        assert "model.time_features" in page.inner_text("#train-message"), page.inner_text("#train-message")
        page.fill("#train-form [name=time_features]", "")
    step(page, width, "a bad field shows its error beside it", bad_fields)

    def recipe_fields():
        visible = lambda name: page.is_visible(f"#train-form [name={name}]")
        page.select_option("#dataset-select", "mnist")
        page.wait_for_selector("#train-form [name=channels]")
        assert not visible("hidden") and page.get_attribute("#train-form [name=steps]", "placeholder") == "20000"
        page.select_option("#dataset-select", "swiss_roll")
        page.wait_for_selector("#train-form [name=hidden]")
        assert not visible("channels") and page.get_attribute("#train-form [name=steps]", "placeholder") == "5000"
        assert visible("sigma_max") and not visible("beta_min") and visible("sde")
        page.select_option("#train-form [name=sde]", "vp")
        page.wait_for_selector("#train-form [name=beta_min]")
        assert not visible("sigma_max")
        page.fill("#train-form [name=sigma]", "0.1")  # one noise scale: no SDE, so none of its fields
        page.wait_for_function("document.querySelector('#train-form [name=beta_min]').closest('label').hidden")
        assert not visible("sde") and not visible("weighting")
        page.fill("#train-form [name=sigma]", "")
        page.select_option("#train-form [name=sde]", "")
        page.select_option("#train-form [name=objective]", "ncsn")
        page.wait_for_selector("#train-form [name=levels]")
        assert not visible("sde") and not visible("sigma")
        page.select_option("#train-form [name=objective]", "")
        page.select_option("#train-form [name=preset]", "tutorial_dsm_donut")  # its sigma: one noise scale, no SDE
        page.wait_for_function("document.querySelector('#train-form [name=sigma]').placeholder === '0.1'")
        assert not visible("sde") and not visible("sigma_max") and not visible("weighting")
        page.select_option("#train-form [name=preset]", "tutorial_exact_swiss_roll")  # the preset's values as placeholders
        page.wait_for_function("document.querySelector('#train-form [name=steps]').placeholder === '160000'")
        assert page.get_attribute("#train-form [name=hidden]", "placeholder") == "64,64,64"
        page.select_option("#train-form [name=preset]", "")
        page.wait_for_function("document.querySelector('#train-form [name=steps]').placeholder === '5000'")
    step(page, width, "the train form offers the recipe's fields for the data, objective and SDE", recipe_fields)

    def samplers():
        page.wait_for_selector("#model-select option", state="attached")
        names = page.eval_on_selector_all("#sampler-select option", "os => os.map(o => o.value)")
        assert len(names) >= 5, names
        for name in names:
            page.select_option("#sampler-select", name)
            page.fill("#sample-form [name=n]", "300")
            for el in page.query_selector_all("#sampler-params [data-key=steps]"):
                if el.is_visible():
                    el.fill("30" if name not in ("ode",) else "")
            page.evaluate("document.getElementById('sample-message').textContent = ''")
            page.click("#sample-form button[type=submit]")
            page.wait_for_function("/300 samples/.test(document.getElementById('sample-message').textContent) || /error|not|must/.test(document.getElementById('sample-message').textContent)", timeout=120000)
            message = page.inner_text("#sample-message")
            assert "300 samples" in message, f"{name}: {message}"
            blue(page, "plot", 300)
    step(page, width, "sample with each sampler", samplers)

    def hundred_thousand():
        page.select_option("#sampler-select", "dpm_solver")
        sample_from_form(page, 100000, timeout=180000)
        blue(page, "plot", 2000)
    step(page, width, "100 000 points plot", hundred_thousand)

    def replay_and_download():
        # Long enough (2000 steps) for the page's event stream to open before the first preview: previews sent
        # before it opens are not replayed to it.
        page.select_option("#sampler-select", "em")
        for el in page.query_selector_all("#sampler-params [data-key=steps]"):
            if el.is_visible():
                el.fill("2000")
        sample_from_form(page, 400)
        assert page.is_visible("#result-download") and page.get_attribute("#result-download", "download").endswith(".json")
        with page.expect_download() as d:
            page.click("#result-download")
        assert d.value.suggested_filename.endswith(".json")
        page.click("#replay")
        page.wait_for_function("/replay: step/.test(document.getElementById('sample-message').textContent)")
        page.wait_for_function("/replay: step (\\d+) of \\1/.test(document.getElementById('sample-message').textContent)", timeout=30000)
        blue(page, "plot", 300)
    step(page, width, "replay a sampling run and download its result", replay_and_download)

    def score_field():
        page.wait_for_selector("#field:not([hidden])")
        page.wait_for_function("document.getElementById('field-summary').textContent.startsWith('Score field')")
        blue(page, "field-canvas", 500)
        page.eval_on_selector("#field-t", "e => { e.value = 700; e.dispatchEvent(new Event('input')); }")
        page.wait_for_function("document.getElementById('field-summary').textContent.includes('t = 0.700')")
        blue(page, "perturbed-canvas", 500)
        page.click("#density-button")
        page.wait_for_function("document.getElementById('density-summary').textContent.startsWith('Estimated log-density')", timeout=120000)
    step(page, width, "the score field, perturbed data and density draw", score_field)

    def upload_and_train():
        csv = "x,y\n" + "\n".join(f"{(i % 7) / 7:.3f},{(i % 5) / 5:.3f}" for i in range(300)) + "\n"
        page.set_input_files("#upload-file", files=[{"name": "grid.csv", "mimeType": "text/csv", "buffer": csv.encode()}])
        page.click("#upload-form button[type=submit]")
        page.wait_for_function("/uploaded 300 points as d_/.test(document.getElementById('train-message').textContent)")
        dataset = page.eval_on_selector("#dataset-select", "s => s.value")
        assert dataset.startswith("d_"), dataset
        train_from_form(page, 300)
        page.fill("#train-form [name=steps]", "")
        page.click("#dataset-preview")
        page.wait_for_function("/300 points of shape \\[2\\]/.test(document.getElementById('train-message').textContent)")
        # A few small images uploaded (a multi-image PGM) and seen as a grid.
        pgm = b"".join(b"P5\n8 8\n255\n" + bytes(((i * 9 + k * 40) % 256) for i in range(64)) for k in range(4))
        page.set_input_files("#upload-file", files=[{"name": "four.pgm", "mimeType": "image/x-portable-graymap", "buffer": pgm}])
        page.click("#upload-form button[type=submit]")
        page.wait_for_function("/uploaded 4 images as d_/.test(document.getElementById('train-message').textContent)")
        images = page.eval_on_selector("#dataset-select", "s => s.value")
        page.set_input_files("#labels-file", files=[{"name": "labels.json", "mimeType": "application/json", "buffer": b'{"labels": [0, 1, 0, 1]}'}])
        page.click("#labels-form button[type=submit]")
        page.wait_for_function(f"/{images} now has labels: 2 classes/.test(document.getElementById('train-message').textContent)")
        page.click("#dataset-preview")
        page.wait_for_function("/4 images of shape \\[1,8,8\\]/.test(document.getElementById('train-message').textContent)")
        page.wait_for_function(f"({BRIGHT})('plot') >= 100")
        page.once("dialog", lambda d: d.accept())
        page.click("#dataset-delete")
        page.wait_for_function(f"/deleted {images}/.test(document.getElementById('train-message').textContent)")
        page.select_option("#dataset-select", dataset)
        page.once("dialog", lambda d: d.accept())
        page.click("#dataset-delete")
        page.wait_for_function(f"/deleted {dataset}/.test(document.getElementById('train-message').textContent)")
        assert dataset not in page.eval_on_selector_all("#dataset-select option", "os => os.map(o => o.value)")
    step(page, width, "upload a CSV and images, train on the CSV, preview and delete them", upload_and_train)

    def draw_mask():
        pgm = b"P5\n28 28\n255\n" + bytes((i * 7) % 256 for i in range(28 * 28))
        page.set_input_files("#complete-file", files=[{"name": "digit.pgm", "mimeType": "image/x-portable-graymap", "buffer": pgm}])
        page.wait_for_function("/digit.pgm: 28×28/.test(document.getElementById('sample-message').textContent)")
        page.locator("#plot").scroll_into_view_if_needed()
        box = page.locator("#plot").bounding_box()
        # From about pixel (7, 7) to (21, 14) of the 28 × 28 image drawn across the canvas.
        x0, y0 = box["x"] + box["width"] * 7.5 / 28, box["y"] + box["height"] * 7.5 / 28
        x1, y1 = box["x"] + box["width"] * 20.5 / 28, box["y"] + box["height"] * 13.5 / 28
        page.mouse.move(x0, y0); page.mouse.down(); page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2); page.mouse.move(x1, y1); page.mouse.up()
        rect = [int(v) for v in page.input_value("#complete-rect").split(",")]
        assert rect[0] == 7 and rect[1] == 7 and rect[2] == 14 and rect[3] == 7, rect
        assert page.eval_on_selector("#complete-task", "s => s.value") == "inpaint"
    step(page, width, "draw an inpainting mask with the pointer", draw_mask)

    def impute_and_latents():
        swiss = page.eval_on_selector_all("#model-select option", "os => os.filter(o => o.textContent.includes('swiss_roll')).map(o => o.value)")
        page.select_option("#model-select", swiss[0])
        page.fill("#impute-point", "0.5,")
        page.fill("#impute-form [name=n]", "200")
        page.click("#impute-form button[type=submit]")
        page.wait_for_function("/200 completions of \\(0.5, \\?\\)/.test(document.getElementById('sample-message').textContent)", timeout=60000)
        blue(page, "plot", 200)
        page.click("#latents-button")
        page.wait_for_function("/300 points encoded/.test(document.getElementById('sample-message').textContent)", timeout=120000)
    step(page, width, "impute a point, encode, decode and interpolate", impute_and_latents)

    def details_and_job_deletion():
        page.click("#model-details")
        page.wait_for_function("/parameters; ve/.test(document.getElementById('sample-message').textContent)")
        last = page.locator("#job-rows tr").last
        job = last.get_attribute("data-job")
        last.locator("button", has_text="delete").click()
        page.wait_for_function(f"!document.querySelector('#job-rows tr[data-job={job}]')")
    step(page, width, "model details, and a job deleted", details_and_job_deletion)

    def delete_model():
        page.wait_for_function("document.querySelectorAll('#model-select option').length >= 2")
        before = page.eval_on_selector_all("#model-select option", "os => os.length")
        victim = page.eval_on_selector("#model-select", "s => s.value")
        page.once("dialog", lambda d: d.accept())
        page.click("#model-delete")
        page.wait_for_function(f"/deleted {victim}/.test(document.getElementById('sample-message').textContent)")
        after = page.eval_on_selector_all("#model-select option", "os => os.map(o => o.value)")
        assert victim not in after and len(after) == before - 1, (victim, after)
    step(page, width, "delete a model", delete_model)

    def fits():
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow}px wider than the window"
    step(page, width, "no sideways scrolling", fits)

    def audit():
        results = Axe().run(page)
        bad = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
        assert not bad, "\n".join(f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:5]}" for v in bad)
    step(page, width, "accessibility audit", audit)

    def no_errors():
        assert not errors, errors
    step(page, width, "no script errors", no_errors)
    page.close()


def walk_with_key(browser, base, token):
    """A service that requires keys: the page asks for one, keeps it in the tab's session storage only, and
    trains and samples with it; a wrong key is refused and asked again."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_default_timeout(30000)
    page.goto(base)
    width = 1280

    def asks():
        page.wait_for_selector("#key-form:not([hidden])")
        assert "needs an API key" in page.inner_text("#key-message")
        page.fill("#key-input", "scd_wrong")
        page.click("#key-form button[type=submit]")
        page.wait_for_function("/not accepted/.test(document.getElementById('key-message').textContent)")
        page.fill("#key-input", token)
        page.click("#key-form button[type=submit]")
        page.wait_for_selector("#dataset-select option[value=swiss_roll]", state="attached")
        assert page.evaluate("sessionStorage.getItem('scored.api_key')") == token
        assert page.evaluate("Object.keys(localStorage).length") == 0
    step(page, width, "with a key: the page asks for it and keeps it in session storage", asks)

    def train_and_sample():
        page.select_option("#dataset-select", "swiss_roll")
        train_from_form(page, 300)
        blue(page, "loss", 100)
        page.wait_for_selector("#model-select option", state="attached")
        sample_from_form(page, 300)
        blue(page, "plot", 150)
    step(page, width, "with a key: train and sample", train_and_sample)

    def no_errors():
        assert not errors, errors
    step(page, width, "with a key: no script errors", no_errors)
    page.close()


with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
                                args=["--no-sandbox", "--disable-dev-shm-usage"])
    for width in (1280, 360):
        walk(browser, width)
    if os.environ.get("KEYED_BASE"):
        walk_with_key(browser, os.environ["KEYED_BASE"], os.environ["KEYED_TOKEN"])
    browser.close()

if failures:
    print(f"{len(failures)} page check(s) failed: {', '.join(failures)}; screenshots in {shots}")
    sys.exit(1)
print("page: all walk-throughs passed at 1280 and 360 px" + (", and with a key" if os.environ.get("KEYED_BASE") else ""))
