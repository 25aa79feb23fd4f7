#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/web/run.py: make bench-web (issue 7, "Speed").

In one run, on 127.0.0.1: invites-web beside Debian's jabberd2 with our
modules (contrib/jabberd2/xmpp-local with XMPP_WEB), and Prosody 0.12 with
Debian's prosody-modules web invite modules (mod_invites_page,
mod_invites_register_web, mod_register_apps, mod_http_libjs) plus
bench/web/mod_password_policy.lua, with network_settings = { nagle = false }.
Measures the landing page (requests/s, p50/p99 at 1 and 16 keep-alive
connections, valid and bogus token, and HEAD) with bench/web/hload, web
registrations/s (GET the form, POST it) and, on the same servers, the XMPP
client path's registrations/s (bench/xreg: STARTTLS, pre-auth, XEP-0077),
so that the web path can be stated as a ratio of it.  The servers run at
once and the runs go round them, alternating which goes first.  Writes
bench/RESULTS-web.md.  See bench/README.md.
"""

import argparse
import datetime
import http.client
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

DOMAIN = "localhost"
PASSWORD = "bench-Passw0rd"
RUN_USER = "xmpp-invites"   # xmpp-local's default user when run as root


def log(msg):
    print("bench-web: " + msg, flush=True)


def median(v):
    return statistics.median(v) if v else float("nan")


def fnum(x, digits=1):
    if x is None or x != x:
        return "n/a"
    if abs(x) >= 1000:
        return "{:,.0f}".format(x)
    return ("{:." + str(digits) + "f}").format(x)


def spread(v, digits=1):
    if not v:
        return "n/a"
    return "{} [{}–{}]".format(fnum(median(v), digits), fnum(min(v), digits),
                               fnum(max(v), digits))


def ratio(a, b):
    if not a or not b or a != a or b != b:
        return float("nan")
    return a / b


def xfmt(r):
    return "n/a" if r != r else fnum(r, 1) + "x"


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def kv(line):
    w = line.split()
    out = {}
    for i in range(0, len(w) - 1, 2):
        try:
            out[w[i]] = float(w[i + 1])
        except ValueError:
            out[w[i]] = w[i + 1]
    return out


def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(p * (len(s) - 1) + 0.5))]


def wait_port(port, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def free_port():
    while True:
        p = 10000 + secrets.randbelow(20000)
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
            return p
        except OSError:
            continue
        finally:
            s.close()


def cpu_ms(pids):
    total = 0
    for pid in pids:
        try:
            with open("/proc/{}/stat".format(pid)) as f:
                st = f.read().rsplit(")", 1)[1].split()
            total += int(st[11]) + int(st[12])
        except OSError:
            pass
    return total * 1000.0 / os.sysconf("SC_CLK_TCK")


def cpu_by(pids):
    """{name: CPU ms} of a server's processes."""
    return {name: cpu_ms([pid]) for name, pid in pids.items()}


def cpu_delta(c0, c1, n):
    """Per-process CPU ms per flow between two cpu_by() readings."""
    return {k: (c1[k] - c0.get(k, 0)) / max(n, 1) for k in c1}


def rss_mib(pid):
    try:
        with open("/proc/{}/status".format(pid)) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def pkg_version(name):
    p = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       text=True)
    return p.stdout.strip() if p.returncode == 0 else "not installed"


class Server:
    """What the runs need of one server under test."""
    key = label = None
    web_port = c2s_port = None
    web_pids = all_pids = ()

    def landing(self, token):
        raise NotImplementedError


