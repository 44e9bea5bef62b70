#!/usr/bin/python3
"""Drives a notebook's explorer cell in headless Chromium, as a person would (notebooks_test.go's
TestExplorerInBrowser runs it against a Jupyter server it started).

It opens NOTEBOOK on the server at URL, runs the setup cells and the cell holding
notebook.Explore, waits for the explorer's picture, moves the layer slider to another layer,
waits for the picture and its caption to change, clicks Stop and waits for the cell to say so.
Screenshots go to OUT (before.png, after.png; failure.png when a step times out). It prints one
JSON line: the captions before and after and whether the picture changed; it exits 1 when a step
fails or nothing changed.

Usage: browser.py URL NOTEBOOK OUT
"""
import json
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

URL, NOTEBOOK, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(OUT, exist_ok=True)
T0 = time.time()


def log(*a):
    print(f"[{time.time() - T0:6.1f}s]", *a, file=sys.stderr, flush=True)


opts = webdriver.ChromeOptions()
opts.binary_location = "/usr/lib/chromium/chromium"
for a in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,900",
          "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update",
          "--disable-sync"]:
    opts.add_argument(a)
d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
d.set_script_timeout(30)


def wait(cond, timeout, what):
    t = time.time()
    while time.time() - t < timeout:
        try:
            r = cond()
            if r:
                return r
        except Exception:
            pass
        time.sleep(0.25)
    d.save_screenshot(os.path.join(OUT, "failure.png"))
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


def by_css(css):
    els = d.find_elements(By.CSS_SELECTOR, css)
    return els[0] if els else None


def show_explorer():
    """Scrolls the page so that the explorer's widgets and picture are in the screenshot."""
    row = by_css("span[id^='explorer-'][id$='-w-image']")
    if row:
        d.execute_script("arguments[0].scrollIntoView({block: 'start'}); window.scrollBy(0, -60);", row)
        time.sleep(0.3)


def picture():
    img = by_css("img[id^='explorer-'][id$='-picture']")
    cap = by_css("div[id^='explorer-'][id$='-caption']")
    return (img.get_attribute("src"), cap.text) if img and cap else None


result = {"changed": False}
ok = False
try:
    d.get(f"{URL}/notebooks/{NOTEBOOK}")
    wait(lambda: d.execute_script("return !!(window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel "
                                  "&& Jupyter.notebook.kernel.is_connected())"), 90, "the kernel to connect")
    d.execute_script("Jupyter.notebook.set_autosave_interval(0)")  # leave the file as it is
    log("kernel connected")
    # The setup cells (up to the first markdown after the title's code) and the explorer's cell.
    cells = d.execute_script("""
        const cells = Jupyter.notebook.get_cells();
        const code = [];
        cells.forEach((c, i) => { if (c.cell_type === 'code') code.push([i, c.get_text()]); });
        const explore = code.filter(([i, t]) => t.includes('notebook.Explore(')).map(([i]) => i);
        const setup = code.filter(([i, t]) => !t.includes('%%')).map(([i]) => i);
        return setup.concat(explore);""")
    log("running cells", cells)
    d.execute_script("Jupyter.notebook.execute_cells(arguments[0])", cells)
    wait(lambda: picture() and by_css("input[id^='explorer-'][id$='-layer']"), 600, "the explorer's picture and slider")
    time.sleep(1)
    src0, cap0 = picture()
    result["before"] = cap0
    show_explorer()
    d.save_screenshot(os.path.join(OUT, "before.png"))
    log("before:", cap0)
    slider = by_css("input[id^='explorer-'][id$='-layer']")
    target = int(slider.get_attribute("max")) // 2  # a middle layer
    d.execute_script("""const s = arguments[0]; s.value = arguments[1];
        s.dispatchEvent(new Event('input', {bubbles: true})); s.dispatchEvent(new Event('change', {bubbles: true}));""",
                     slider, target)
    log("slider moved to", target)
    wait(lambda: picture() and picture()[0] != src0 and picture()[1] != cap0, 120, "the picture to change")
    time.sleep(1)
    src1, cap1 = picture()
    result.update(after=cap1, changed=True, slider=target)
    show_explorer()
    d.save_screenshot(os.path.join(OUT, "after.png"))
    log("after:", cap1)
    by_css("button[id^='explorer-'][id$='-stop']").click()
    wait(lambda: "explorer stopped" in d.find_element(By.TAG_NAME, "body").text, 30, "the cell to stop")
    result["stopped"] = True
    ok = True
except Exception as e:  # reported in the JSON line and the exit code
    result["error"] = str(e).splitlines()[0] if str(e) else repr(e)
finally:
    try:
        d.execute_script("Jupyter.notebook.kernel.interrupt()")
    except Exception:
        pass
    d.quit()
print(json.dumps(result))
sys.exit(0 if ok and result["changed"] else 1)
