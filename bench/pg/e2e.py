#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/pg/e2e.py: end-to-end registrations/s with the PostgreSQL store
against the Berkeley DB store (issue 9, "Speed"), part of `make bench-pg`.

Two copies of the same setup run at once on 127.0.0.1: Debian's jabberd2
with our modules (contrib/jabberd2/xmpp-local), one with `store = DIR`
(Berkeley DB), one with `store = postgresql://...` on a PostgreSQL server
of its own (initdb into the work directory, Unix socket only, the
package's default durability: fsync and synchronous_commit on, as the
Berkeley DB store syncs every commit).  bench/xreg drives both with the
same flows (STARTTLS, pre-auth IQ with a fresh invite, XEP-0077 register,
first login on a second connection) at 1 and 4 clients; the runs go round
the two stores, alternating which goes first.  Prints Markdown.
"""

import argparse
import datetime
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

DOMAIN = "localhost"
RUN_USER = "xmpp-invites"


def log(msg):
    print("bench-pg e2e: " + msg, file=sys.stderr, flush=True)


def median(v):
    return statistics.median(v) if v else float("nan")


def fnum(x, d=1):
    return "n/a" if x is None or x != x else ("{:." + str(d) + "f}").format(x)


def spread(v, d=1):
    if not v:
        return "n/a"
    return "{} [{}–{}]".format(fnum(median(v), d), fnum(min(v), d), fnum(max(v), d))


def kv(line):
    w = line.split()
    out = {}
    for i in range(0, len(w) - 1, 2):
        try:
            out[w[i]] = float(w[i + 1])
        except ValueError:
            out[w[i]] = w[i + 1]
    return out


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def proc_stat(pid):
    with open("/proc/{}/stat".format(pid)) as f:
        return f.read().rsplit(")", 1)[1].split()


def cpu_ms(pids):
    total = 0
    for pid in pids:
        try:
            st = proc_stat(pid)
            total += int(st[11]) + int(st[12])
        except OSError:
            pass
    return total * 1000.0 / os.sysconf("SC_CLK_TCK")


def children_cpu_ms(ppid):
    """CPU of a process and its live children (PostgreSQL's backends)
    plus what its dead children left in cutime/cstime."""
    total = 0
    try:
        st = proc_stat(ppid)
        total += sum(int(x) for x in st[11:15])
    except OSError:
        return 0.0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            st = proc_stat(d)
        except OSError:
            continue
        if int(st[1]) == ppid:
            total += int(st[11]) + int(st[12])
    return total * 1000.0 / os.sysconf("SC_CLK_TCK")


class Bench:
    def __init__(self, args):
        self.a = args
        self.src = os.path.abspath(args.srcdir)
        self.build = os.path.abspath(args.builddir)
        self.root = os.geteuid() == 0
        self.xl = os.path.join(self.src, "contrib", "jabberd2", "xmpp-local")
        self.notes = []
        self.setups = []

    def as_user(self, argv):
        if self.root:
            return ["runuser", "-u", RUN_USER, "--"] + argv
        return argv

    def run(self, argv, env=None, timeout=600, check=True):
        p = subprocess.run(argv, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise RuntimeError("{}: {}".format(" ".join(argv[:3]),
                                               (p.stderr or p.stdout)[-800:]))
        return p

    def pg_bin(self):
        bins = sorted(d for d in (os.path.join("/usr/lib/postgresql", v, "bin")
                                  for v in os.listdir("/usr/lib/postgresql"))
                      if os.access(os.path.join(d, "pg_ctl"), os.X_OK))
        return bins[-1]

    def setup(self):
        if self.root:
            self.run(["sh", "-c", "getent passwd {u} >/dev/null || useradd "
                      "--system --user-group --no-create-home --home-dir "
                      "/nonexistent --shell /usr/sbin/nologin {u}".format(
                          u=RUN_USER)])
        self.work = tempfile.mkdtemp(prefix="xi-bench-pg-e2e.",
                                     dir=self.a.workdir or "/var/tmp")
        os.chmod(self.work, 0o755)
        b = os.path.join(self.work, "bin")
        os.makedirs(b)
        for name in ("xreg", "store_bench"):
            shutil.copy2(os.path.join(self.build, "bench", name), b)
        # PostgreSQL, owned by the daemons' user, on a socket in pg/
        self.pg = os.path.join(self.work, "pg")
        os.makedirs(self.pg)
        if self.root:
            subprocess.run(["chown", RUN_USER + ":", self.pg], check=True)
        os.chmod(self.pg, 0o711)
        pgb = self.pg_bin()
        self.pgb = pgb
        self.run(self.as_user([os.path.join(pgb, "initdb"), "-D",
                               os.path.join(self.pg, "data"), "-U", "xi", "-A",
                               "trust", "-E", "UTF8", "--locale=C"]))
        self.run(self.as_user([os.path.join(pgb, "pg_ctl"), "-D",
                               os.path.join(self.pg, "data"), "-l",
                               os.path.join(self.pg, "server.log"), "-w", "-t",
                               "60", "-o", "-k {} -c listen_addresses=''".format(
                                   self.pg), "start"]))
        with open(os.path.join(self.pg, "data", "postmaster.pid")) as f:
            self.pg_pid = int(f.readline())
        self.uri = ("postgresql:///postgres?host={}&user=xi&schema=invites"
                    .format(self.pg))
        log("working in " + self.work)

    def start(self, key, store):
        d = os.path.join(self.work, key)
        os.makedirs(d)
        conf = os.path.join(d, "invites.conf")
        with open(conf, "w") as f:
            f.write("store = {}\ndomains = {}\n".format(store, DOMAIN))
        open(os.path.join(d, "xmpp-local.env"), "w").close()
        env = dict(os.environ, XMPP_DIR=d, XMPP_DOMAIN=DOMAIN,
                   XMPP_MODULE_DIR=os.path.join(self.build, "plugin",
                                                "jabberd2", ".libs"))
        for k in ("XMPP_C2S_PORT", "XMPP_ROUTER_PORT", "XMPP_WEB",
                  "XMPP_MODULES", "XMPP_WEB_PORT"):
            env.pop(k, None)
        if store.startswith("postgresql:"):
            self.run([os.path.join(self.build, "invitectl"), "--config", conf,
                      "db", "init"])
        self.run(["sh", self.xl, "start"], env=env, timeout=180)
        vals = {}
        with open(os.path.join(d, "xmpp-local.env")) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                vals[k] = v.strip("'")
        with open(os.path.join(d, "xmpp-local.pids")) as f:
            pids = [int(l.split()[1]) for l in f if l.strip()]
        s = {"key": key, "dir": d, "env": env, "store": store,
             "port": int(vals["XMPP_C2S_PORT"]), "pids": pids, "n": 0,
             "cells": {}}
        self.setups.append(s)
        self.run(["sh", self.xl, "exec", "mkdir", "-p", os.path.join(d, "tok")],
                 env=env)
        return s

    def bin(self, name):
        return os.path.join(self.work, "bin", name)

    def tokens(self, s, n):
        s["n"] += 1
        path = os.path.join(s["dir"], "tok", "t{}.tok".format(s["n"]))
        store = s["store"] if s["store"].startswith("postgresql:") else \
            os.path.join(s["dir"], "store")
        self.run(["sh", self.xl, "exec", self.bin("store_bench"), "add", store,
                  str(n), path], env=s["env"])
        return path

    def xreg(self, s, n, conc, prefix, count=True):
        tok = self.tokens(s, n)
        c0 = cpu_ms(s["pids"])
        p0 = children_cpu_ms(self.pg_pid) if s["key"] == "postgresql" else 0
        p = self.run([self.bin("xreg"), "-p", str(s["port"]), "-d", DOMAIN,
                      "-n", str(n), "-c", str(conc), "-L", "-T", "120", "-t",
                      tok, "-u", prefix], timeout=300, check=False)
        c1 = cpu_ms(s["pids"])
        p1 = children_cpu_ms(self.pg_pid) if s["key"] == "postgresql" else 0
        lines = [l for l in p.stdout.splitlines() if l.startswith("flows ")]
        if not lines:
            raise RuntimeError("xreg: " + p.stderr[-400:])
        out = kv(lines[-1])
        ok = max(out["ok"], 1)
        out["j2_cpu"] = (c1 - c0) / ok
        out["pg_cpu"] = (p1 - p0) / ok
        if out["failed"]:
            self.notes.append("{} ({}): {:.0f} of {:.0f} flows failed: {}".format(
                s["key"], prefix, out["failed"], out["flows"], " / ".join(
                    l for l in p.stderr.splitlines() if "failed" in l)[:300]))
        if count:
            s["cells"].setdefault(conc, []).append(out)
        return out

    def stop(self):
        for s in self.setups:
            subprocess.run(["sh", self.xl, "stop"], env=s["env"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=120)
        if getattr(self, "pgb", None) and os.path.isdir(os.path.join(self.pg, "data")):
            subprocess.run(self.as_user([os.path.join(self.pgb, "pg_ctl"), "-D",
                                         os.path.join(self.pg, "data"), "-m",
                                         "fast", "-w", "stop"]),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not self.a.keep:
            shutil.rmtree(self.work, ignore_errors=True)

    def main(self):
        t0 = time.time()
        load0 = loadavg()
        self.setup()
        try:
            bdb = self.start("berkeley-db", os.path.join(self.work, "berkeley-db",
                                                        "store"))
            pg = self.start("postgresql", self.uri)
            for s in (bdb, pg):
                self.xreg(s, 10, 1, "w", count=False)
            loads = {}
            for conc in self.a.clients:
                for r in range(self.a.rounds):
                    order = (bdb, pg) if r % 2 == 0 else (pg, bdb)
                    for s in order:
                        try:
                            self.xreg(s, self.a.flows, conc,
                                      "c{}r{}x".format(conc, r))
                        except Exception as e:
                            self.notes.append("{}: {}".format(s["key"], e))
                loads[conc] = loadavg()
                log("{} client(s): BDB {} flows/s, PostgreSQL {} flows/s; load "
                    "{}".format(conc, *[fnum(median([x["flows_per_s"] for x in
                                                     s["cells"].get(conc, [])]))
                                        for s in (bdb, pg)], loads[conc]))
        finally:
            self.stop()
        self.report(bdb, pg, load0, loads, time.time() - t0)

    def report(self, bdb, pg, load0, loads, secs):
        L = ["## End-to-end registrations: PostgreSQL store against Berkeley DB "
             "store", "",
             "Run on {} by `make bench-pg` (bench/pg/e2e.py), {:.1f} min; load "
             "average at start {}, after the 1- and 4-client runs {}. Two "
             "copies of the same setup at once (jabberd2 2.7 + our modules via "
             "contrib/jabberd2/xmpp-local), one with a Berkeley DB store, one "
             "with `store = postgresql://...` on a PostgreSQL {} server of its "
             "own (Unix socket, default durability: fsync and "
             "synchronous_commit on). Client: bench/xreg, one flow = TCP "
             "connect, STARTTLS, TLS 1.3, pre-auth IQ with a fresh invite, "
             "XEP-0077 register, first login on a second connection; {} flows "
             "per run, {} runs per cell, the runs alternating which store goes "
             "first. jabberd2 CPU = router + sm + c2s; PostgreSQL CPU = the "
             "postmaster and its backends.".format(
                 datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), secs / 60,
                 load0, " / ".join(loads.get(c, "?") for c in self.a.clients),
                 os.path.basename(os.path.dirname(self.pgb)), self.a.flows,
                 self.a.rounds), "",
             "| store | clients | flows/s | flow p50 ms | flow p99 ms | jabberd2 CPU ms/flow | PostgreSQL CPU ms/flow | failed |",
             "|---|---|---|---|---|---|---|---|"]
        med = {}
        for s in (bdb, pg):
            for conc, runs in sorted(s["cells"].items()):
                fs = [x["flows_per_s"] for x in runs]
                med[(s["key"], conc)] = median(fs)
                L.append("| {} | {} | {} | {} | {} | {} | {} | {:.0f} of {:.0f} |"
                         .format(s["key"], conc, spread(fs),
                                 fnum(median([x["p50_ms"] for x in runs])),
                                 fnum(median([x["p99_ms"] for x in runs])),
                                 fnum(median([x["j2_cpu"] for x in runs]), 2),
                                 fnum(median([x["pg_cpu"] for x in runs]), 2)
                                 if s is pg else "–",
                                 sum(x["failed"] for x in runs),
                                 sum(x["flows"] for x in runs)))
        L += ["", "Ratio PostgreSQL / Berkeley DB (median flows/s): " + ", ".join(
            "{} client(s) {}".format(c, fnum(
                med.get(("postgresql", c), float("nan")) /
                med.get(("berkeley-db", c), float("nan")), 2))
            for c in self.a.clients) + "."]
        if self.notes:
            L += ["", "Notes:"] + ["- " + n for n in self.notes]
        L += ["", "```",
              "xmpp-local start   # store = DIR | postgresql:///postgres?host=PGDIR&user=xi&schema=invites",
              "store_bench add STORE {n} TOK; xreg -p C2S -n {n} -c 1|4 -L -T 120 -t TOK -u PREFIX"
              .format(n=self.a.flows), "```", ""]
        print("\n".join(L))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--srcdir", required=True)
    ap.add_argument("--builddir", required=True)
    ap.add_argument("--flows", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clients", default="1,4")
    ap.add_argument("--workdir")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    args.clients = [int(c) for c in args.clients.split(",")]
    if not os.path.isdir("/usr/lib/postgresql") or \
            not os.access("/usr/sbin/jabberd2-c2s", os.X_OK):
        print("(end-to-end part skipped: postgresql or jabberd2 is not installed)")
        return
    Bench(args).main()


if __name__ == "__main__":
    main()
