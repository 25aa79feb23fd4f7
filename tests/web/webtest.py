# SPDX-License-Identifier: MIT
"""Shared harness of the invites-web tests: TAP output, a scratch site
(config + invite store made with invitectl), starting and stopping the
daemon on a free loopback port, and plain HTTP requests (http.client).
Tests skip (a "1..0 # SKIP" plan, exit 0) when invites-web or invitectl was not built."""

import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SRCDIR = os.environ.get("top_srcdir") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILDDIR = os.environ.get("top_builddir") or os.getcwd()
DAEMON = os.path.join(BUILDDIR, "invites-web")
INVITECTL = os.path.join(BUILDDIR, "invitectl")


class Tap:
    """TAP output.  The details of each failure (its detail, and the diag
    lines printed right after it) are repeated before the plan, where the
    tail of the log that CI shows will hold them."""

    RECAP_LINES = 60

    def __init__(self):
        self.n = 0
        self.failed = 0
        self.recap = []          # (test line, [detail lines])
        self.last_failed = False

    def ok(self, cond, name, detail=None):
        self.n += 1
        line = "%s %d - %s" % ("ok" if cond else "not ok", self.n, name)
        print(line)
        self.last_failed = not cond
        if not cond:
            self.failed += 1
            self.recap.append((line, []))
            if detail is not None:
                for d in str(detail).splitlines()[:20]:
                    print("#   " + d)
                    self.recap[-1][1].append("  " + d)
        sys.stdout.flush()
        return cond

    def eq(self, got, want, name):
        return self.ok(got == want, name, "got:  %r\nwant: %r" % (got, want))

    def diag(self, msg):
        for line in str(msg).splitlines():
            print("# " + line)
            if self.last_failed:
                self.recap[-1][1].append(line)
        sys.stdout.flush()

    def done(self):
        if self.recap:
            print("# recap of the failures:")
            for line, details in self.recap:
                print("# " + line)
                for d in details[-self.RECAP_LINES:]:
                    print("#   " + d)
        print("1..%d" % self.n)
        sys.stdout.flush()
        return 1 if self.failed else 0


def use_debian_python(module):
    """Debian's python3-* packages (slixmpp, selenium) live in the system
    interpreter: re-run the test under /usr/bin/python3 when the one
    configure found (a pyenv, say) cannot import module."""
    try:
        __import__(module)
        return True
    except ImportError:
        pass
    sysp = "/usr/bin/python3"
    if os.path.realpath(sys.executable) != os.path.realpath(sysp) and \
            os.access(sysp, os.X_OK) and not os.environ.get("WEBTEST_REEXEC"):
        os.environ["WEBTEST_REEXEC"] = "1"
        sys.stdout.flush()
        os.execv(sysp, [sysp] + sys.argv)
    return False


def skip_all(reason):
    print("1..0 # SKIP %s" % reason)
    sys.stdout.flush()
    sys.exit(0)


def need_binaries():
    for p in (DAEMON, INVITECTL):
        if not os.access(p, os.X_OK):
            skip_all("%s was not built" % os.path.basename(p))


