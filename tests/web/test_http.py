# SPDX-License-Identifier: MIT
"""HTTP-level tests of invites-web, route by route: landing pages (GET and
HEAD, headers, what each kind of invite shows, platforms, escaping), the
uniform 404 for bad tokens, the registration form (CSRF, field checks,
limits, no password echoed), static assets, the JSON API (public invite
look-up, keys and scopes, malformed and oversized bodies), 429 after
repeated failures, and no token in the log.  Web registrations that reach
an XMPP server are in test_register.py."""

import json
import os
import re
import sys
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import webtest  # noqa: E402

webtest.need_binaries()
t = webtest.Tap()
site = webtest.Site(extra_conf=(
    'site_name = Example <Chat> & "Friends"\n'
    "xmpp_server = 127.0.0.1:1\n"
    "web_real_ip_header = X-Real-IP\n"
    "web_max_failures = 5\n"))

ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
           "(KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36")
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) "
          "AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148")
MAC = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
       "(KHTML, like Gecko) Version/17.1 Safari/605.1.15")

_addr = [0]


def fresh_addr():
    """A distinct client address per test area (trusted X-Real-IP from
    loopback), so failure counting of one part does not leak into another."""
    _addr[0] += 1
    return "192.0.2.%d" % _addr[0]


def get(path, addr=None, **headers):
    return site.request("GET", path, headers=headers, addr=addr or fresh_addr())


def check_security_headers(r, what, cors):
    csp = r.header("Content-Security-Policy") or ""
    t.ok("default-src 'none'" in csp and "unsafe-inline" not in csp and
         "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and
         "form-action 'self'" in csp and "base-uri 'none'" in csp,
         "%s: strict CSP" % what, csp)
    t.eq(r.header("Referrer-Policy"), "no-referrer", "%s: Referrer-Policy" % what)
    t.eq(r.header("X-Content-Type-Options"), "nosniff", "%s: nosniff" % what)
    t.eq(r.header("Cache-Control"), "no-store", "%s: no-store" % what)
    if cors:
        t.eq(r.header("Access-Control-Allow-Origin"), "*", "%s: CORS *" % what)
        t.eq(r.header("Access-Control-Expose-Headers"), "Link",
             "%s: Link exposed" % what)
    else:
        t.eq(r.header("Access-Control-Allow-Origin"), None,
             "%s: no CORS" % what)


def form_fields(html):
    return dict(re.findall(r'name="([a-z0-9]+)" value="([^"]*)"', html))


def cookie_of(r):
    for v in r.headers_named("Set-Cookie"):
        if v.startswith("invites_csrf="):
            return v.split(";")[0]
    return None


def post_form(path, fields, cookie=None, addr=None, extra=None,
              ctype="application/x-www-form-urlencoded"):
    h = {"Content-Type": ctype, "Origin": site.base,
         "Sec-Fetch-Site": "same-origin"}
    if cookie:
        h["Cookie"] = cookie
    h.update(extra or {})
    body = fields if isinstance(fields, str) else urllib.parse.urlencode(fields)
    return site.request("POST", path, headers=h, body=body, addr=addr)


