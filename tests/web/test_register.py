# SPDX-License-Identifier: MIT
"""Web registration end to end: Debian's jabberd2 with our modules
(contrib/jabberd2/xmpp-local) behind invites-web.  Accounts made on the
web log in over XMPP with a real client; a used token is refused on every
path; a taken name, a preset name and a password reset behave as on the
client path; nothing is stored on a refused registration; no token or
password reaches the log.  Skipped while jabberd2, the modules or the
runner are missing."""

import os
import re
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import webtest  # noqa: E402

webtest.need_xmpp()
t = webtest.Tap()
site = webtest.XmppSite()
PW = "web password 1"


def main():
    err = site.start_xmpp()
    if err is not None:
        t.ok(False, "xmpp-local starts jabberd2", err)
        return
    if not t.ok(site.start(), "invites-web starts beside jabberd2"):
        t.diag(site.log_text())
        return

    # account invite: register on the web, then log in over XMPP
    inv = site.generate()
    r = webtest.register_via_form(site, inv["token"], "webuser", PW)
    if not t.eq(r.status, 200, "web registration: 200"):
        t.diag(r.text[:2000])
        t.diag(site.log_text()[-2000:])
        t.diag(site.xmpp_logs())
    t.ok("Your account is ready" in r.text and "webuser@localhost" in r.text,
         "success page names the new JID")
    t.ok(PW not in r.text, "success page does not contain the password")
    t.eq(r.header("Cache-Control"), "no-store", "success page: no-store")
    t.ok(site.can_login("webuser", PW), "the new account logs in over XMPP")
    t.ok(not site.can_login("webuser", "wrong password"),
         "and a wrong password does not")

    # the token is used now: the same 404 everywhere
    t.eq(site.request("GET", "/invite/" + inv["token"]).status, 404,
         "used token: landing page 404")
    r = webtest.register_via_form(site, inv["token"], "webuser2", PW)
    t.eq(r.status, 404, "used token: registration form 404")
    t.eq(site.request("GET", "/api/v1/invite/" + inv["token"]).status, 404,
         "used token: public API 404")
    show = site.invitectl("show", inv["id"], "--json", check=False)
    t.ok('"uses":1' in show.stdout.replace(" ", "") and "webuser@localhost" in show.stdout,
         "the invite counts one use by webuser@localhost", show.stdout + show.stderr)

    # a taken name: 409, and the invite stays usable
    inv2 = site.generate()
    r = webtest.register_via_form(site, inv2["token"], "webuser", PW)
    t.ok(r.status == 409 and "already taken" in r.text,
         "taken username: 409 with a clear message", r.text[-800:])
    t.eq(site.request("GET", "/invite/" + inv2["token"]).status, 200,
         "after a refused registration the invite is still usable")
    r = webtest.register_via_form(site, inv2["token"], "webuser3", PW)
    t.eq(r.status, 200, "the same invite then registers another name")

    # preset username
    inv3 = site.generate("--username", "juliet")
    r = webtest.register_via_form(site, inv3["token"], None, PW)
    t.ok(r.status == 200 and "juliet@localhost" in r.text,
         "preset username: registered as juliet")
    t.ok(site.can_login("juliet", PW), "juliet logs in over XMPP")

    # contact invite that may register
    inv4 = site.generate("--contact", "webuser@localhost", "--allow-register")
    r = webtest.register_via_form(site, inv4["token"], "romeo", PW)
    t.ok(r.status == 200 and "romeo@localhost" in r.text,
         "contact invite with ibr=y: registered on the web",
         "%d %s\n%s" % (r.status, r.text[-600:], site.xmpp_logs()))
    t.ok(site.can_login("romeo", PW), "romeo logs in over XMPP")

    # password reset
    inv5 = site.generate("--reset", "webuser")
    r = webtest.register_via_form(site, inv5["token"], None, "new password 2")
    t.ok(r.status == 200 and "Your new password is set" in r.text,
         "reset on the web: done", r.text[-800:])
    t.ok(site.can_login("webuser", "new password 2"), "new password works")
    t.ok(not site.can_login("webuser", PW), "old password no longer works")

    # a reset invite cannot create another account
    inv6 = site.generate("--reset", "juliet")
    r = webtest.register_via_form(site, inv6["token"], "mallory", PW)
    t.eq(r.status, 422, "reset invite: another username refused by the form")
    t.ok(not site.can_login("mallory", PW), "and no account mallory exists")

    pool_tests()

    log = site.log_text()
    t.ok(not [x for x in site.tokens if x in log], "no token in the log")
    t.ok(PW not in log and "new password 2" not in log, "no password in the log")
    t.ok("register id=%s webuser@localhost: done" % inv["id"] in log,
         "the log names the invite by id and the new JID")


def pool_tests():
    """invites-web keeps XMPP connections ready (xmpp_pool) once
    registrations come in; one the server has closed meanwhile is found
    closed and not used."""
    # Wait until the pool is full: its last event a connection made ready
    # with as many waiting as wanted.  No thread is then making one, and
    # every connection it holds predates the restart.
    event = re.compile(r"XMPP connection for localhost (?:ready \((\d+) "
                       r"waiting, (\d+) wanted\)|taken|wanted)")

    def full():
        last = None
        for m in event.finditer(site.log_text()):
            last = m
        return (last is not None and last.group(1) is not None and
                last.group(1) == last.group(2) and int(last.group(1)) > 0)
    deadline = time.monotonic() + 60
    while not full() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not t.ok(full(), "after registrations, connections are made ready "
                "ahead, as many as wanted"):
        t.diag(site.log_text()[-2000:])
        return
    # c2s restarts: every connection kept ready is closed by the server
    err = site.restart_xmpp()
    if not t.ok(err is None, "jabberd2 restarts", err):
        return
    inv = site.generate()
    r = webtest.register_via_form(site, inv["token"], "afterrestart", PW)
    if not t.eq(r.status, 200, "after the restart, a web registration is done"):
        t.diag(r.text[-600:])
        t.diag(site.log_text()[-1500:])
    t.ok(site.can_login("afterrestart", PW), "and that account logs in")
    inv = site.generate()
    r = webtest.register_via_form(site, inv["token"], "pooled", PW)
    t.eq(r.status, 200, "and so is the next one")
    t.eq(site.stop(), 0, "invites-web stops cleanly")
    m = re.search(r"made ready ahead: (\d+), used: (\d+), found closed: "
                  r"(\d+); registrations without one: (\d+)",
                  site.log_text())
    if not t.ok(m is not None, "the pool's counts are logged at the end",
                site.log_text()[-1500:]):
        return
    made, used, closed, without = (int(x) for x in m.groups())
    t.ok(used >= 1, "registrations used connections made ready ahead",
         m.group(0))
    t.ok(closed >= 1, "connections the restarted server closed were found "
         "closed, not used", m.group(0))
    t.ok(made >= used + closed, "none was used twice", m.group(0))


try:
    main()
finally:
    site.cleanup()
sys.exit(t.done())