def free_port():
    """A port nobody listens on, below the kernel's ephemeral range: a port
    from that range (what bind to port 0 gives) can be taken by any
    outgoing connection of a parallel test before the daemon binds it."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    if low <= 12000:
        low = 32768
    for _ in range(200):
        port = random.randrange(10000, low)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        return port
    raise RuntimeError("no free port below %d" % low)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers   # list of (name, value)
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def headers_named(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body.decode("utf-8"))


class Site:
    """A scratch directory with invites.conf, an invite store and, once
    started, an invites-web daemon."""

    def __init__(self, extra_conf="", domain="example.com", port=None):
        self.dir = tempfile.mkdtemp(prefix="invites-web-test.")
        self.domain = domain
        self.port = port or free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.conf = os.path.join(self.dir, "invites.conf")
        self.log = os.path.join(self.dir, "web.log")
        self.proc = None
        self.tokens = []
        os.mkdir(os.path.join(self.dir, "store"))
        with open(self.conf, "w") as f:
            f.write("store = %s/store\n" % self.dir)
            f.write("domains = %s\n" % domain)
            f.write("web_base_url = %s\n" % self.base)
            f.write("landing_url = %s/invite/{token}\n" % self.base)
            f.write(extra_conf)

    def invitectl(self, *args, check=True):
        r = subprocess.run([INVITECTL, "--config", self.conf] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True)
        if check and r.returncode != 0:
            raise RuntimeError("invitectl %s: %s" % (" ".join(args), r.stderr))
        return r

    def generate(self, *args):
        """An invite: a dict with at least token and id."""
        r = self.invitectl("generate", self.domain, "--json", *args)
        inv = json.loads(r.stdout)
        self.tokens.append(inv["token"])
        return inv

    def start(self, env=None, extra_args=()):
        e = dict(os.environ)
        e.update(env or {})
        ready = os.path.join(self.dir, "ready")
        if os.path.exists(ready):
            os.unlink(ready)
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [DAEMON, "--config", self.conf, "--listen",
             "127.0.0.1:%d" % self.port, "--ready-file", ready,
             "--datadir", os.path.join(SRCDIR, "data", "web"),
             "--log-level", "debug"] + list(extra_args),
            stdout=self.logf, stderr=self.logf, env=e)
        for _ in range(400):
            if os.path.exists(ready) and os.path.getsize(ready) > 0:
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.025)
        return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        if getattr(self, "logf", None):
            self.logf.close()
            self.logf = None
        return rc

    def log_text(self):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def request(self, method, path, headers=None, body=None, addr=None):
        h = dict(headers or {})
        if addr:
            h["X-Real-IP"] = addr
        if isinstance(body, str):
            body = body.encode("utf-8")
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            return Response(r.status, r.getheaders(), data)
        finally:
            c.close()

    def cleanup(self):
        self.stop()
        if not os.environ.get("KEEP_TEST_DIR"):
            shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------
# A real XMPP server (Debian's jabberd2 with our modules, started by
# contrib/jabberd2/xmpp-local) behind invites-web, for web registration.
# ---------------------------------------------------------------------

XMPP_LOCAL = os.path.join(SRCDIR, "contrib", "jabberd2", "xmpp-local")
MODULES = os.path.join(BUILDDIR, "plugin", "jabberd2", ".libs")


def need_xmpp():
    """Skip unless jabberd2, slixmpp, our modules and the runner exist."""
    need_binaries()
    if not os.access("/usr/sbin/jabberd2-c2s", os.X_OK):
        skip_all("jabberd2 is not installed")
    if not os.access(XMPP_LOCAL, os.X_OK):
        skip_all("contrib/jabberd2/xmpp-local does not exist yet")
    for m in ("authreg_invites.so", "mod_invites.so"):
        if not os.path.exists(os.path.join(MODULES, m)):
            skip_all("the jabberd2 modules were not built")
    r = subprocess.run(["readelf", "-d", os.path.join(MODULES, "authreg_invites.so")],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       universal_newlines=True)
    if "san" in r.stdout:
        skip_all("modules built with sanitizers cannot be loaded by jabberd2")
    if not use_debian_python("slixmpp"):
        skip_all("python3-slixmpp is not installed")
    sys.path.insert(0, os.path.join(SRCDIR, "tests", "integration"))


class XmppSite(Site):
    """jabberd2 via xmpp-local plus invites-web, both run as the setup's
    user (the invite store belongs to it)."""

    def __init__(self, domain="localhost", extra_conf=""):
        self.work = tempfile.mkdtemp(prefix="invites-web-xmpp.")
        os.chmod(self.work, 0o755)
        self.domain = domain
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.dir = os.path.join(self.work, "srv")
        self.env = dict(os.environ)
        self.env.update({"XMPP_DIR": self.dir, "XMPP_DOMAIN": domain,
                         "XMPP_MODULE_DIR": MODULES})
        for k in ("XMPP_C2S_PORT", "XMPP_ROUTER_PORT", "XMPP_MODULES"):
            self.env.pop(k, None)
        self.proc = None
        self.tokens = []
        self.log = os.path.join(self.work, "web.log")
        self.extra_conf = extra_conf
        self.started_xmpp = False

    def start_xmpp(self):
        r = subprocess.run([XMPP_LOCAL, "start"], env=self.env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True)
        if r.returncode != 0:
            return r.stdout
        self.started_xmpp = True
        env = {}
        with open(os.path.join(self.dir, "xmpp-local.env")) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                env[k] = v.strip("'")
        self.c2s_port = int(env["XMPP_C2S_PORT"])
        self.conf = os.path.join(self.dir, "invites.conf")
        with open(self.conf, "a") as f:
            f.write("web_base_url = %s\n" % self.base)
            f.write("landing_url = %s/invite/{token}\n" % self.base)
            f.write("xmpp_server = 127.0.0.1:%d\n" % self.c2s_port)
            f.write("xmpp_tls = required\n")
            f.write(self.extra_conf)
        return None

    def restart_xmpp(self):
        """Stop jabberd2 and start it again in the same directory (same
        ports, store and invites.conf); None, or what went wrong."""
        for cmd in ("stop", "start"):
            r = subprocess.run([XMPP_LOCAL, cmd], env=self.env,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT,
                               universal_newlines=True)
            if r.returncode != 0:
                return r.stdout
        return None

    def as_user(self, argv):
        return [XMPP_LOCAL, "exec"] + argv

    def invitectl(self, *args, check=True):
        r = subprocess.run(self.as_user([INVITECTL, "--config", self.conf] +
                                        list(args)), env=self.env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True)
        if check and r.returncode != 0:
            raise RuntimeError("invitectl %s: %s" % (" ".join(args), r.stderr))
        return r

    def start(self, env=None, extra_args=()):
        rdir = os.path.join(self.work, "run")
        os.makedirs(rdir, exist_ok=True)
        os.chmod(rdir, 0o777)
        ready = os.path.join(rdir, "ready")
        if os.path.exists(ready):
            os.unlink(ready)
        e = dict(self.env)
        e.update(env or {})
        # The daemon runs as the setup's user, who may not be able to
        # read the build and source trees (a root-only checkout, a umask
        # of 077): it runs from copies in the scratch directory, as
        # xmpp-local runs its own invites-web.
        daemon = os.path.join(self.work, "invites-web")
        data = os.path.join(self.work, "data")
        if not os.path.exists(daemon):
            shutil.copy(DAEMON, daemon)
            shutil.copytree(os.path.join(SRCDIR, "data", "web"), data)
            os.chmod(data, 0o755)
            for root, dirs, files in os.walk(data):
                for n in dirs:
                    os.chmod(os.path.join(root, n), 0o755)
                for n in files:
                    os.chmod(os.path.join(root, n), 0o644)
            os.chmod(daemon, 0o755)
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen(self.as_user(
            [daemon, "--config", self.conf, "--listen",
             "127.0.0.1:%d" % self.port, "--ready-file", ready,
             "--datadir", data,
             "--log-level", "debug"] + list(extra_args)),
            stdout=self.logf, stderr=self.logf, env=e)
        for _ in range(400):
            if os.path.exists(ready) and os.path.getsize(ready) > 0:
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.025)
        return False

    def xmpp_env(self):
        import xmppclient
        return xmppclient.Env(self.domain, self.c2s_port)

    def can_login(self, user, password):
        """Log in over XMPP with a real client (slixmpp); True on success."""
        import asyncio
        import xmppclient

        async def go():
            c = await xmppclient.login(self.xmpp_env(), user, password)
            ok = bool(c.ok)
            if ok:
                await c.close()
            return ok
        if getattr(self, "_loop", None) is None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
        return self._loop.run_until_complete(go())

    def xmpp_logs(self):
        out = []
        for n in ("c2s", "sm"):
            try:
                with open(os.path.join(self.dir, "log", n + ".log")) as f:
                    out.append("--- %s.log\n" % n + "".join(f.readlines()[-20:]))
            except OSError:
                pass
        return "\n".join(out)

    def cleanup(self):
        self.stop()
        if self.started_xmpp:
            subprocess.run([XMPP_LOCAL, "stop"], env=self.env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not os.environ.get("KEEP_TEST_DIR"):
            shutil.rmtree(self.work, ignore_errors=True)


def register_via_form(site, token, username, password, addr=None, ua=None):
    """GET the form, POST it like a browser; the POST's Response."""
    import re
    import urllib.parse
    h = {"User-Agent": ua} if ua else {}
    r = site.request("GET", "/register/" + token, headers=h, addr=addr)
    if r.status != 200:
        return r
    fields = dict(re.findall(r'name="([a-z0-9]+)" value="([^"]*)"', r.text))
    cookie = None
    for v in r.headers_named("Set-Cookie"):
        if v.startswith("invites_csrf="):
            cookie = v.split(";")[0]
    body = {"csrf": fields.get("csrf", ""), "password": password,
            "password2": password}
    if username is not None:
        body["username"] = username
    h.update({"Content-Type": "application/x-www-form-urlencoded",
              "Origin": site.base, "Cookie": cookie or ""})
    return site.request("POST", "/register/" + token, headers=h,
                        body=urllib.parse.urlencode(body), addr=addr)