def main():
    account = site.generate()
    preset = site.generate("--username", "juliet")
    contact = site.generate("--contact", "romeo@example.com", "--allow-register")
    contact_only = site.generate("--contact", "romeo@example.com")
    reset = site.generate("--reset", "nurse")
    revoked = site.generate()
    site.invitectl("revoke", revoked["id"])

    if not t.ok(site.start(), "invites-web starts"):
        t.diag(site.log_text())
        return

    # ---- landing page, account invite ----
    tok = account["token"]
    r = get("/invite/" + tok)
    t.eq(r.status, 200, "landing: 200")
    t.ok(r.header("Content-Type", ).startswith("text/html"), "landing: HTML")
    uri = "xmpp:example.com?register;preauth=" + tok
    t.eq(r.header("Link"), '<%s>; rel="alternate"' % uri, "landing: Link header")
    check_security_headers(r, "landing", cors=True)
    body = r.text
    t.ok('<link rel="alternate" href="%s">' % uri in body,
         "landing: <link rel=alternate> with the same URI")
    t.ok('href="%s"' % uri in body and "Open in your app" in body,
         "landing: Open in your app button")
    t.ok('<svg class="qr"' in body and "<path" in body,
         "landing: inline SVG QR code")
    t.ok('href="/register/%s"' % tok in body, "landing: register on the web link")
    t.ok("Valid until" in body and "UTC" in body, "landing: validity shown")
    t.ok("Example &lt;Chat&gt; &amp; &quot;Friends&quot;" in body and
         "<Chat>" not in body, "landing: site name escaped")
    t.ok("<script>" not in body.replace('<script src=', ''),
         "landing: no inline script")
    t.ok(" style=" not in body, "landing: no inline style attributes")
    for ref in sorted(set(re.findall(r'(?:href|src)="(/[^"]*)"', body))):
        rr = get(ref)
        t.eq(rr.status, 200, "landing: referenced path %s answers 200" %
             ref.replace(tok, "TOKEN"))

    r = site.request("HEAD", "/invite/" + tok, addr=fresh_addr())
    t.eq(r.status, 200, "landing HEAD: 200")
    t.eq(r.header("Link"), '<%s>; rel="alternate"' % uri, "landing HEAD: Link")
    check_security_headers(r, "landing HEAD", cors=True)
    t.eq(r.body, b"", "landing HEAD: no body")
    g = site.request("GET", "/invite/" + tok, addr=fresh_addr())
    t.eq(r.header("Content-Length"), str(len(g.body)),
         "landing HEAD: the Content-Length of the GET")

    # ---- platforms ----
    r = get("/invite/" + tok, **{"User-Agent": ANDROID})
    body = r.text
    t.ok("Apps for Android" in body, "Android visitor: Android apps first")
    play = ("https://play.google.com/store/apps/details?id=eu.siacs.conversations"
            "&amp;referrer=" + urllib.parse.quote(uri, safe=""))
    t.ok(play in body, "Play Store link carries referrer= the xmpp: URI")
    t.ok("https://f-droid.org/packages/eu.siacs.conversations/" in body,
         "F-Droid link")
    first = body.index("Apps for Android")
    t.ok(body.index('data-app="conversations"') > first and
         body.index('data-app="conversations"') < body.index("<details"),
         "Android apps before the other platforms")
    t.ok("<details" in body and "Apps for other platforms" in body,
         "other platforms one tap away")
    r = get("/invite/" + tok, **{"User-Agent": IPHONE})
    t.ok("Apps for iPhone and iPad" in r.text and
         r.text.index('data-app="monal"') < r.text.index("<details"),
         "iPhone visitor: Monal first")
    r = get("/invite/" + tok, **{"User-Agent": MAC})
    t.ok("Apps for macOS" in r.text, "Mac visitor: macOS apps (not all apps)")
    r = get("/invite/" + tok, **{"User-Agent": "curl/7"})
    t.ok("Apps for every platform" in r.text and "<details class=\"other-apps\" open" in r.text,
         "unknown platform: every app, list open")
    t.ok("register on the web</a> first" in r.text,
         "apps without invite support point to web registration")

    # ---- other kinds ----
    r = get("/invite/" + preset["token"])
    t.ok(r.status == 200 and "juliet@example.com" in r.text,
         "preset username: the account is named")
    r = get("/invite/" + contact["token"])
    body = r.text
    t.ok(r.status == 200 and "romeo@example.com</span> invites you to chat" in body,
         "contact invite: who invites")
    t.ok("xmpp:romeo@example.com?roster;preauth=%s;ibr=y" % contact["token"] in
         (r.header("Link") or ""), "contact invite: roster URI with ibr=y")
    t.ok('/register/%s"' % contact["token"] in body,
         "contact invite with ibr: register link")
    r = get("/invite/" + contact_only["token"])
    t.ok(r.status == 200 and "/register/" not in r.text,
         "contact-only invite: no register link")
    r = get("/register/" + contact_only["token"])
    t.eq(r.status, 404, "contact-only invite: no registration form")
    r = get("/invite/" + reset["token"])
    t.ok(r.status == 200 and "Set a new password" in r.text and
         "nurse@example.com" in r.text, "reset invite: says what it is")

    # ---- invalid tokens: one uniform 404 ----
    bad = ["A" * 22, "short", "x" * 65, "bad!token!bad!token!xx", revoked["token"],
           account["token"][:-1] + ("A" if account["token"][-1] != "A" else "B")]
    bodies = set()
    for b in bad:
        r = get("/invite/" + urllib.parse.quote(b))
        t.eq(r.status, 404, "bad token %s...: 404" % b[:6])
        t.eq(r.header("Link"), None, "bad token: no Link header")
        check_security_headers(r, "bad token page", cors=False) if b == bad[0] else None
        bodies.add(r.body)
    t.eq(len(bodies), 1, "the same 404 page for every bad token")
    t.ok("not valid" in bodies.pop().decode(), "404 page says the link is not valid")
    r = site.request("HEAD", "/invite/" + "B" * 22, addr=fresh_addr())
    t.ok(r.status == 404 and r.header("Link") is None, "HEAD bad token: 404, no Link")

    # ---- registration form ----
    a = fresh_addr()
    r = get("/register/" + tok, addr=a)
    t.eq(r.status, 200, "register form: 200")
    check_security_headers(r, "register form", cors=False)
    cookie = cookie_of(r)
    t.ok(cookie is not None, "register form: CSRF cookie set")
    sc = [v for v in r.headers_named("Set-Cookie") if v.startswith("invites_csrf=")]
    t.ok(sc and "HttpOnly" in sc[0] and "SameSite=Strict" in sc[0],
         "CSRF cookie is HttpOnly and SameSite=Strict")
    f = form_fields(r.text)
    t.ok(len(f.get("csrf", "")) == 32, "register form: CSRF field")
    t.ok('<label for="username"' in r.text and 'id="username"' in r.text and
         'autocomplete="username"' in r.text and '<label for="password"' in r.text,
         "register form: labels match inputs, autocomplete")

    def fields(**kw):
        d = {"csrf": f["csrf"], "username": "alice", "password": "correct horse",
             "password2": "correct horse"}
        d.update(kw)
        return {k: v for k, v in d.items() if v is not None}

    path = "/register/" + tok
    r = post_form(path, fields(), cookie=None, addr=a)
    t.eq(r.status, 403, "CSRF: no cookie: 403")
    r = post_form(path, fields(csrf="0" * 32), cookie=cookie, addr=a)
    t.eq(r.status, 403, "CSRF: wrong token: 403")
    r = post_form(path, fields(), cookie=cookie, addr=fresh_addr(),
                  extra={"Origin": "https://evil.example"})
    t.eq(r.status, 403, "CSRF: cross-site Origin: 403")
    r = post_form(path, fields(), cookie=cookie, addr=fresh_addr(),
                  extra={"Sec-Fetch-Site": "cross-site"})
    t.eq(r.status, 403, "CSRF: Sec-Fetch-Site cross-site: 403")
    t.eq(r.header("Access-Control-Allow-Origin"), None, "form POST: no CORS")
    r = post_form(path, fields(), cookie=cookie, addr=fresh_addr(),
                  extra={"Origin": "null", "Sec-Fetch-Site": "cross-site"})
    t.eq(r.status, 403, "CSRF: Origin null from another site: 403")
    r = post_form(path, fields(), cookie=cookie, addr=fresh_addr(),
                  extra={"Origin": "null"})
    t.eq(r.status, 503, "own form under no-referrer (Origin: null, same-origin) "
         "passes the CSRF checks")

    b = fresh_addr()
    r = post_form(path, fields(password2="something else"), cookie=cookie, addr=b)
    t.ok(r.status == 422 and "do not match" in r.text, "passwords differ: 422")
    t.ok('value="alice"' in r.text, "re-rendered form keeps the username")
    t.ok("correct horse" not in r.text and "something else" not in r.text,
         "re-rendered form does not echo passwords")
    r = post_form(path, fields(password="short", password2="short"), cookie=cookie, addr=b)
    t.ok(r.status == 422 and "too short" in r.text, "short password: 422")
    r = post_form(path, fields(username="u" * 3000), cookie=cookie, addr=b)
    t.ok(r.status == 422 and "too long" in r.text, "3000-character username: 'too long'")
    r = post_form(path, fields(username="<script>alert(1)</script>"), cookie=cookie, addr=b)
    t.ok(r.status == 422 and "not allowed" in r.text, "invalid username: 422")
    t.ok("&lt;script&gt;alert(1)&lt;/script&gt;" in r.text and
         "<script>alert" not in r.text, "hostile username escaped in the form")
    r = post_form(path, fields(password="p" * 300, password2="p" * 300), cookie=cookie, addr=b)
    t.ok(r.status == 422 and "too long" in r.text, "300-byte password: 'too long'")
    r = post_form(path, fields(password="p" * 20000, password2="p" * 20000),
                  cookie=cookie, addr=b)
    t.eq(r.status, 413, "20,000-character password: 413, not a crash")
    r = post_form(path, fields(password="pass\x01word", password2="pass\x01word"),
                  cookie=cookie, addr=b)
    t.ok(r.status == 422 and "control" in r.text, "control character in password: 422")
    r = post_form(path, "csrf=%zz&username=a", cookie=cookie, addr=b)
    t.eq(r.status, 400, "malformed form encoding: 400")
    r = post_form(path, urllib.parse.urlencode(fields()) + "&username=bob",
                  cookie=cookie, addr=b)
    t.eq(r.status, 400, "duplicate form field: 400")
    r = post_form(path, fields(), cookie=cookie, addr=b, ctype="text/plain")
    t.eq(r.status, 415, "form with the wrong content type: 415")
    r = post_form("/register/", fields(), cookie=cookie, addr=fresh_addr())
    t.ok(r.status == 400 and "incomplete" in r.text,
         "POST without a token: 400 'incomplete', not a crash")
    r = post_form("/register/" + "C" * 22, fields(), cookie=cookie, addr=fresh_addr())
    t.eq(r.status, 404, "POST with a bad token: the 404 page")
    r = post_form(path, fields(), cookie=cookie, addr=b)
    t.ok(r.status == 503 and "cannot be reached" in r.text,
         "XMPP server down: 503 with a clear message")
    t.ok('value="alice"' in r.text and "correct horse" not in r.text,
         "after a server error: username kept, password not echoed")
    r = site.request("POST", path, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Content-Length": "100000", "Cookie": cookie}, body=b"x" * 100000,
        addr=fresh_addr())
    t.eq(r.status, 413, "form body over the limit: 413")

    # preset and reset forms
    r = get("/register/" + preset["token"])
    t.ok('value="juliet"' in r.text and "readonly" in r.text,
         "preset username: shown locked")
    pf = form_fields(r.text)
    r2 = post_form("/register/" + preset["token"],
                   {"csrf": pf["csrf"], "username": "mallory", "password": "x" * 10,
                    "password2": "x" * 10}, cookie=cookie_of(r), addr=fresh_addr())
    t.ok(r2.status == 422 and "fixed username" in r2.text,
         "preset username: another name refused")
    r = get("/register/" + reset["token"])
    t.ok(r.status == 200 and "New password" in r.text and
         'id="username"' not in r.text and "nurse@example.com" in r.text,
         "reset form: only a new password, for the named account")

    # ---- static assets ----
    for p, ctype in (("/static/invite.css", "text/css"),
                     ("/static/invite.js", "text/javascript"),
                     ("/js/bootstrap4/css/bootstrap.min.css", "text/css"),
                     ("/js/jquery/jquery.min.js", "text/javascript"),
                     ("/favicon.ico", "image/svg+xml"),
                     ("/robots.txt", "text/plain")):
        r = get(p)
        t.ok(r.status == 200 and (r.header("Content-Type") or "").startswith(ctype)
             and len(r.body) > 0, "static %s: 200 %s" % (p, ctype))
    r = get("/static/invite.css")
    etag = r.header("ETag")
    r = get("/static/invite.css", **{"If-None-Match": etag})
    t.eq(r.status, 304, "static: 304 for a matching ETag")
    t.eq(get("/static/nothere.css").status, 404, "unknown asset: 404")
    t.eq(get("/").status, 200, "index page")
    t.eq(get("/nothing/here").status, 404, "unknown path: 404")
    r = site.request("PUT", "/invite/" + tok, addr=fresh_addr())
    t.ok(r.status == 405 and "GET" in (r.header("Allow") or ""),
         "PUT on a landing page: 405 with Allow")

    # ---- API: public invite look-up ----
    r = get("/api/v1/invite/" + contact["token"])
    t.eq(r.status, 200, "API public: 200")
    j = r.json()
    t.ok(j.get("kind") == "contact" and j.get("inviter") == "romeo@example.com" and
         j.get("uri", "").startswith("xmpp:romeo@example.com?roster;preauth=") and
         j.get("register_url", "").endswith("/register/" + contact["token"]),
         "API public: what the invite is", j)
    t.eq(r.header("Access-Control-Allow-Origin"), "*", "API public: CORS")
    t.ok((r.header("Link") or "").startswith("<xmpp:"), "API public: Link")
    t.eq(r.header("Content-Type"), "application/json", "API public: JSON")
    r = get("/api/v1/invite/" + "D" * 22)
    t.ok(r.status == 404 and r.json().get("error") == "not-found",
         "API public: bad token 404 JSON")
    r = site.request("OPTIONS", "/api/v1/invite/" + tok, addr=fresh_addr())
    t.ok(r.status == 204 and r.header("Access-Control-Allow-Origin") == "*",
         "API public: CORS preflight")

    # ---- API: keys ----
    r = get("/api/v1/invites")
    t.ok(r.status == 401 and (r.header("WWW-Authenticate") or "").startswith("Bearer"),
         "API: no key: 401 with WWW-Authenticate")
    t.eq(r.json().get("error"), "unauthorized", "API: error as JSON")
    r = get("/api/v1/invites", Authorization="Bearer nonsense-key")
    t.eq(r.status, 401, "API: unknown key: 401")
    r = site.request("POST", "/api/v1/invites", headers={
        "Content-Type": "application/json", "Content-Length": "100000"},
        body=b"{" + b" " * 99998 + b"}", addr=fresh_addr())
    t.ok(r.status == 413 and r.json().get("error") == "too-large",
         "API: oversized body: 413 JSON")
    r = site.request("DELETE", "/api/v1/invites", addr=fresh_addr())
    t.eq(r.status, 405, "API: DELETE on the collection: 405")
    t.eq(get("/api/v2/nothing").status, 404, "API: unknown resource: 404")

    keys = site.invitectl("api-key", "--help", check=False)
    if keys.returncode == 0:
        api_key_tests()
    else:
        t.diag("invitectl has no api-key command yet: key tests skipped")

    slow_server_tests()

    # ---- 429 after repeated failures ----
    a = fresh_addr()
    for i in range(5):
        get("/invite/" + "E" * 21 + str(i % 10), addr=a)
    r = get("/invite/" + tok, addr=a)
    t.eq(r.status, 429, "429 after 5 failures, even for a valid token")
    t.ok(r.header("Retry-After") is not None, "429 has Retry-After")
    r = get("/api/v1/invite/" + tok, addr=a)
    t.eq(r.status, 429, "429 on the API too for that address")
    r = get("/register/" + tok, addr=a)
    t.eq(r.status, 429, "429 on the registration page too")
    t.eq(get("/invite/" + tok).status, 200, "other addresses unaffected")
    t.eq(get("/static/invite.css", addr=a).status, 200, "assets still served")

    # ---- expiry: same daemon binary, clock moved past the expiry ----
    rc = site.stop()
    t.eq(rc, 0, "SIGTERM: clean exit")
    if t.ok(site.start(env={"INVITES_FAKE_NOW": str(2 ** 33)}),
            "restarted with the clock past every expiry"):
        r = get("/invite/" + tok)
        t.ok(r.status == 404 and r.body in (bodies or {r.body}),
             "expired token: the same 404")
        site.stop()

    # ---- logs ----
    log = site.log_text()
    leaked = [x for x in site.tokens if x in log]
    t.ok(not leaked, "no token in the log (debug level)",
         "leaked: %d tokens" % len(leaked))
    t.ok(account["id"] in log, "the log names invites by public id")
    t.ok("/invite/-" in log, "the access log names routes, not paths")


