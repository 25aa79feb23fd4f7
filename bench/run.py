#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/run.py: the benchmarks of issue 5, run by `make bench`.

Measures, in one run, xmpp-invites against the baselines a user would
compare it with (Prosody 0.12 from Debian, stock jabberd2 2.7, bare
Berkeley DB 5.3 with the store's environment) and writes bench/RESULTS.md:
machine, package versions, medians and min-max spread of several runs,
ratios against the baselines measured in the same run, and the command
behind each figure.  See bench/README.md.

Everything runs on 127.0.0.1, in a temporary directory, as an unprivileged
user (xi-bench, created when run as root), with bounded counts and time.
"""

import argparse
import datetime
import glob
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

PACKAGES = ["prosody", "lua-unbound", "jabberd2", "libdb5.3", "libssl3",
            "openssl", "valgrind"]
BENCH_USER = "xi-bench"
DOMAIN = "localhost"
CLEAN_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def log(msg):
    print("bench: " + msg, flush=True)


def median(v):
    return statistics.median(v) if v else float("nan")


def spread(v, fmt="{:.2f}"):
    if not v:
        return "n/a"
    return (fmt + " [" + fmt + "–" + fmt + "]").format(median(v), min(v), max(v))


def fnum(x, digits=2):
    if x is None or x != x:
        return "n/a"
    if abs(x) >= 1000:
        return "{:,.0f}".format(x)
    return ("{:." + str(digits) + "f}").format(x)


def ratio(a, b):
    if not a or not b or a != a or b != b:
        return float("nan")
    return a / b


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def parse_kv(line):
    """'phase put ops 10 secs 1.0' -> {'phase': 'put', 'ops': 10.0, ...}"""
    w = line.split()
    out = {}
    for i in range(0, len(w) - 1, 2):
        try:
            out[w[i]] = float(w[i + 1])
        except ValueError:
            out[w[i]] = w[i + 1]
    return out


def phases(text):
    res = {}
    for line in text.splitlines():
        if line.startswith("phase "):
            kv = parse_kv(line)
            res[kv["phase"]] = kv
    return res


class Bench:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.src = os.path.abspath(args.srcdir)
        self.build = os.path.abspath(args.builddir)
        self.root = os.geteuid() == 0
        self.notes = []
        self.sections = []
        self.cmds = {}
        self.procs = []     # servers we started: (kind, handle)
        self.work = None
        if self.quick:
            self.m1_counts = [0, 10000]
            self.m1_runs, self.m1_prosody_runs = 6, [6, 3]
            self.m2_n, self.m2_ops, self.m2_runs = 10000, 200, 3
            self.m3_flows, self.m3_flows_nagle, self.m3_runs = 40, 20, 2
            self.m5_n = 100000
        else:
            self.m1_counts = [0, 100000, 1000000]
            self.m1_runs, self.m1_prosody_runs = 11, [11, 3, 1]
            self.m2_n, self.m2_ops, self.m2_runs = 100000, 1000, 5
            self.m3_flows, self.m3_flows_nagle, self.m3_runs = 200, 100, 3
            self.m5_n = 1000000
        self.only = set(args.only.split(",")) if args.only else None
        # one prosodyctl run at most this long (each rewrites the store)
        self.prosody_limit = args.prosody_limit

    # ---- processes --------------------------------------------------

    def as_user(self, cmd):
        if self.root:
            return ["setpriv", "--reuid=" + BENCH_USER, "--regid=" + BENCH_USER,
                    "--clear-groups", "--"] + cmd
        return cmd

    def env(self, extra=None):
        e = {"PATH": CLEAN_PATH, "LANG": "C.UTF-8", "HOME": self.work,
             "TMPDIR": self.work}
        if extra:
            e.update(extra)
        return e

    def run(self, cmd, user=True, env=None, timeout=600, check=True, cwd=None):
        full = self.as_user(cmd) if user else cmd
        p = subprocess.run(full, env=self.env(env), cwd=cwd or self.work,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise RuntimeError("{} exited {}: {}".format(
                " ".join(cmd[:3]), p.returncode, p.stderr.strip()[-800:]))
        return p

    def chown(self, path):
        if self.root:
            subprocess.run(["chown", "-R", BENCH_USER + ":" + BENCH_USER, path],
                           check=True)

    def mkdir(self, *parts):
        d = os.path.join(self.work, *parts)
        os.makedirs(d, exist_ok=True)
        self.chown(d)
        return d

    def bin(self, name):
        return os.path.join(self.work, "bin", name)

    # ---- setup ------------------------------------------------------

    def setup(self):
        if self.root:
            missing = [p for p in ["prosody", "lua-unbound", "jabberd2",
                                   "valgrind"] if not self.pkg_version(p)]
            if missing:
                log("installing " + " ".join(missing))
                subprocess.run(["apt-get", "update", "-qq"], check=False)
                subprocess.run(["apt-get", "install", "-y", "-qq",
                                "--no-install-recommends"] + missing,
                               env=dict(os.environ,
                                        DEBIAN_FRONTEND="noninteractive"),
                               check=False, stdout=subprocess.DEVNULL)
            try:
                pwd.getpwnam(BENCH_USER)
            except KeyError:
                subprocess.run(["useradd", "--system", "--user-group",
                                "--no-create-home", "--home-dir", "/nonexistent",
                                "--shell", "/usr/sbin/nologin", "--comment",
                                "xmpp-invites benchmarks", BENCH_USER], check=True)
        base = self.args.workdir or "/var/tmp"
        self.work = tempfile.mkdtemp(prefix="xi-bench.", dir=base)
        os.chmod(self.work, 0o755)
        # copies of what we run: a rebuild during the run changes nothing
        b = os.path.join(self.work, "bin")
        os.makedirs(b)
        for name in ["spawn", "bdb_bare", "store_bench", "xreg",
                     "nodelay_shim.so"]:
            shutil.copy2(os.path.join(self.build, "bench", name), b)
        shutil.copy2(os.path.join(self.build, ".libs", "invitectl"), b)
        lib = os.path.join(self.work, "lib")
        os.makedirs(lib)
        for f in glob.glob(os.path.join(self.build, ".libs", "libinvites.so*")):
            shutil.copy2(f, lib, follow_symlinks=False)
        mods = os.path.join(self.work, "modules")
        os.makedirs(mods)
        for m in ["authreg_invites.so", "mod_invites.so"]:
            f = os.path.join(self.build, "plugin", "jabberd2", ".libs", m)
            if os.path.exists(f):
                shutil.copy2(f, mods)
        self.chown(self.work)
        log("working in " + self.work)

    def cleanup(self):
        for kind, h in reversed(self.procs):
            try:
                self.stop_server(kind, h)
            except Exception as e:  # keep cleaning up
                log("stopping {}: {}".format(kind, e))
        self.procs = []
        if self.work and not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)

    @staticmethod
    def pkg_version(name):
        p = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           text=True)
        return p.stdout.strip() if p.returncode == 0 else None

    def machine(self):
        cpu = "?"
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        mem = "?"
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    mem = "{:.1f} GiB".format(int(line.split()[1]) / 1048576)
        try:
            with open("/etc/debian_version") as f:
                deb = f.read().strip()
        except OSError:
            deb = "?"
        fs = subprocess.run(["df", "-T", self.work], stdout=subprocess.PIPE,
                            text=True).stdout.splitlines()[-1].split()[1]
        fsync = phases(self.run([self.bin("bdb_bare"), "fsync",
                                 self.mkdir("fsync"), "300"]).stdout)["fdatasync"]
        self.machine_info = {
            "nproc": os.cpu_count(), "cpu": cpu, "kernel": os.uname().release,
            "debian": deb, "mem": mem, "fs": fs, "fsync": fsync,
            "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "load": loadavg(),
        }
        self.versions = {p: self.pkg_version(p) or "not installed"
                         for p in PACKAGES}
        self.versions["xmpp-invites"] = self.product_version()

    def product_version(self):
        try:
            rev = subprocess.run(["git", "-C", self.src, "rev-parse", "--short",
                                  "HEAD"], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True).stdout.strip()
        except OSError:
            rev = ""
        return ("build tree " + self.build + (", source at commit " + rev
                                              if rev else "")
                + " (plus any uncommitted changes present at build time)")

    # ---- measurement 1: admin command --------------------------------

    def spawn(self, runs, cmd, env=None, timeout=600, warmup=True):
        """Whole-process runs of cmd; with warmup, one more run first that
        is dropped (page cache, dynamic loader)."""
        p = self.run([self.bin("spawn"), "-n", str(runs + warmup), "-t",
                      str(timeout), "--"] + cmd, env=env,
                     timeout=timeout * (runs + 2), check=False)
        rows = [parse_kv(l) for l in p.stdout.splitlines() if l.startswith("run ")]
        bad = [r for r in rows if r.get("status") != 0]
        if bad and bad[0].get("status") == 128 + signal.SIGALRM:
            raise TimeoutError(bad[0]["wall_ms"])
        if bad or p.returncode != 0:
            raise RuntimeError("{}: run {} of {} failed (status {}): {}".format(
                os.path.basename(cmd[0]), len(rows), runs + warmup,
                bad[0].get("status") if bad else "?", p.stderr[-400:]))
        rows = rows[1:] if warmup else rows
        return {"wall": [r["wall_ms"] for r in rows],
                "rss": [r["maxrss_kib"] / 1024 for r in rows],
                "cpu": [r["user_ms"] + r["sys_ms"] for r in rows]}

    def spawn_pair(self, runs, a, b):
        """Runs of two commands, alternated (a, b, a, b...) so that both see
        the same moments of a shared machine; the first of each is a
        warm-up and dropped."""
        ra = {"wall": [], "rss": [], "cpu": []}
        rb = {"wall": [], "rss": [], "cpu": []}
        for i in range(runs + 1):
            for (cmd, env), acc in ((a, ra), (b, rb)):
                one = self.spawn(1, cmd, env=env, warmup=False)
                if i > 0:
                    for k in acc:
                        acc[k] += one[k]
        return ra, rb

    def write_conf(self, store, path):
        with open(path, "w") as f:
            f.write("store = {}\ndomains = {}\n".format(store, DOMAIN))
        self.chown(path)

    def prosody_dir(self, name, port=None, nagle="true", invite_only="true"):
        d = self.mkdir(name)
        for sub in ["data", "certs"]:
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        with open(os.path.join(self.src, "bench", "prosody.cfg.lua.in")) as f:
            text = f.read()
        text = (text.replace("@DIR@", d).replace("@PORT@", str(port or 5222))
                .replace("@NAGLE@", nagle).replace("@INVITE_ONLY@", invite_only))
        text = text.replace("ssl = {", 'certificates = "{}/certs"\nssl = {{'
                            .format(d), 1)
        with open(os.path.join(d, "prosody.cfg.lua"), "w") as f:
            f.write(text)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-sha256", "-days", "825", "-subj",
                        "/CN=" + DOMAIN, "-addext", "subjectAltName=DNS:" + DOMAIN,
                        "-keyout", os.path.join(d, "server.key"), "-out",
                        os.path.join(d, "server.crt")],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=True)
        self.chown(d)
        return d

    @staticmethod
    def prosody_token():
        # Prosody's util.id.medium(): 18 random bytes, base64url, 24 chars
        return secrets.token_urlsafe(18)

    def prosody_fill(self, d, n):
        """Write n account invites into Prosody's invite_token store, in
        the format its internal storage writes (one Lua table keyed by
        token, as `prosodyctl mod_invites generate` leaves it)."""
        path = os.path.join(d, "data", DOMAIN.replace(".", "%2e"),
                            "invite_token.dat")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        now = int(time.time())
        tokens = []
        with open(path, "w") as f:
            f.write("return {\n")
            for _ in range(n):
                t = self.prosody_token()
                tokens.append(t)
                f.write('\t["{t}"] = {{\n\t\t["additional_data"] = {{\n'
                        '\t\t\t["groups"] = {{}};\n\t\t}};\n'
                        '\t\t["allow_registration"] = true;\n'
                        '\t\t["created_at"] = {c};\n\t\t["token"] = "{t}";\n'
                        '\t\t["jid"] = "{d}";\n\t\t["type"] = "register";\n'
                        '\t\t["expires"] = {e};\n'
                        '\t\t["uri"] = "xmpp:{d}?register;preauth={t}";\n'
                        '\t}};\n'.format(t=t, c=now, e=now + 7 * 86400,
                                         d=DOMAIN))
            f.write("};\n")
        self.chown(os.path.dirname(os.path.dirname(path)))
        return tokens

    def m1(self):
        log("measurement 1: invitectl generate vs prosodyctl vs the floor")
        rows = []
        ictl_env = {"LD_LIBRARY_PATH": os.path.join(self.work, "lib")}
        self.m1_stores = {}
        for i, n in enumerate(self.m1_counts):
            # our store, filled through the library in one process
            store = os.path.join(self.work, "m1", "store-{}".format(n))
            self.mkdir("m1")
            fill = phases(self.run([self.bin("store_bench"), "fill", store,
                                    str(n), store + ".tok",
                                    str(n // 100)], timeout=1800).stdout)["fill"]
            conf = store + ".conf"
            self.write_conf(store, conf)
            self.m1_stores[n] = store
            bare = os.path.join(self.work, "m1", "bare-{}".format(n))
            bfill = phases(self.run([self.bin("bdb_bare"), "fill", bare, str(n),
                                     "1"], timeout=1800).stdout)["fill"]
            self.m1_bare = bare
            pdir = self.prosody_dir("m1/prosody-{}".format(n))
            t0 = time.time()
            self.prosody_fill(pdir, n)
            pfill = time.time() - t0
            log("  {} invites stored (fill: ours {:.0f} s, bare {:.0f} s, "
                "Prosody file {:.0f} s); load {}".format(
                    n, fill["secs"], bfill["secs"], pfill, loadavg()))

            ours, floor = self.spawn_pair(
                self.m1_runs,
                ([self.bin("invitectl"), "--config", conf, "generate", DOMAIN],
                 ictl_env),
                ([self.bin("bdb_bare"), "floor", bare], None))
            pruns = self.m1_prosody_runs[min(i, len(self.m1_prosody_runs) - 1)]
            pros, plimit = None, None
            try:
                pros = self.spawn(pruns, ["/usr/bin/prosodyctl", "--config",
                                          os.path.join(pdir, "prosody.cfg.lua"),
                                          "mod_invites", "generate", DOMAIN],
                                  timeout=self.prosody_limit, warmup=pruns >= 5)
            except TimeoutError as e:
                plimit = e.args[0]
                self.notes.append("prosodyctl with {:,} invites stored did not "
                                  "finish within {} s and was killed: its time "
                                  "is quoted as a lower bound".format(
                                      n, self.prosody_limit))
            except RuntimeError as e:
                self.notes.append("prosodyctl with {} invites stored failed: {}"
                                  .format(n, e))
            rows.append({"n": n, "ours": ours, "floor": floor, "pros": pros,
                         "plimit": plimit, "pruns": pruns, "load": loadavg()})
            # drop Prosody's big file now; keep our store (measurement 5)
            shutil.rmtree(pdir, ignore_errors=True)
            log("  {}: ours {:.2f} ms, floor {:.2f} ms, prosodyctl {} ms".format(
                n, median(ours["wall"]), median(floor["wall"]),
                fnum(median(pros["wall"])) if pros else
                "> {:.0f}".format(plimit) if plimit else "failed"))
        self.m1_rows = rows
        # what exec and the dynamic loader alone cost each program
        try:
            self.m1_startup = self.spawn_pair(
                self.m1_runs,
                ([self.bin("invitectl"), "--version"], ictl_env),
                ([self.bin("bdb_bare"), "fsync", self.mkdir("m1", "nop"), "0"],
                 None))
            self.m1_libs = {}
            for name, cmd, env in (("invitectl", self.bin("invitectl"), ictl_env),
                                   ("bdb_bare", self.bin("bdb_bare"), None)):
                p = self.run(["ldd", cmd], env=env, check=False)
                self.m1_libs[name] = len([l for l in p.stdout.splitlines()
                                          if "=>" in l or "ld-linux" in l])
        except RuntimeError as e:
            self.notes.append("start-up cost: {}".format(e))
        self.cmds["m1"] = [
            "store_bench fill STORE N STORE.tok N/100   # fill, not timed",
            "bdb_bare fill BARE N 1   # fill, not timed",
            "{} times, alternating, the first of each dropped:".format(
                self.m1_runs + 1),
            "  spawn -n 1 -- invitectl --config STORE.conf generate localhost",
            "  spawn -n 1 -- bdb_bare floor BARE",
            "spawn -n R -- prosodyctl --config DIR/prosody.cfg.lua mod_invites "
            "generate localhost   # DIR/data/localhost/invite_token.dat "
            "pre-written with N invites",
        ]

    # ---- measurement 2: in-process operations -------------------------

    def m2(self):
        log("measurement 2: in-process create / validate / consume vs bare BDB")
        n, ops = self.m2_n, self.m2_ops
        d = self.mkdir("m2")
        tmpl = os.path.join(d, "store-tmpl")
        tok = tmpl + ".tok"
        self.run([self.bin("store_bench"), "fill", tmpl, str(n), tok],
                 timeout=1800)
        btmpl = os.path.join(d, "bare-tmpl")
        self.run([self.bin("bdb_bare"), "fill", btmpl, str(n)], timeout=1800)
        ours, bare = [], []
        for r in range(self.m2_runs):
            s = os.path.join(d, "store-run")
            b = os.path.join(d, "bare-run")
            for src, dst in ((tmpl, s), (btmpl, b)):
                shutil.rmtree(dst, ignore_errors=True)
                self.run(["cp", "-a", src, dst])
            # alternate the order, so neither side always runs first
            pair = [("ours", [self.bin("store_bench"), "ops", s, tok, str(ops),
                              str(r + 1)]),
                    ("bare", [self.bin("bdb_bare"), "ops", b, str(n), str(ops),
                              str(r + 1)])]
            if r % 2:
                pair.reverse()
            for who, cmd in pair:
                ph = phases(self.run(cmd, timeout=1800).stdout)
                (ours if who == "ours" else bare).append(ph)
            log("  run {}: ours consume {:.0f}/s, bare {:.0f}/s; load {}".format(
                r + 1, ours[-1]["consume"]["ops_per_s"],
                bare[-1]["consume"]["ops_per_s"], loadavg()))
        self.m2_res = {"ours": ours, "bare": bare}
        self.m2_instr = self.m2_callgrind(d, tmpl, tok, btmpl, n)
        for p in (tmpl, btmpl, os.path.join(d, "store-run"),
                  os.path.join(d, "bare-run")):
            shutil.rmtree(p, ignore_errors=True)
        self.cmds["m2"] = [
            "store_bench fill STORE {n} STORE.tok; bdb_bare fill BARE {n}   "
            "# once; each run works on a fresh copy (cp -a)".format(n=n),
            "store_bench ops STORE STORE.tok {} RUN".format(ops),
            "bdb_bare ops BARE {} {} RUN".format(n, ops),
            "valgrind --tool=callgrind --instr-atstart=no "
            "--separate-threads=yes ... (same commands, {} ops): "
            "instructions per operation".format(self.cg_ops),
        ]

    def m2_callgrind(self, d, tmpl, tok, btmpl, n):
        self.cg_ops = 200
        if not shutil.which("valgrind"):
            self.notes.append("valgrind is not installed: no instruction counts")
            return None
        out = {}
        for who, src, mk in (
                ("ours", tmpl, lambda s: [self.bin("store_bench"), "ops", s, tok,
                                          str(self.cg_ops), "99"]),
                ("bare", btmpl, lambda s: [self.bin("bdb_bare"), "ops", s, str(n),
                                           str(self.cg_ops), "99"])):
            s = os.path.join(d, "cg-" + who)
            shutil.rmtree(s, ignore_errors=True)
            self.run(["cp", "-a", src, s])
            cgdir = self.mkdir("m2", "cg-out-" + who)
            try:
                # one file per thread: the operations run in the calling
                # thread; a daemon handle's watchdog, monitor and
                # checkpointer threads work per unit of time, not per
                # operation, and valgrind's slowness multiplies them
                self.run(["valgrind", "--tool=callgrind", "--instr-atstart=no",
                          "--separate-threads=yes",
                          "--callgrind-out-file=" + os.path.join(cgdir, "cg.%p")]
                         + mk(s), timeout=1800)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                self.notes.append("callgrind run ({}) failed: {}".format(who, e))
                return None
            counts = {}
            for f in glob.glob(os.path.join(cgdir, "cg.*-01")):
                trig, total = None, None
                with open(f, errors="replace") as fh:
                    for line in fh:
                        if line.startswith("desc: Trigger:"):
                            m = re.search(r"Client Request: (\S+)", line)
                            trig = m.group(1) if m else None
                        elif line.startswith("summary:") or line.startswith("totals:"):
                            total = int(line.split()[1])
                if trig and total is not None:
                    counts[trig] = total / self.cg_ops
            out[who] = counts
            shutil.rmtree(s, ignore_errors=True)
        return out

    # ---- measurement 3: registrations over XMPP -------------------------

    def free_port(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        return port

    @staticmethod
    def wait_port(port, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                return True
            except OSError:
                time.sleep(0.1)
        return False

    def start_jabberd2(self, name, modules, preload=False):
        d = self.mkdir("m3", name)
        port = self.free_port()
        env = {"XMPP_DIR": d, "XMPP_DOMAIN": DOMAIN, "XMPP_C2S_PORT": str(port),
               "XMPP_MODULES": modules,
               "XMPP_MODULE_DIR": os.path.join(self.work, "modules")}
        if preload:
            env["LD_PRELOAD"] = self.bin("nodelay_shim.so")
        xl = os.path.join(self.src, "contrib", "jabberd2", "xmpp-local")
        self.run(["sh", xl, "start"], env=env, timeout=120)
        h = {"dir": d, "port": port, "env": env, "xl": xl}
        with open(os.path.join(d, "xmpp-local.pids")) as f:
            h["pids"] = {l.split()[0]: int(l.split()[1]) for l in f if l.strip()}
        self.procs.append(("jabberd2", h))
        return h

    def start_prosody(self, name, nagle):
        port = self.free_port()
        d = self.prosody_dir("m3/" + name, port=port, nagle=nagle)
        cfg = os.path.join(d, "prosody.cfg.lua")
        p = subprocess.Popen(self.as_user(["/usr/bin/prosody", "--config", cfg]),
                             env=self.env(), cwd=d, stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(d, "prosody.out"), "w"))
        h = {"dir": d, "port": port, "popen": p, "pids": {"prosody": p.pid}}
        self.procs.append(("prosody", h))
        if not self.wait_port(port):
            raise RuntimeError("Prosody did not start (see {})".format(d))
        return h

    def stop_server(self, kind, h):
        if kind == "jabberd2":
            self.run(["sh", h["xl"], "stop"], env=h["env"], timeout=60,
                     check=False)
        else:
            p = h["popen"]
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()

    def stop(self, h):
        for i, (kind, hh) in enumerate(self.procs):
            if hh is h:
                self.stop_server(kind, h)
                del self.procs[i]
                return

    @staticmethod
    def cpu_ticks(pids):
        total = 0
        for pid in pids.values():
            try:
                with open("/proc/{}/stat".format(pid)) as f:
                    st = f.read().rsplit(")", 1)[1].split()
                total += int(st[11]) + int(st[12])
            except OSError:
                pass
        return total * 1000.0 / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def rss(pid):
        try:
            with open("/proc/{}/status".format(pid)) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return float("nan")

    def tokens_for(self, server, h, n, path):
        if server in ("ours", "ours-inviter"):
            self.run([self.bin("store_bench"), "add", os.path.join(h["dir"], "store"),
                      str(n), path] + ([h["inviter"]] if h.get("inviter") else []),
                     timeout=600)
        elif server == "prosody":
            tokens = self.prosody_fill(h["dir"], n)
            with open(path, "w") as f:
                f.write("\n".join(tokens) + "\n")
            self.chown(path)
        else:
            return None
        return path

    def m3(self):
        log("measurement 3: registrations per second over XMPP")
        self.mkdir("m3")
        servers = [
            ("ours", "jabberd2 2.7 + xmpp-invites modules (TCP_NODELAY on, "
             "the default)", "jabberd2", dict(modules="invites"), True, True),
            ("ours-inviter", "jabberd2 2.7 + xmpp-invites modules, invites "
             "made by a user (who is told of each use)", "jabberd2",
             dict(modules="invites"), True, True),
            ("stock-nodelay", "stock jabberd2 2.7, open registration, "
             "TCP_NODELAY via LD_PRELOAD shim", "jabberd2",
             dict(modules="stock", preload=True), False, True),
            ("stock", "stock jabberd2 2.7, open registration, as shipped",
             "jabberd2", dict(modules="stock"), False, False),
            ("prosody-nodelay", "Prosody 0.12 + mod_invites_register, "
             "network_settings nagle = false", "prosody", dict(nagle="false"),
             True, True),
            ("prosody", "Prosody 0.12 + mod_invites_register, as shipped "
             "(nagle = true)", "prosody", dict(nagle="true"), True, False),
        ]
        self.m3_res = {}
        self.m4_rss = {}
        # every server up at once, idle but for the run at hand; the runs
        # go round the servers (run r of each, then run r + 1 ...) so that
        # all of them see the same moments of a shared machine
        live = []
        for key, label, kind, kw, invites, nodelay in servers:
            if self.only_server and key not in self.only_server:
                continue
            if kind == "jabberd2" and key.startswith("ours") and not os.path.exists(
                    os.path.join(self.work, "modules", "mod_invites.so")):
                self.notes.append("the jabberd2 modules were not built: no "
                                  "figures for jabberd2 with xmpp-invites")
                continue
            try:
                h = (self.start_jabberd2(key, **kw) if kind == "jabberd2"
                     else self.start_prosody(key, **kw))
            except Exception as e:
                self.notes.append("{}: could not start: {}".format(label, e))
                continue
            time.sleep(0.5)
            srv = key if key.startswith("ours") else (
                "prosody" if kind == "prosody" else None)
            res = {"label": label, "cells": {1: [], 4: []},
                   "flows": self.m3_flows if nodelay else self.m3_flows_nagle,
                   "rss_idle": {name: self.rss(pid)
                                for name, pid in h["pids"].items()}}
            try:
                if key == "ours-inviter":
                    # a real local user makes the invites
                    tf = self.tokens_for(srv, h, 1, os.path.join(h["dir"],
                                                                 "inviter.tok"))
                    self.xreg(h["port"], 1, 1, tf, "inviter", key)
                    h["inviter"] = "inviter0@" + DOMAIN
                # warm-up: 10 flows, not counted
                tf = self.tokens_for(srv, h, 10, os.path.join(h["dir"], "warm.tok"))
                self.xreg(h["port"], 10, 1, tf, "w", key)
            except Exception as e:
                self.notes.append("{}: {}".format(label, e))
                self.stop(h)
                continue
            self.m3_res[key] = res
            live.append((key, srv, h, res))
        for conc in (1, 4):
            for r in range(self.m3_runs):
                for key, srv, h, res in live:
                    try:
                        tf = self.tokens_for(srv, h, res["flows"], os.path.join(
                            h["dir"], "c{}r{}.tok".format(conc, r)))
                        c0 = self.cpu_ticks(h["pids"])
                        out = self.xreg(h["port"], res["flows"], conc, tf,
                                        "c{}r{}x".format(conc, r), key)
                        c1 = self.cpu_ticks(h["pids"])
                        out["server_cpu_ms"] = (c1 - c0) / max(out["ok"], 1)
                        res["cells"][conc].append(out)
                    except Exception as e:
                        self.notes.append("{}: {}".format(res["label"], e))
            log("  {} client(s): {}; load {}".format(conc, ", ".join(
                "{} {} flows/s".format(key, fnum(median(
                    [x["flows_per_s"] for x in res["cells"][conc]])))
                for key, srv, h, res in live), loadavg()))
        for key, srv, h, res in live:
            res["cells"] = {c: v for c, v in res["cells"].items() if v}
            res["rss_after"] = {name: self.rss(pid)
                                for name, pid in h["pids"].items()}
            if srv in ("ours", "ours-inviter"):
                # every registration must have used up its invite
                p = self.run([self.bin("store_bench"), "stats",
                              os.path.join(h["dir"], "store")], check=False)
                st = phases(p.stdout).get("stats")
                if st:
                    res["check"] = ("store after the runs: {:.0f} invites, {:.0f} "
                                    "still pending (every successful flow used "
                                    "one up)".format(st["total"], st["pending"]))
            self.stop(h)
        self.cmds["m3"] = [
            "xmpp-local start (XMPP_MODULES=invites|stock, "
            "[LD_PRELOAD=nodelay_shim.so]); prosody --config DIR/prosody.cfg.lua",
            "store_bench add STORE F TOK [inviter0@localhost]   # ours; Prosody: "
            "invite_token.dat written with F invites",
            "xreg -p PORT -n F -c 1|4 -L [-t TOK] -u PREFIX   # F = {} "
            "({} with Nagle's stall)".format(self.m3_flows, self.m3_flows_nagle),
        ]

    def xreg(self, port, flows, conc, tokfile, prefix, key):
        cmd = [self.bin("xreg"), "-p", str(port), "-d", DOMAIN, "-n", str(flows),
               "-c", str(conc), "-L", "-T", "120", "-u", prefix]
        if tokfile:
            cmd += ["-t", tokfile]
        p = self.run(cmd, timeout=300, check=False)
        lines = [l for l in p.stdout.splitlines() if l.startswith("flows ")]
        if not lines:
            raise RuntimeError("xreg: " + p.stderr.strip()[-400:])
        out = parse_kv(lines[-1])
        m = re.search(r"xreg: tls (\S+)", p.stderr)
        out["tls"] = m.group(1) if m else "?"
        if out["failed"]:
            self.notes.append("{} (run {}): {:.0f} of {:.0f} flows failed: {}"
                              .format(key, prefix, out["failed"], out["flows"],
                                      " / ".join(l for l in p.stderr.splitlines()
                                                 if "failed" in l)[:300]))
        return out

    # ---- measurement 4 (store part) and 5 -----------------------------

    def m4_store(self):
        res = []
        for n, store in sorted(getattr(self, "m1_stores", {}).items()):
            if n == 0:
                continue
            files = {}
            for f in sorted(os.listdir(store)):
                if f.endswith(".db"):
                    files[f] = os.path.getsize(os.path.join(store, f))
            res.append({"n": n, "files": files})
        self.m4_files = res

    def m5(self):
        log("measurement 5: purge of 1% expired vs a full scan")
        n = self.m5_n
        store = getattr(self, "m1_stores", {}).get(n)
        d = self.mkdir("m5")
        if store is None:
            store = os.path.join(d, "store-tmpl")
            self.run([self.bin("store_bench"), "fill", store, str(n),
                      store + ".tok", str(n // 100)], timeout=1800)
        bare = os.path.join(d, "bare-tmpl")
        if getattr(self, "m1_bare", None) and n in self.m1_counts:
            bare = os.path.join(self.work, "m1", "bare-{}".format(n))
        else:
            self.run([self.bin("bdb_bare"), "fill", bare, str(n), "1"],
                     timeout=1800)
        # the invites of store_bench fill that expire soon must have expired
        ours, scan = [], []
        runs = 3
        for r in range(runs):
            s = os.path.join(d, "store-run")
            b = os.path.join(d, "bare-run")
            for src, dst in ((store, s), (bare, b)):
                shutil.rmtree(dst, ignore_errors=True)
                self.run(["cp", "-a", src, dst])
            ours.append(phases(self.run([self.bin("store_bench"), "purge", s],
                                        timeout=1800).stdout)["purge"])
            scan.append(phases(self.run([self.bin("bdb_bare"), "scan", b,
                                         str(int(time.time()))],
                                        timeout=1800).stdout)["scan"])
            log("  run {}: purge {:.0f} ms ({:.0f} deleted), full scan {:.0f} ms "
                "({:.0f} deleted); load {}".format(
                    r + 1, ours[-1]["ms"], ours[-1]["deleted"], scan[-1]["ms"],
                    scan[-1]["deleted"], loadavg()))
        for p in (os.path.join(d, "store-run"), os.path.join(d, "bare-run")):
            shutil.rmtree(p, ignore_errors=True)
        self.m5_res = {"n": n, "ours": ours, "scan": scan}
        self.cmds["m5"] = [
            "store_bench fill STORE {n} TOK {e}   # {e} invites expire 2 min "
            "after creation".format(n=n, e=n // 100),
            "store_bench purge COPY   # invites_purge(now + 1 h), then again",
            "bdb_bare fill BARE {} 1; bdb_bare scan COPY NOW   # full primary "
            "scan, delete expired, batches of 1000 deletes".format(n),
        ]

    # ---- the report -----------------------------------------------------

    def report(self):
        L = []
        mi, v = self.machine_info, self.versions
        title = "Benchmarks" + (" (quick run: small counts)" if self.quick else "")
        L += ["# xmpp-invites: " + title, "",
              "Written by `make {}` (bench/run.py) on {}. Every figure below "
              "was measured in this run, on this machine; ratios compare "
              "figures from this same run. Medians of several runs, with "
              "[min–max] of the per-run values.".format(
                  "bench-quick" if self.quick else "bench", mi["date"]), ""]
        L += ["## Machine and versions", "",
              "| what | value |", "|---|---|",
              "| CPU | {} × {} |".format(mi["nproc"], mi["cpu"]),
              "| memory | {} |".format(mi["mem"]),
              "| kernel | {} |".format(mi["kernel"]),
              "| Debian | {} |".format(mi["debian"]),
              "| filesystem of the work dir | {} |".format(mi["fs"]),
              "| append 512 B + fdatasync (`bdb_bare fsync DIR 300`) | p50 {} µs, "
              "p99 {} µs |".format(fnum(mi["fsync"]["p50_us"], 0),
                                   fnum(mi["fsync"]["p99_us"], 0)),
              "| load average at start | {} |".format(mi["load"])]
        for p, ver in v.items():
            L.append("| {} | {} |".format(p, ver))
        L += ["",
              "The machine is shared: the load average is logged with every "
              "section. Every durable commit pays at least one fdatasync, so "
              "the fdatasync line above sets the scale of every sync figure.", ""]
        if hasattr(self, "m1_rows"):
            L += self.report_m1()
        if hasattr(self, "m2_res"):
            L += self.report_m2()
        if hasattr(self, "m3_res"):
            L += self.report_m3()
        L += self.report_m4()
        if hasattr(self, "m5_res"):
            L += self.report_m5()
        if self.notes:
            L += ["## Notes from this run", ""] + ["- " + n for n in self.notes] + [""]
        L += ["## Reproducing", "",
              "`make bench` (or `make bench-quick`) from a configured build "
              "tree; `BENCH_ARGS='--only m1,m3 --keep'` runs a subset and keeps "
              "the work directory. The programs are in the build tree's "
              "`bench/` and take the arguments shown per section; run them as "
              "an unprivileged user. See bench/README.md.", "",
              "Other figures: fault injection and the soak (trials, stalls, "
              "losses, RSS and descriptors over time) in bench/FAULTS.md, "
              "written by hand from `make check` (tests/ft/faults.py) and "
              "`make soak`; the web daemon in bench/RESULTS-web.md "
              "(`make bench-web`).", ""]
        return "\n".join(L)

    def cmd_block(self, key):
        c = self.cmds.get(key, [])
        return ["Commands:", "", "```"] + c + ["```", ""] if c else []

    def report_m1(self):
        L = ["## 1. `invitectl generate`, whole process", "",
             "Wall time around fork + exec + wait4 (bench/spawn), peak RSS "
             "from wait4. {} runs per cell after one warm-up run, ours and "
             "the floor alternating run by run (Prosody: "
             "fewer runs and no warm-up at large stores, where one run takes "
             "seconds; see the runs column). Our store was "
             "filled through the library in one process; Prosody's "
             "`invite_token` file was written directly in its own format; "
             "the floor (`bdb_bare floor`) opens the same kind of Berkeley "
             "DB environment (same flags, DB_CONFIG and indexes), draws one "
             "token, commits one record and closes.".format(self.m1_runs), "",
             "| invites stored | invitectl generate, ms | RSS MiB | floor, ms | "
             "RSS MiB | prosodyctl, ms | RSS MiB | runs (Prosody) | "
             "vs Prosody | vs floor | load |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
        base = None
        for r in self.m1_rows:
            o, f, p = r["ours"], r["floor"], r["pros"]
            om = median(o["wall"])
            if base is None:
                base = om
            lim = r.get("plimit")
            if p:
                pw, prss = spread(p["wall"]), fnum(median(p["rss"]), 1)
                pr = fnum(ratio(median(p["wall"]), om), 1) + "x faster"
            elif lim:
                pw, prss = "> {:,.0f} (killed)".format(lim), "–"
                pr = "> {}x faster".format(fnum(ratio(lim, om), 0))
            else:
                pw, prss, pr = "failed", "–", "–"
            L.append("| {:,} | {} | {} | {} | {} | {} | {} | {} | {} | "
                     "{:.2f}x | {} |".format(
                         r["n"], spread(o["wall"]), fnum(median(o["rss"]), 1),
                         spread(f["wall"]), fnum(median(f["rss"]), 1),
                         pw, prss, 1 if lim else r["pruns"], pr,
                         ratio(om, median(f["wall"])), r["load"]))
        su = getattr(self, "m1_startup", None)
        if su:
            libs = getattr(self, "m1_libs", {})
            L += ["", "Start-up alone (exec and the dynamic loader; `invitectl "
                  "--version` against `bdb_bare fsync DIR 0`, alternating): "
                  "{} ms, RSS {} MiB, {} shared objects, against {} ms, {} MiB, "
                  "{} shared objects.".format(
                      spread(su[0]["wall"]), fnum(median(su[0]["rss"]), 1),
                      libs.get("invitectl", "?"), spread(su[1]["wall"]),
                      fnum(median(su[1]["rss"]), 1), libs.get("bdb_bare", "?"))]
        last = median(self.m1_rows[-1]["ours"]["wall"])
        L += ["",
              "Flatness: invitectl generate at {:,} invites takes {:.2f}x its "
              "time with an empty store. Targets (issue 5): ≥ 10x faster than "
              "prosodyctl with an empty store, ≥ 500x at 100,000, within 2x of "
              "the floor, flat.".format(self.m1_rows[-1]["n"], ratio(last, base)),
              ""]
        return L + self.cmd_block("m1")

    def report_m2(self):
        o, b = self.m2_res["ours"], self.m2_res["bare"]
        L = ["## 2. In-process create, validate, consume vs bare Berkeley DB",
             "",
             "{:,} invites stored, {} operations per phase, {} runs, each on "
             "a fresh copy of the filled store; the same environment flags "
             "(full sync on commit), cache (64 MB) and secondary indexes "
             "(expiry, inviter) on both sides. Ours goes through the public "
             "API (`invites_create`; `invites_get_by_token` + "
             "`invites_invite_validate`; `invites_consume`, which also "
             "writes the use, the pending post-registration work and an audit "
             "record); bare is one `DB->put`, one `DB->get`, and "
             "`get(DB_RMW)` + `del` in a transaction.".format(
                 self.m2_n, self.m2_ops, self.m2_runs), "",
             "| operation | ours ops/s | p50 / p99 µs | bare | ops/s | "
             "p50 / p99 µs | ours / bare (p50) |", "|---|---|---|---|---|---|---|"]
        for po, pb in (("create", "put"), ("validate", "get"),
                       ("consume", "consume")):
            ov = [x[po]["ops_per_s"] for x in o]
            bv = [x[pb]["ops_per_s"] for x in b]
            o50 = median([x[po]["p50_us"] for x in o])
            b50 = median([x[pb]["p50_us"] for x in b])
            L.append("| {} | {} | {} / {} | {} | {} | {} / {} | {:.2f}x |".format(
                po, spread(ov, "{:,.0f}"), fnum(o50, 1),
                fnum(median([x[po]["p99_us"] for x in o]), 1), pb,
                spread(bv, "{:,.0f}"), fnum(b50, 1),
                fnum(median([x[pb]["p99_us"] for x in b]), 1), ratio(o50, b50)))
        L.append("")
        if self.m2_instr:
            io, ib = self.m2_instr.get("ours", {}), self.m2_instr.get("bare", {})
            L += ["Instructions per operation (callgrind, {} operations, "
                  "instrumentation only inside each phase, the calling thread "
                  "only: a daemon handle's watchdog threads work per unit of "
                  "time, not per operation):".format(self.cg_ops),
                  "", "| operation | ours | bare | ours / bare |",
                  "|---|---|---|---|"]
            for po, pb in (("create", "put"), ("validate", "get"),
                           ("consume", "consume")):
                L.append("| {} / {} | {} | {} | {:.2f}x |".format(
                    po, pb, fnum(io.get(po)), fnum(ib.get(pb)),
                    ratio(io.get(po), ib.get(pb))))
            L.append("")
        L += ["Target (issue 5): within 2x of the bare figures.", ""]
        return L + self.cmd_block("m2")

    def report_m3(self):
        L = ["## 3. Invite registrations per second over XMPP", "",
             "Client: bench/xreg (C, OpenSSL; the same binary for every "
             "server). One flow = TCP connect, STARTTLS, TLS 1.3 handshake, "
             "[pre-auth IQ with a fresh invite token], XEP-0077 register, "
             "then the first login on a second connection (TLS, SASL PLAIN, "
             "resource bind; the user stays online until the run ends). "
             "Stock jabberd2 gets the same flow without the pre-auth IQ (open "
             "registration). Our invites are made as `invitectl generate` "
             "makes them (no inviter), like Prosody's from `prosodyctl "
             "mod_invites generate`; the row \"made by a user\" uses invites "
             "whose inviter is a local user, who is told of each use. Same TLS everywhere: STARTTLS required, "
             "self-signed RSA-2048, TLS 1.3; c2s `<connects>0</connects>`. "
             "{} runs per cell; {} flows per run ({} where Nagle's stall "
             "makes every flow slow). All servers run at once, idle but for "
             "the run at hand, and the runs go round the servers, so that "
             "every server sees the same moments of the shared machine. Server CPU is the servers' user+system "
             "time over the run per registration (jabberd2: router + sm + "
             "c2s); client CPU likewise for xreg's processes.".format(
                 self.m3_runs, self.m3_flows, self.m3_flows_nagle), "",
             "| server | clients | flows/s | flow p50 ms | server CPU ms/flow "
             "| client CPU ms/flow | failed flows | TLS |",
             "|---|---|---|---|---|---|---|---|"]
        med = {}
        for key, res in self.m3_res.items():
            for conc, runs in sorted(res["cells"].items()):
                fs = [x["flows_per_s"] for x in runs]
                med[(key, conc)] = median(fs)
                L.append("| {} | {} | {} | {} | {} | {} | {:.0f} of {:.0f} | {} |"
                         .format(res["label"], conc, spread(fs), fnum(median(
                             [x["p50_ms"] for x in runs]), 1),
                             fnum(median([x["server_cpu_ms"] for x in runs]), 2),
                             fnum(median([x["client_cpu_ms_per_flow"]
                                          for x in runs]), 2),
                             sum(x["failed"] for x in runs),
                             sum(x["flows"] for x in runs),
                             runs[0].get("tls", "?")))
        L.append("")
        for key, res in self.m3_res.items():
            if res.get("check"):
                L += ["{}: {}.".format(res["label"], res["check"]), ""]
        L += ["Ratios (medians of this run):", "",
              "| comparison | 1 client | 4 clients | target |", "|---|---|---|---|"]
        for a, b, label, target in (
                ("ours", "prosody-nodelay", "ours / Prosody (nagle = false)", "≥ 2x"),
                ("ours", "prosody", "ours / Prosody as shipped", "≥ 2x"),
                ("ours", "stock-nodelay", "ours / stock jabberd2 with TCP_NODELAY "
                 "(the cost of invites)", "≥ 0.8x"),
                ("ours", "stock", "ours / stock jabberd2 as shipped", "≥ 0.8x")):
            L.append("| {} | {} | {} | {} |".format(
                label, fnum(ratio(med.get((a, 1)), med.get((b, 1)))),
                fnum(ratio(med.get((a, 4)), med.get((b, 4)))), target))
        L.append("")
        return L + self.cmd_block("m3")

    def report_m4(self):
        L = ["## 4. Memory and store size", ""]
        r3 = getattr(self, "m3_res", {})
        if r3:
            L += ["RSS (VmRSS, MiB) of each server process, idle after start and "
                  "after all registrations of measurement 3 (the users of the "
                  "last run have logged out by then):", "",
                  "| server | process | idle | after |", "|---|---|---|---|"]
            for key, res in r3.items():
                for name in res["rss_idle"]:
                    L.append("| {} | {} | {} | {} |".format(
                        res["label"], name, fnum(res["rss_idle"][name], 1),
                        fnum(res["rss_after"].get(name), 1)))
            L.append("")
        files = getattr(self, "m4_files", [])
        if files:
            L += ["Store size on disk per invite (database files only; the "
                  "logs are removed at checkpoints; audit.db holds one "
                  "\"created\" record per invite):", "",
                  "| invites | file | bytes | bytes per invite |",
                  "|---|---|---|---|"]
            for row in files:
                tot = 0
                for f, sz in row["files"].items():
                    tot += sz
                    L.append("| {:,} | {} | {:,} | {:.0f} |".format(
                        row["n"], f, sz, sz / row["n"]))
                L.append("| {:,} | **all** | {:,} | **{:.0f}** |".format(
                    row["n"], tot, tot / row["n"]))
            bare = getattr(self, "m4_bare", None)
            if bare:
                L += ["", "Bare Berkeley DB with the same record size (300 B) "
                      "and indexes: {} bytes per invite at {:,} "
                      "records.".format(fnum(bare[1], 0), bare[0])]
            pf = getattr(self, "m4_prosody", None)
            if pf:
                L += ["", "Prosody's invite_token file: {} bytes per invite at "
                      "{:,} invites.".format(fnum(pf[1], 0), pf[0])]
            L.append("")
        return L if len(L) > 2 else []

    def report_m5(self):
        r = self.m5_res
        o, s = r["ours"], r["scan"]
        om, sm = median([x["ms"] for x in o]), median([x["ms"] for x in s])
        L = ["## 5. Purge at {:,} invites, 1% expired".format(r["n"]), "",
             "{} runs, each on a fresh copy of the filled stores.".format(len(o)),
             "", "| method | deleted | ms | second pass (nothing due), ms |",
             "|---|---|---|---|",
             "| `invites_purge` (expiry index) | {:.0f} | {} | {} |".format(
                 median([x["deleted"] for x in o]), spread([x["ms"] for x in o]),
                 spread([x["second_ms"] for x in o])),
             "| bare full scan of the primary (`bdb_bare scan`) | {:.0f} | {} | "
             "{} |".format(median([x["deleted"] for x in s]),
                           spread([x["ms"] for x in s]),
                           spread([x["second_ms"] for x in s])),
             "", "Purge is {:.1f}x faster than the full scan; a pass with "
             "nothing to delete costs {} ms against {} ms.".format(
                 ratio(sm, om), fnum(median([x["second_ms"] for x in o])),
                 fnum(median([x["second_ms"] for x in s]))), ""]
        return L + self.cmd_block("m5")

    # ---- main ------------------------------------------------------------

    def want(self, m):
        return self.only is None or m in self.only

    def main(self):
        self.only_server = (set(self.args.servers.split(","))
                            if self.args.servers else None)
        t0 = time.time()
        self.setup()
        try:
            self.machine()
            for m, fn in (("m1", self.m1), ("m2", self.m2), ("m3", self.m3),
                          ("m5", self.m5)):
                if not self.want(m):
                    continue
                ts = time.time()
                try:
                    fn()
                except Exception as e:
                    self.notes.append("{} failed: {}".format(m, e))
                    log("{} failed: {}".format(m, e))
                log("{} took {:.0f} s".format(m, time.time() - ts))
            self.m4_store()
            self.m4_extra()
        finally:
            self.cleanup()
        text = self.report()
        text += "\nTotal time of this run: {:.1f} min.\n".format(
            (time.time() - t0) / 60)
        with open(self.args.out, "w") as f:
            f.write(text)
        log("wrote " + self.args.out)

    def m4_extra(self):
        # bare and Prosody bytes per invite, from what m1 left
        n = max(self.m1_counts)
        bare = os.path.join(self.work or "", "m1", "bare-{}".format(n))
        if n and os.path.isdir(bare):
            tot = sum(os.path.getsize(os.path.join(bare, f))
                      for f in ("invites.db", "expiry.db", "inviter.db")
                      if os.path.exists(os.path.join(bare, f)))
            self.m4_bare = (n, tot / n)
        if getattr(self, "m4_prosody", None) is None and n:
            # one line of Prosody's format per invite, measured on 1000
            d = self.mkdir("m4-prosody")
            self.prosody_fill(d, 1000)
            f = os.path.join(d, "data", DOMAIN, "invite_token.dat")
            self.m4_prosody = (1000, os.path.getsize(f) / 1000)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--srcdir", required=True)
    ap.add_argument("--builddir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true",
                    help="small counts (make bench-quick)")
    ap.add_argument("--only", help="comma-separated subset of m1,m2,m3,m5")
    ap.add_argument("--servers", help="measurement 3: subset of ours,"
                    "ours-inviter,stock-nodelay,stock,prosody-nodelay,prosody")
    ap.add_argument("--workdir", help="where the temporary directory goes "
                    "(default /var/tmp)")
    ap.add_argument("--prosody-limit", type=int, default=300,
                    help="seconds one prosodyctl run may take (default 300)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory")
    args = ap.parse_args()
    # run from make in the background, SIGINT may be ignored: restore it,
    # and let SIGTERM also unwind, so servers are stopped and the work
    # directory removed
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(143))
    Bench(args).main()


if __name__ == "__main__":
    main()
