# .venv/bin/python -m pytest tests/postrun/test_history_browser.py -q
"""The history page and skills.svg in a real headless browser: Debian's chromium + chromium-driver, driven
by Selenium. The page renders without console errors, shows every run and skill, every chart label lies
inside its chart as the browser measures it, and a screenshot is left in the test's tmp_path.

Skips (saying why) only where selenium, chromium or chromedriver cannot be found; scripts/test.sh
installs the browser when it runs as root on Debian.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from picogate.postrun import run
from picogate.postrun.history import write_history
from picogate.postrun.report import skill_rows, skills_svg

SKILLS = ("identity", "refusal", "choice", "math", "spelling")
# Each SVG text element's box as the browser lays it out, against its SVG's viewBox.
LABELS_OUTSIDE = """
const out = [];
for (const svg of document.querySelectorAll('svg')) {
  const vb = svg.viewBox.baseVal;
  for (const t of svg.querySelectorAll('text')) {
    const b = t.getBBox();
    if (b.x < vb.x - 0.5 || b.y < vb.y - 0.5 || b.x + b.width > vb.x + vb.width + 0.5
        || b.y + b.height > vb.y + vb.height + 0.5)
      out.push(`${t.textContent} at ${b.x.toFixed(0)},${b.y.toFixed(0)} ${b.width.toFixed(0)}x${b.height.toFixed(0)}`
               + ` in ${vb.width}x${vb.height}`);
  }
}
return out;
"""


def _find_driver() -> tuple[Any, str, str]:
    try:
        from selenium import webdriver
    except ImportError:
        pytest.skip("selenium is not installed: pip install -e '.[dev]'")
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver") or next(
        (p for p in ("/usr/lib/chromium/chromedriver", "/usr/bin/chromedriver") if Path(p).is_file()), None)
    missing = [name for name, found in (("chromium", browser), ("chromedriver", driver)) if not found]
    if missing:
        pytest.skip(f"no headless browser: {' and '.join(missing)} not found (apt-get install chromium "
                    "chromium-driver; scripts/test.sh does it when run as root)")
    return webdriver, str(browser), str(driver)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless chromium with its console log kept (goog:loggingPrefs)."""
    webdriver, binary, driver_path = _find_driver()
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--hide-scrollbars"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # an explicit driver path: Selenium Manager would otherwise try to download one
    driver = webdriver.Chrome(options=opts, service=webdriver.ChromeService(executable_path=driver_path))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _open(driver: Any, path: Path) -> list[dict[str, Any]]:
    """Load a file:// URL; returns the console messages it produced (warnings and errors)."""
    driver.get_log("browser")  # drop whatever an earlier page left
    driver.get(path.resolve().as_uri())
    assert driver.execute_script("return document.readyState") == "complete"
    return [e for e in driver.get_log("browser") if e.get("level") in ("SEVERE", "WARNING")]


def test_history_page_renders_in_chromium(browser: Any, run_series: list[Path], tmp_path: Path):
    from selenium.webdriver.common.by import By

    page, outcomes = write_history(run_series, tmp_path / "history.html")
    assert _open(browser, page) == []
    text = browser.find_element(By.TAG_NAME, "body").text
    for o in outcomes:
        assert str(o.evidence["run_id"]) in text
    for skill in SKILLS:
        assert skill in text
    assert browser.execute_script("return document.querySelectorAll('svg').length") == 1 + len(SKILLS)
    assert browser.execute_script(LABELS_OUTSIDE) == []
    # readable at 1280 px: nothing forces a horizontal scrollbar
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, min(int(height) + 40, 12_000))
    shot = tmp_path / "history.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")


def test_skills_chart_labels_fit_as_the_browser_measures_them(browser: Any, run_series: list[Path],
                                                              tmp_path: Path):
    rows = skill_rows(run(run_series[0]))
    rows.append({"skill": "w" * 40, "pass_rate": 1.0, "rows": 1_234_567, "low": 0.99, "high": 1.0, "gate": None})
    chart = tmp_path / "skills.svg"
    chart.write_text(skills_svg(rows), encoding="utf-8")
    assert _open(browser, chart) == []
    assert browser.execute_script(LABELS_OUTSIDE) == []
    browser.set_window_size(800, 500)
    assert browser.save_screenshot(str(tmp_path / "skills.png"))


def test_hostile_run_ids_show_as_text_and_run_nothing(browser: Any, good_run: Path, tmp_path: Path):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    hostile = ["<script>alert(1)</script>", "\"'><img src=x onerror=alert(2)>", "</svg><svg onload=alert(3)>"]
    dirs = []
    for i, run_id in enumerate(hostile):
        d = tmp_path / f"run{i}"
        shutil.copytree(good_run, d)
        manifest = json.loads((d / "run.json").read_text())
        (d / "run.json").write_text(json.dumps({**manifest, "run_id": run_id}))
        dirs.append(d)
    page, _ = write_history(dirs, tmp_path / "history.html")
    assert _open(browser, page) == []
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 - raises when no script opened an alert
    text = browser.find_element(By.TAG_NAME, "body").text
    for run_id in hostile:
        assert run_id in text  # shown literally, as text
    assert browser.execute_script("return document.querySelectorAll('script, img, svg svg').length") == 0