def slow_server_tests():
    """A registration waiting on a silent XMPP server holds up nobody, and
    SIGTERM waits for it; the visitor gets 503 when it times out."""
    import socket
    import threading
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(4)
    accepted = threading.Event()
    conns = []

    def swallow():
        c, _ = hole.accept()
        conns.append(c)
        accepted.set()
    threading.Thread(target=swallow, daemon=True).start()
    # (no connections kept ready here: the silent server tells that the
    # registration has begun by the connection it accepts; the pool has
    # its own test below)
    s2 = webtest.Site(extra_conf="xmpp_server = 127.0.0.1:%d\n"
                      "web_register_timeout = 4s\nxmpp_pool = 0\n" %
                      hole.getsockname()[1])
    try:
        inv = s2.generate()
        if not t.ok(s2.start(), "second daemon with a silent XMPP server"):
            return
        r = s2.request("GET", "/register/" + inv["token"])
        f = form_fields(r.text)
        cookie = cookie_of(r)
        out = {}

        def post():
            try:
                out["r"] = s2.request("POST", "/register/" + inv["token"], headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": s2.base, "Cookie": cookie},
                    body=urllib.parse.urlencode({
                        "csrf": f["csrf"], "username": "slow",
                        "password": "long enough", "password2": "long enough"}))
            except Exception as e:  # reported by the assertions below
                out["error"] = repr(e)
        th = threading.Thread(target=post)
        th.start()
        t.ok(accepted.wait(30), "the registration connects to the XMPP server")
        r = s2.request("GET", "/invite/" + inv["token"])
        t.ok(r.status == 200 and "r" not in out,
             "a landing page is served while a registration waits")
        th.join(60)
        t.ok("r" in out and out["r"].status == 503 and
             "cannot be reached" in out["r"].text,
             "the waiting registration ends in 503 after its time-out")
        t.eq(s2.request("GET", "/invite/" + inv["token"]).status, 200,
             "and the invite is still usable")
        # SIGTERM while a registration waits: the daemon lets it finish
        accepted.clear()
        threading.Thread(target=swallow, daemon=True).start()
        out.clear()
        th = threading.Thread(target=post)
        th.start()
        waited = accepted.wait(30)
        rc = s2.stop()
        th.join(60)
        if not t.ok(waited and rc == 0 and "r" in out and
                    out["r"].status == 503,
                    "SIGTERM during a registration: it is answered, clean exit"):
            t.diag("connected %r, exit status %r, answer %r, error %r" % (
                waited, rc, out["r"].status if "r" in out else None,
                out.get("error")))
            # an abort under the sanitizers explains itself in the log
            for line in s2.log_text().splitlines()[-40:]:
                t.diag(line)
    finally:
        for c in conns:
            c.close()
        hole.close()
        s2.cleanup()
    pool_on_silent_server()


