# SPDX-License-Identifier: MIT
"""Shared harness of the invites-web tests: TAP output, a scratch site
(config + invite store made with invitectl), starting and stopping the
daemon on a free loopback port, and plain HTTP requests (http.client).
Tests skip (exit 77) when invites-web or invitectl was not built."""

import http.client
import json
import os
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
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, detail=None):
        self.n += 1
        if not cond:
            self.failed += 1
        print("%s %d - %s" % ("ok" if cond else "not ok", self.n, name))
        if not cond and detail is not None:
            for line in str(detail).splitlines()[:20]:
                print("#   " + line)
        sys.stdout.flush()
        return cond

    def eq(self, got, want, name):
        return self.ok(got == want, name, "got:  %r\nwant: %r" % (got, want))

    def diag(self, msg):
        for line in str(msg).splitlines():
            print("# " + line)
        sys.stdout.flush()

    def done(self):
        print("1..%d" % self.n)
        sys.stdout.flush()
        return 1 if self.failed else 0


def skip_all(reason):
    print("1..0 # SKIP %s" % reason)
    sys.stdout.flush()
    sys.exit(77)


def need_binaries():
    for p in (DAEMON, INVITECTL):
        if not os.access(p, os.X_OK):
            skip_all("%s was not built" % os.path.basename(p))


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


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