class Ours(Server):
    key = "ours"
    label = "invites-web + jabberd2 2.7 (xmpp-invites modules)"

    def __init__(self, b):
        self.b = b
        self.dir = os.path.join(b.work, "ours")
        os.makedirs(self.dir)
        with open(os.path.join(self.dir, "invites.conf"), "w") as f:
            f.write("store = {}/store\ndomains = {}\n"
                    "# the benchmark sends X-Real-IP: a new address per "
                    "request\nweb_real_ip_header = X-Real-IP\n".format(
                        self.dir, DOMAIN))
        open(os.path.join(self.dir, "xmpp-local.env"), "w").close()
        self.xl = os.path.join(b.src, "contrib", "jabberd2", "xmpp-local")
        self.env = dict(os.environ, XMPP_DIR=self.dir, XMPP_DOMAIN=DOMAIN,
                        XMPP_MODULE_DIR=os.path.join(b.build, "plugin",
                                                     "jabberd2", ".libs"),
                        XMPP_WEB=os.path.join(b.build, "invites-web"),
                        XMPP_WEB_DATA=os.path.join(b.src, "data", "web"))
        for k in ("XMPP_C2S_PORT", "XMPP_ROUTER_PORT", "XMPP_WEB_PORT",
                  "XMPP_MODULES"):
            self.env.pop(k, None)
        self.started = False
        self.n_tok = 0

    def start(self):
        p = subprocess.run(["sh", self.xl, "start"], env=self.env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=180)
        if p.returncode != 0:
            raise RuntimeError("xmpp-local start: " + p.stdout[-800:])
        self.started = True
        env = {}
        with open(os.path.join(self.dir, "xmpp-local.env")) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                env[k] = v.strip("'")
        self.c2s_port = int(env["XMPP_C2S_PORT"])
        self.web_port = int(env["XMPP_WEB_PORT"])
        with open(os.path.join(self.dir, "xmpp-local.pids")) as f:
            self.pids = {l.split()[0]: int(l.split()[1]) for l in f if l.strip()}
        self.web_pids = [self.pids["web"]]
        self.all_pids = list(self.pids.values())
        self.tokdir = os.path.join(self.dir, "tok")
        self.exec(["mkdir", "-p", self.tokdir])
        if not wait_port(self.web_port):
            raise RuntimeError("invites-web does not answer")

    def exec(self, argv, timeout=600):
        p = subprocess.run(["sh", self.xl, "exec"] + argv, env=self.env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError("{}: {}".format(" ".join(argv[:2]),
                                               p.stderr[-600:]))
        return p

    def stop(self):
        if self.started:
            subprocess.run(["sh", self.xl, "stop"], env=self.env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=120)
            self.started = False

    def tokens(self, n):
        self.n_tok += 1
        path = os.path.join(self.tokdir, "t{}.tok".format(self.n_tok))
        self.exec([self.b.bin("store_bench"), "add",
                   os.path.join(self.dir, "store"), str(n), path])
        with open(path) as f:
            return [l.strip() for l in f if l.strip()]

    def landing(self, token):
        return "/invite/" + token

    def bogus(self):
        return "/invite/" + secrets.token_urlsafe(16)

    def bogus_status(self):
        return 404

    def register(self, conn, token, user):
        """GET the form, POST it as a browser would; True on success."""
        h = {"X-Real-IP": "10.200.0.1"}
        conn.request("GET", "/register/" + token, headers=h)
        r = conn.getresponse()
        body = r.read().decode("utf-8", "replace")
        if r.status != 200:
            return False, "form {}".format(r.status)
        m = re.search(r'name="csrf" value="([^"]*)"', body)
        cookie = None
        for k, v in r.getheaders():
            if k.lower() == "set-cookie" and v.startswith("invites_csrf="):
                cookie = v.split(";")[0]
        if not m or not cookie:
            return False, "form without csrf"
        form = urllib.parse.urlencode({"csrf": m.group(1), "username": user,
                                       "password": PASSWORD,
                                       "password2": PASSWORD})
        h.update({"Content-Type": "application/x-www-form-urlencoded",
                  "Origin": "http://127.0.0.1:{}".format(self.web_port),
                  "Cookie": cookie})
        conn.request("POST", "/register/" + token, body=form, headers=h)
        r = conn.getresponse()
        body = r.read().decode("utf-8", "replace")
        if r.status == 200 and "{}@{}".format(user, DOMAIN) in body:
            return True, None
        return False, "post {}".format(r.status)


class Prosody(Server):
    key = "prosody"
    label = "Prosody 0.12 + mod_invites_page, mod_invites_register_web (nagle = false)"

    def __init__(self, b):
        self.b = b
        self.dir = os.path.join(b.work, "prosody")
        for sub in ("data", "certs", "plugins"):
            os.makedirs(os.path.join(self.dir, sub))
        shutil.copy(os.path.join(b.src, "bench", "web", "mod_password_policy.lua"),
                    os.path.join(self.dir, "plugins"))
        self.c2s_port, self.web_port = free_port(), free_port()
        with open(os.path.join(b.src, "bench", "web",
                               "prosody-web.cfg.lua.in")) as f:
            text = f.read()
        text = (text.replace("@DIR@", self.dir)
                .replace("@PORT@", str(self.c2s_port))
                .replace("@HTTP_PORT@", str(self.web_port))
                .replace("@PLUGINS@", os.path.join(self.dir, "plugins")))
        self.cfg = os.path.join(self.dir, "prosody.cfg.lua")
        with open(self.cfg, "w") as f:
            f.write(text)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-sha256", "-days", "825", "-subj",
                        "/CN=" + DOMAIN, "-addext", "subjectAltName=DNS:" + DOMAIN,
                        "-keyout", os.path.join(self.dir, "server.key"), "-out",
                        os.path.join(self.dir, "server.crt")],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=True)
        self.store = os.path.join(self.dir, "data", DOMAIN, "invite_token.dat")
        os.makedirs(os.path.dirname(self.store))
        self.pending = []
        self.write_store()
        b.chown(self.dir)
        self.popen = None

    def start(self):
        self.popen = subprocess.Popen(
            self.b.as_user(["/usr/bin/prosody", "--config", self.cfg]),
            cwd=self.dir, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.dir, "prosody.out"), "w"),
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
                 "HOME": self.dir})
        if not (wait_port(self.web_port) and wait_port(self.c2s_port)):
            raise RuntimeError("Prosody did not start (see {})".format(self.dir))
        self.web_pids = self.all_pids = [self.popen.pid]
        self.pids = {"prosody": self.popen.pid}

    def stop(self):
        if self.popen and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()

    def write_store(self):
        """Prosody's invite_token store as its internal storage writes it
        (one Lua table keyed by token; mod_invites reads the file on every
        lookup), with exactly the pending invites of this run."""
        now = int(time.time())
        tmp = self.store + ".tmp"
        with open(tmp, "w") as f:
            f.write("return {\n")
            for t in self.pending:
                f.write('\t["{t}"] = {{\n\t\t["additional_data"] = {{\n'
                        '\t\t\t["groups"] = {{}};\n\t\t}};\n'
                        '\t\t["allow_registration"] = true;\n'
                        '\t\t["created_at"] = {c};\n\t\t["token"] = "{t}";\n'
                        '\t\t["jid"] = "{d}";\n\t\t["type"] = "register";\n'
                        '\t\t["expires"] = {e};\n'
                        '\t\t["uri"] = "xmpp:{d}?register;preauth={t}";\n'
                        '\t}};\n'.format(t=t, c=now, e=now + 7 * 86400, d=DOMAIN))
            f.write("};\n")
        self.b.chown(tmp)
        os.rename(tmp, self.store)

    def tokens(self, n, keep=()):
        # Prosody's util.id.medium(): 18 random bytes in base64url
        self.pending = list(keep) + [secrets.token_urlsafe(18) for _ in range(n)]
        self.write_store()
        return self.pending[len(keep):]

    def landing(self, token):
        return "/invites_page?" + token

    def bogus(self):
        return "/invites_page?" + secrets.token_urlsafe(18)

    def bogus_status(self):
        return 200      # Prosody answers 200 with an "expired" page

    def register(self, conn, token, user):
        h = {"X-Real-IP": "10.200.0.1"}
        conn.request("GET", "/register?t=" + token, headers=h)
        r = conn.getresponse()
        body = r.read()
        if r.status != 200:
            return False, "form {}".format(r.status)
        form = urllib.parse.urlencode({"user": user, "password": PASSWORD,
                                       "token": token})
        h["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request("POST", "/register", body=form, headers=h)
        r = conn.getresponse()
        body = r.read().decode("utf-8", "replace")
        if r.status == 200 and "{}@{}".format(user, DOMAIN) in body:
            return True, None
        return False, "post {}".format(r.status)


class Bench:
    def __init__(self, args):
        self.args = args
        self.src = os.path.abspath(args.srcdir)
        self.build = os.path.abspath(args.builddir)
        self.root = os.geteuid() == 0
        self.notes = []
        self.loads = {}
        if args.quick:
            self.rounds, self.secs, self.warm, self.flows = 1, 2, 0.5, 30
        else:
            self.rounds, self.secs, self.warm, self.flows = (
                args.rounds, args.secs, 1, args.flows)

    def as_user(self, argv):
        if self.root:
            return ["setpriv", "--reuid=" + RUN_USER, "--regid=" + RUN_USER,
                    "--init-groups", "--"] + argv
        return argv

    def chown(self, path):
        if self.root:
            subprocess.run(["chown", "-R", RUN_USER + ":", path], check=True)

    def bin(self, name):
        return os.path.join(self.work, "bin", name)

    def setup(self):
        for pkg, path in (("jabberd2", "/usr/sbin/jabberd2-c2s"),
                          ("prosody", "/usr/bin/prosody"),
                          ("prosody-modules", "/usr/lib/prosody/modules/"
                           "mod_invites_register_web")):
            if not os.path.exists(path):
                raise SystemExit("bench-web: {} is not installed (apt-get "
                                 "install {})".format(pkg, pkg))
        if self.root:
            subprocess.run(["sh", "-c", "getent passwd {u} >/dev/null || "
                            "useradd --system --user-group --no-create-home "
                            "--home-dir /nonexistent --shell /usr/sbin/nologin "
                            "{u}".format(u=RUN_USER)], check=True)
        self.work = tempfile.mkdtemp(prefix="xi-bench-web.",
                                     dir=self.args.workdir or "/var/tmp")
        os.chmod(self.work, 0o755)
        os.makedirs(os.path.join(self.work, "bin"))
        for name in ("web/hload", "xreg", "store_bench"):
            shutil.copy2(os.path.join(self.build, "bench", name),
                         os.path.join(self.work, "bin"))
        log("working in " + self.work)

    def machine(self):
        cpu = "?"
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        rev = subprocess.run(["git", "-C", self.src, "rev-parse", "--short",
                              "HEAD"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True).stdout.strip()
        self.info = {
            "cpu": "{} × {}".format(os.cpu_count(), cpu),
            "kernel": os.uname().release,
            "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "load": loadavg(),
            "versions": {p: pkg_version(p) for p in (
                "jabberd2", "prosody", "prosody-modules", "libmicrohttpd12",
                "libstrophe0", "lua5.4", "openssl")},
            "rev": rev,
        }

    # ---- landing pages ------------------------------------------------

    def hload(self, srv, path, conns, method="GET", status=200):
        cmd = [self.bin("hload"), "-p", str(srv.web_port), "-c", str(conns),
               "-d", str(self.secs), "-w", str(self.warm), "-m", method,
               "-s", str(status), "-R", path]
        c0 = cpu_ms(srv.web_pids)
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=self.secs + self.warm + 60)
        c1 = cpu_ms(srv.web_pids)
        lines = [l for l in p.stdout.splitlines() if l.startswith("requests ")]
        if p.returncode != 0 or not lines:
            raise RuntimeError("hload: " + p.stderr[-400:])
        out = kv(lines[-1])
        # server CPU over warm-up and counted time, per counted request,
        # scaled to the counted share of the time
        share = self.secs / (self.secs + self.warm)
        out["server_cpu_us"] = ((c1 - c0) * 1000 * share /
                                max(out["requests"], 1))
        return out

    def landing(self, servers):
        cells = [("GET", 1, "valid"), ("GET", 16, "valid"),
                 ("GET", 1, "bogus"), ("GET", 16, "bogus"),
                 ("HEAD", 16, "valid")]
        valid = {s.key: s.landing(s.tokens(1)[0]) for s in servers}
        self.landing_res = {s.key: {c: [] for c in cells} for s in servers}
        self.landing_cells = cells
        for r in range(self.rounds):
            order = servers if r % 2 == 0 else list(reversed(servers))
            for cell in cells:
                method, conns, kind = cell
                for s in order:
                    path = valid[s.key] if kind == "valid" else s.bogus()
                    st = 200 if kind == "valid" else s.bogus_status()
                    try:
                        out = self.hload(s, path, conns, method, st)
                    except Exception as e:
                        self.notes.append("{} {} {} {}: {}".format(
                            s.key, method, conns, kind, e))
                        continue
                    if out["bad"] or out["starved"]:
                        self.notes.append(
                            "{} {} {} conn {}: {:.0f} answers with another "
                            "status than {}, {:.0f} connections without any "
                            "answer".format(s.key, method, conns, kind,
                                            out["bad"], st, out["starved"]))
                    self.landing_res[s.key][cell].append(out)
            log("  landing round {}: {}; load {}".format(r + 1, ", ".join(
                "{} {:.0f}/s".format(s.key, self.landing_res[s.key][
                    ("GET", 16, "valid")][-1]["rps"]) for s in servers
                if self.landing_res[s.key][("GET", 16, "valid")]), loadavg()))
        self.loads["landing"] = loadavg()

    # ---- registrations ------------------------------------------------

    def web_flows(self, srv, tokens, conc, prefix):
        lat, fails = [], []
        lock = threading.Lock()
        work = list(enumerate(tokens))

        def worker():
            conn = http.client.HTTPConnection("127.0.0.1", srv.web_port,
                                              timeout=30)
            while True:
                with lock:
                    if not work:
                        break
                    i, tok = work.pop()
                t0 = time.perf_counter()
                try:
                    ok, why = srv.register(conn, tok, "{}{}".format(prefix, i))
                except (OSError, http.client.HTTPException) as e:
                    ok, why = False, "{}".format(e.__class__.__name__)
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", srv.web_port,
                                                      timeout=30)
                dt = (time.perf_counter() - t0) * 1000
                with lock:
                    (lat if ok else fails).append(dt if ok else why)
            conn.close()

        r0 = resource.getrusage(resource.RUSAGE_SELF)
        c0 = cpu_ms(srv.all_pids)
        b0 = cpu_by(srv.pids)
        t0 = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(conc)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        secs = time.perf_counter() - t0
        c1 = cpu_ms(srv.all_pids)
        b1 = cpu_by(srv.pids)
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        ccpu = ((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)) * 1000
        if fails:
            self.notes.append("{} web registrations ({}): {} of {} failed: {}"
                              .format(srv.key, prefix, len(fails), len(tokens),
                                      ", ".join(sorted(set(fails)))[:200]))
        return {"flows": len(tokens), "ok": len(lat), "secs": secs,
                "rate": len(lat) / secs, "p50": pct(lat, 0.5),
                "p99": pct(lat, 0.99), "server_cpu": (c1 - c0) / max(len(lat), 1),
                "by_proc": cpu_delta(b0, b1, len(lat)),
                "client_cpu": ccpu / max(len(tokens), 1)}

    def xreg(self, srv, tokens, conc, prefix):
        path = os.path.join(self.work, "xreg-{}.tok".format(prefix))
        with open(path, "w") as f:
            f.write("\n".join(tokens) + "\n")
        c0 = cpu_ms(srv.all_pids)
        b0 = cpu_by(srv.pids)
        p = subprocess.run([self.bin("xreg"), "-p", str(srv.c2s_port), "-d",
                            DOMAIN, "-n", str(len(tokens)), "-c", str(conc),
                            "-T", "120", "-t", path, "-u", prefix],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=300)
        c1 = cpu_ms(srv.all_pids)
        b1 = cpu_by(srv.pids)
        lines = [l for l in p.stdout.splitlines() if l.startswith("flows ")]
        if not lines:
            raise RuntimeError("xreg: " + p.stderr[-400:])
        out = kv(lines[-1])
        if out["failed"]:
            self.notes.append("{} xreg ({}): {:.0f} of {:.0f} flows failed: {}"
                              .format(srv.key, prefix, out["failed"],
                                      out["flows"], " / ".join(
                                          l for l in p.stderr.splitlines()
                                          if "failed" in l)[:200]))
        return {"flows": out["flows"], "ok": out["ok"], "secs": out["secs"],
                "rate": out["flows_per_s"], "p50": out["p50_ms"],
                "p99": out["p99_ms"],
                "server_cpu": (c1 - c0) / max(out["ok"], 1),
                "by_proc": cpu_delta(b0, b1, out["ok"]),
                "client_cpu": out["client_cpu_ms_per_flow"]}

    def registrations(self, servers):
        self.reg_res = {s.key: {} for s in servers}
        n = self.flows
        # warm-up: a few of each, not counted
        for s in servers:
            self.web_flows(s, s.tokens(5), 1, "ww")
            self.xreg(s, s.tokens(5), 1, "xw")
        for conc in (1, 4):
            for r in range(self.rounds):
                # A server's two paths run back to back, in an order that
                # alternates by round, so that each round gives a paired
                # web / XMPP ratio that drift on the machine cannot bias.
                order = servers if r % 2 == 0 else list(reversed(servers))
                paths = ("web", "xmpp") if r % 2 == 0 else ("xmpp", "web")
                for s in order:
                    for path in paths:
                        prefix = "{}c{}r{}".format(path[0], conc, r)
                        toks = s.tokens(n)
                        try:
                            out = (self.web_flows(s, toks, conc, prefix)
                                   if path == "web"
                                   else self.xreg(s, toks, conc, prefix))
                        except Exception as e:
                            self.notes.append("{} {} c{}: {}".format(
                                s.key, path, conc, e))
                            continue
                        out["round"] = r
                        self.reg_res[s.key].setdefault((path, conc), []).append(out)
            log("  registrations, {} client(s): {}; load {}".format(
                conc, ", ".join("{} web {:.1f}/s xmpp {:.1f}/s".format(
                    s.key, median([x["rate"] for x in self.reg_res[s.key].get(
                        ("web", conc), [])]),
                    median([x["rate"] for x in self.reg_res[s.key].get(
                        ("xmpp", conc), [])])) for s in servers), loadavg()))
            self.loads["reg{}".format(conc)] = loadavg()

    # ---- report ---------------------------------------------------------

    def report(self, servers):
        i = self.info
        L = ["# xmpp-invites: web benchmarks (issue 7)", "",
             "Written by `make bench-web` (bench/web/run.py) on {}. Every "
             "figure was measured in this run on this machine; ratios compare "
             "figures of this run. Medians of {} round(s), [min–max] of the "
             "per-round values; the servers run at once and the rounds go "
             "round them, alternating which goes first.".format(
                 i["date"], self.rounds), "",
             "## Machine", "", "| what | value |", "|---|---|",
             "| CPU | {} |".format(i["cpu"]), "| kernel | {} |".format(i["kernel"]),
             "| load average at start | {} |".format(i["load"]),
             "| load average after the landing runs | {} |".format(
                 self.loads.get("landing", "?")),
             "| load average after the registrations (1 / 4 clients) | {} / {} |"
             .format(self.loads.get("reg1", "?"), self.loads.get("reg4", "?")),
             "| xmpp-invites | commit {} (build tree {}) |".format(
                 i["rev"], self.build)]
        for p, v in i["versions"].items():
            L.append("| {} | {} |".format(p, v))
        L += ["", "The machine is shared by several engineers' builds and "
              "tests (2 vCPUs): absolute figures move with the load above; "
              "the ratios, measured side by side, are what count.", ""]
        L += ["## Servers", ""] + ["- **{}**: {}".format(s.key, s.label)
                                   for s in servers]
        L += ["", "Both serve plain HTTP on 127.0.0.1 with TCP_NODELAY "
              "(invites-web always; Prosody with `network_settings = { nagle "
              "= false }`, its best case). Prosody's web registration needs "
              "`mod_password_policy`, which Debian does not ship: "
              "bench/web/mod_password_policy.lua provides the two functions "
              "mod_invites_register_web calls (a minimum length of 8). Prosody's "
              "invite store holds exactly the invites of the run at hand "
              "(it reads the whole file on every lookup).", ""]
        # (a part left out with --skip is left out of the report too)
        if "landing" not in self.args.skip:
            L += self.report_landing(servers)
        if "reg" not in self.args.skip:
            L += self.report_reg(servers)
        if self.notes:
            L += ["## Notes from this run", ""] + ["- " + n for n in self.notes] + [""]
        L += ["## Commands", "", "```",
              "make bench-web [BENCH_WEB_ARGS='--rounds 3 --secs 5 --flows 100 --keep']",
              "hload -p WEBPORT -c 1|16 -d {} -w {} -m GET|HEAD -s STATUS -R PATH"
              .format(self.secs, self.warm),
              "  # ours: /invite/TOKEN (bogus: 404); Prosody: /invites_page?TOKEN "
              "(bogus: 200)",
              "web registration: GET /register/TOKEN (ours; Prosody /register?t=TOKEN), "
              "POST the form; Python http.client, keep-alive, 1 or 4 threads, "
              "{} flows per run".format(self.flows),
              "xreg -p C2SPORT -n {} -c 1|4 -t TOKFILE -u PREFIX   # STARTTLS, "
              "pre-auth, register; no login".format(self.flows),
              "```", ""]
        return "\n".join(L)

    def report_landing(self, servers):
        L = ["## Landing page", "",
             "bench/web/hload (C, one thread, epoll, keep-alive connections, "
             "one request at a time per connection), {} s counted after {} s "
             "of warm-up per run; each request carries a new `X-Real-IP` (both "
             "servers get the same bytes; invites-web, configured with "
             "`web_real_ip_header = X-Real-IP`, counts failures per address, so "
             "the bogus runs measure the 404 page a stream of visitors gets, "
             "not the 429 of one address). Server CPU: the web daemon's "
             "user+system time per request.".format(self.secs, self.warm), "",
             "| server | request | conns | req/s | p50 ms | p99 ms | server CPU µs/req | bytes/answer |",
             "|---|---|---|---|---|---|---|---|"]
        med = {}
        for s in servers:
            for cell in self.landing_cells:
                runs = self.landing_res[s.key][cell]
                if not runs:
                    continue
                method, conns, kind = cell
                rps = [x["rps"] for x in runs]
                med[(s.key, cell)] = (median(rps), median([x["p99_us"] for x in runs]))
                L.append("| {} | {} {} token | {} | {} | {} | {} | {} | {:,.0f} |".format(
                    s.key, method, kind, conns, spread(rps, 0),
                    fnum(median([x["p50_us"] for x in runs]) / 1000, 2),
                    fnum(median([x["p99_us"] for x in runs]) / 1000, 2),
                    fnum(median([x["server_cpu_us"] for x in runs]), 0),
                    median([x["resp_bytes"] for x in runs])))
        L += ["", "Ratios (ours / Prosody, req/s, medians):", "",
              "| request | 1 connection | 16 connections |", "|---|---|---|"]
        for method, kind in (("GET", "valid"), ("GET", "bogus"), ("HEAD", "valid")):
            a = [xfmt(ratio(med.get(("ours", (method, c, kind)), (None,))[0],
                            med.get(("prosody", (method, c, kind)), (None,))[0]))
                 for c in (1, 16)]
            L.append("| {} {} token | {} | {} |".format(method, kind, a[0], a[1]))
        o16 = med.get(("ours", ("GET", 16, "valid")), (None, None))
        p16 = med.get(("prosody", ("GET", 16, "valid")), (None, None))
        L += ["", "Targets (issue 7): ≥ 10x Prosody's landing-page rate at 16 "
              "connections: {}x; p99 under 5 ms: {} ms (ours, valid token, 16 "
              "connections).".format(fnum(ratio(o16[0], p16[0]), 1),
                                     fnum((o16[1] or float("nan")) / 1000, 2)), ""]
        runs = self.landing_res.get("ours", {})
        v16 = runs.get(("GET", 16, "valid"), [])
        b16 = runs.get(("GET", 16, "bogus"), [])
        if v16 and b16 and o16[1] and o16[1] >= 5000:
            L += ["Reading the p99: at 16 connections the median throughput "
                  "alone keeps each request {} ms in queue on average "
                  "(connections / req/s); the 404 page, at {} µs of CPU "
                  "against {} µs, has a p99 of {} ms, and the slowest "
                  "requests took {} ms (median of the runs' maxima): whole "
                  "time slices lost to other processes on a machine at load "
                  "{}. See bench/README.md (Web pages) for the profile.".format(
                      fnum(16000 / median([x["rps"] for x in v16]), 2),
                      fnum(median([x["server_cpu_us"] for x in b16]), 0),
                      fnum(median([x["server_cpu_us"] for x in v16]), 0),
                      fnum(median([x["p99_us"] for x in b16]) / 1000, 2),
                      fnum(median([x["max_us"] for x in v16]) / 1000, 0),
                      self.loads.get("landing", "?")), ""]
        return L

    def paired(self, a, b, conc):
        """Per-round ratios of rate a to rate b ((server, path) each)."""
        ra = {x["round"]: x["rate"]
              for x in self.reg_res.get(a[0], {}).get((a[1], conc), [])}
        rb = {x["round"]: x["rate"]
              for x in self.reg_res.get(b[0], {}).get((b[1], conc), [])}
        return [ratio(ra[r], rb[r]) for r in sorted(ra) if r in rb]

    def report_reg(self, servers):
        L = ["## Registrations", "",
             "Web: one flow = GET the registration form, POST it (username, "
             "password twice; ours also the CSRF field and cookie) and read the "
             "success page naming the new JID; the client is Python "
             "(http.client, one keep-alive connection per client thread). "
             "invites-web then registers through c2s as a client does "
             "(libstrophe: STARTTLS, pre-auth IQ, XEP-0077); Prosody creates "
             "the account in-process. XMPP client path: bench/xreg, one flow = "
             "TCP connect, STARTTLS, TLS 1.3, pre-auth IQ, XEP-0077 register, "
             "close (no login, as the web flow has none). {} flows per run; "
             "server CPU is every server process's user+system time per "
             "registration (ours: router, sm, c2s, invites-web).".format(
                 self.flows), "",
             "| server | path | clients | flows/s | p50 ms | p99 ms | server CPU ms/flow | client CPU ms/flow | server + client | ok |",
             "|---|---|---|---|---|---|---|---|---|---|"]
        for s in servers:
            for (path, conc), runs in sorted(self.reg_res[s.key].items()):
                rates = [x["rate"] for x in runs]
                sc = median([x["server_cpu"] for x in runs])
                cc = median([x["client_cpu"] for x in runs])
                L.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0f} of {:.0f} |".format(
                    s.key, path, conc, spread(rates),
                    fnum(median([x["p50"] for x in runs])),
                    fnum(median([x["p99"] for x in runs])),
                    fnum(sc, 2), fnum(cc, 2), fnum(sc + cc, 2),
                    sum(x["ok"] for x in runs), sum(x["flows"] for x in runs)))
        L += ["", "| ratio (median of the rounds' paired ratios [min–max]) | "
              "1 client | 4 clients | target |", "|---|---|---|---|"]
        for label, a, b, target in (
                ("ours: web / XMPP client path", ("ours", "web"), ("ours", "xmpp"),
                 "≥ 0.83 (within 1.2x)"),
                ("Prosody: web / XMPP client path", ("prosody", "web"),
                 ("prosody", "xmpp"), "–"),
                ("web registrations: ours / Prosody", ("ours", "web"),
                 ("prosody", "web"), "–"),
                ("XMPP client path: ours / Prosody", ("ours", "xmpp"),
                 ("prosody", "xmpp"), "–")):
            L.append("| {} | {} | {} | {} |".format(label, *[
                spread(self.paired(a, b, c), 2) for c in (1, 4)], target))
        L.append("")
        # where the server CPU goes, for the servers made of several
        # processes (Prosody is one)
        for s in servers:
            names = list(s.pids)
            if len(names) < 2:
                continue
            L += ["Server CPU of {} by process (ms per registration, "
                  "medians):".format(s.key), "",
                  "| path | clients | " + " | ".join(names) + " |",
                  "|---|---|" + "---|" * len(names)]
            for (path, conc), runs in sorted(self.reg_res[s.key].items()):
                L.append("| {} | {} | ".format(path, conc) + " | ".join(
                    fnum(median([x["by_proc"].get(n, 0.0) for x in runs]), 2)
                    for n in names) + " |")
            L.append("")
        rss = getattr(self, "rss", None)
        if rss:
            L += ["RSS after the runs (MiB): " + ", ".join(
                "{} {}".format(k, fnum(v)) for k, v in rss.items()) + ".", ""]
        return L

    def main(self):
        t0 = time.time()
        self.setup()
        servers = []
        try:
            self.machine()
            for cls in (Ours, Prosody):
                s = cls(self)
                servers.append(s)
                s.start()
            time.sleep(1)
            log("servers up: ours web {} c2s {}; Prosody http {} c2s {}".format(
                servers[0].web_port, servers[0].c2s_port, servers[1].web_port,
                servers[1].c2s_port))
            if "landing" not in self.args.skip:
                self.landing(servers)
            if "reg" not in self.args.skip:
                self.registrations(servers)
            self.rss = {}
            for s in servers:
                for name, pid in s.pids.items():
                    self.rss["{} {}".format(s.key, name)] = rss_mib(pid)
        finally:
            for s in servers:
                try:
                    s.stop()
                except Exception as e:
                    log("stopping {}: {}".format(s.key, e))
            if not self.args.keep:
                shutil.rmtree(self.work, ignore_errors=True)
        text = self.report(servers)
        text += "\nTotal time of this run: {:.1f} min.\n".format(
            (time.time() - t0) / 60)
        with open(self.args.out, "w") as f:
            f.write(text)
        log("wrote " + self.args.out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--srcdir", required=True)
    ap.add_argument("--builddir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--secs", type=float, default=5)
    ap.add_argument("--flows", type=int, default=100)
    ap.add_argument("--quick", action="store_true", help="small counts")
    ap.add_argument("--skip", default="", help="landing,reg")
    ap.add_argument("--workdir", help="default /var/tmp")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(143))
    Bench(args).main()


if __name__ == "__main__":
    main()