def pool_on_silent_server():
    """Connections kept ready that the server never answers: a
    registration still ends in 503, and SIGTERM does not wait for them."""
    import socket
    import threading
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)
    conns = []

    def swallow():
        while True:
            try:
                c, _ = hole.accept()
            except OSError:
                return
            conns.append(c)
    threading.Thread(target=swallow, daemon=True).start()
    s3 = webtest.Site(extra_conf="xmpp_server = 127.0.0.1:%d\n"
                      "web_register_timeout = 2s\nxmpp_pool = 4\n" %
                      hole.getsockname()[1])
    try:
        inv = s3.generate()
        if not t.ok(s3.start(), "a daemon keeping connections ready for a "
                    "silent XMPP server"):
            return
        r = webtest.register_via_form(s3, inv["token"], "silent",
                                      "long enough")
        t.eq(r.status, 503, "its registration ends in 503")
        t.ok(len(conns) >= 2, "the pool connected too, beside the "
             "registration", "%d connections" % len(conns))
        rc = s3.stop()
        if not t.eq(rc, 0, "SIGTERM while they wait: clean exit"):
            for line in s3.log_text().splitlines()[-30:]:
                t.diag(line)
    finally:
        hole.close()
        for c in conns:
            c.close()
        s3.cleanup()


def api_key_tests():
    r = site.invitectl("api-key", "create", "bot", "--scope", "invites:create",
                       "--scope", "invites:read")
    key = r.stdout.strip().split()[-1]
    ro = site.invitectl("api-key", "create", "reader", "--scope",
                        "invites:read").stdout.strip().split()[-1]
    auth = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}
    a = fresh_addr()
    r = site.request("POST", "/api/v1/invites", headers=auth, addr=a,
                     body=json.dumps({"kind": "account", "username": "carol",
                                      "roles": ["member"], "groups": ["Friends"],
                                      "uses": 1, "expiry": "2d",
                                      "note": "<b>for carol</b>"}))
    t.eq(r.status, 201, "API create: 201")
    j = r.json()
    t.ok(j.get("link", "").startswith(site.base + "/invite/") and
         j.get("uri", "").startswith("xmpp:carol@example.com?register;preauth="),
         "API create: link and URI in the answer", j)
    t.ok((r.header("Location") or "").endswith("/api/v1/invites/" + j.get("id", "?")),
         "API create: Location")
    token = j["link"].rsplit("/", 1)[1]
    site.tokens.append(token)
    r = site.request("GET", "/api/v1/invites/" + j["id"], headers=auth, addr=a)
    t.ok(r.status == 200 and r.json().get("username") == "carol" and
         token not in r.text and "link" not in r.json(),
         "API show: the invite, without its link")
    r = site.request("GET", "/api/v1/invites?kind=account", headers=auth, addr=a)
    t.ok(r.status == 200 and any(i["id"] == j["id"] for i in r.json()["invites"]),
         "API list with a filter")
    for body, what in (("{bad json", "malformed JSON"),
                       ('{"kind": "party"}', "bad kind"),
                       ('{"uses": "many"}', "uses not a number"),
                       ('{"colour": "red"}', "unknown field"),
                       ('[1, 2]', "not an object"),
                       ('{"kind": "account", "kind": "reset"}', "duplicate key")):
        r = site.request("POST", "/api/v1/invites", headers=auth, body=body, addr=a)
        t.ok(r.status == 400 and r.json().get("error") == "bad-request",
             "API create: %s: 400" % what)
    r = site.request("POST", "/api/v1/invites", headers=auth, addr=a,
                     body=json.dumps({"username": "carol"}))
    t.eq(r.status, 409, "API create: username reserved by a pending invite: 409")
    rauth = {"Authorization": "Bearer " + ro, "Content-Type": "application/json"}
    r = site.request("POST", "/api/v1/invites", headers=rauth, body="{}", addr=a)
    t.eq(r.status, 403, "API: key without the create scope: 403")
    r = site.request("DELETE", "/api/v1/invites/" + j["id"], headers=auth, addr=a)
    t.eq(r.status, 403, "API: key without the revoke scope: 403")
    r = site.request("GET", "/invite/" + token, addr=a)
    t.eq(r.status, 200, "nothing changed by refused requests")
    site.invitectl("api-key", "revoke", "bot")
    r = site.request("GET", "/api/v1/invites", headers=auth, addr=fresh_addr())
    t.eq(r.status, 401, "API: revoked key: 401")


try:
    main()
finally:
    site.cleanup()
sys.exit(t.done())
