# SPDX-License-Identifier: MIT
"""Fault injection (issue 8): at least 200 trials, each SIGKILLing one
process at a random moment while the others work on the same invite
store, then checking that nothing was lost, nothing consumed works again,
every survivor went on, and db5.3_verify is clean.

Victims:
  - a consumer daemon (tests/ft/ftworker: INVITES_OPEN_DAEMON, as c2s and
    sm open the store), in the middle of its creates and consumes;
  - invitectl during generate, revoke and purge;
  - with jabberd2 installed: c2s or sm with the modules loaded, under
    registration load over XMPP (tests/ft/xmppload.py), run by
    contrib/jabberd2/xmpp-local with XMPP_SUPERVISE=1, which restarts them;
  - with invites-web built: invites-web under HTTP load (this script is
    its supervisor).

After each kill every surviving process must make progress again within
one second, or have exited (a call blocked behind the dead process:
INVITES_EXIT_HANG) and been restarted; every acknowledged invite must be
there, every acknowledged consume and revoke must hold (ftworker check),
and a hot backup must pass db5.3_verify.  The summary line gives trials,
kills, the longest stall and the losses.

Environment: FT_TRIALS (default 200: 150 library-level, then 50 with the
servers when they can run), FT_SEED, FT_VERIFY_EVERY (db5.3_verify after
every Nth trial, default 1), FT_KEEP (keep the directory).
"""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftlib  # noqa: E402
from ftlib import (H_BAD, H_ERRORS, H_HANG_EXITS, H_N, H_OPS,  # noqa: E402
                   now_ms)

STALL_MS = 1000


class Timed(subprocess.Popen):
    """A process whose end is timed by a thread of its own."""

    def __init__(self, args, **kw):
        super().__init__(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True, **kw)
        self.end = None
        self.out = ""
        self.th = threading.Thread(target=self._timer, daemon=True)
        self.th.start()

    def _timer(self):
        self.out, self.err = self.communicate()
        self.end = now_ms()

    def finish(self, timeout):
        self.th.join(timeout)
        if self.th.is_alive():
            self.kill()
            self.th.join()
            return None
        return self.out


class Driver:
    def __init__(self, tap, base, seed):
        self.tap = tap
        self.base = base
        self.rng = random.Random(seed)
        self.trials = 0
        self.kills = 0
        self.by_victim = {}
        self.longest = 0
        self.longest_what = "-"
        self.restarted = 0
        self.longest_restart = 0
        self.stalls = []
        self.stall_failures = []
        self.lost = 0
        self.revived = 0
        self.check_failures = []
        self.verify_runs = 0
        self.verify_failures = []
        self.cli_exits = {}
        self.tokens = {}         # the driver's invites: token -> state
        self.ids = {}            # token -> id
        self.listfile = os.path.join(base, "driver-tokens")
        self.verify_every = int(os.environ.get("FT_VERIFY_EVERY", "1"))

    # ---- bookkeeping ----

    def stall(self, what, ms, restarted=False, shm=None, workers=None):
        """A survivor's time from the kill to its next success."""
        if ms is None:
            self.stall_failures.append("trial %d: %s: no progress%s" % (
                self.trials, what, " after its restart" if restarted else ""))
            if workers is not None:
                self.stall_failures.append(ftlib.describe(
                    shm, workers, int(what.split()[-1])))
            return
        if restarted:
            self.restarted += 1
            if ms > self.longest_restart:
                self.longest_restart = ms
            return
        self.stalls.append(ms)
        if ms > self.longest:
            self.longest = ms
            self.longest_what = what
        if ms > STALL_MS:
            self.stall_failures.append("%s: %d ms" % (what, ms))

    def write_list(self):
        with open(self.listfile, "w") as f:
            for t, s in self.tokens.items():
                if s in ("created", "consumed", "revoked"):
                    f.write("%s %s\n" % (t, s))

    def end_trial(self, shm, conf, since, wrap=None, env=None):
        self.write_list()
        rc, counts, err = ftlib.run_check(shm, conf, since, self.listfile,
                                          wrap=wrap)
        if rc != 0:
            self.lost += counts.get("lost", 0)
            self.revived += counts.get("revived", 0)
            self.check_failures.append("trial %d: %s" % (self.trials,
                                                         err.strip()[:500]))
        if self.verify_every > 0 and self.trials % self.verify_every == 0:
            self.verify_runs += 1
            dest = os.path.join(self.base, "verify-%d" % self.trials)
            ok, detail = ftlib.backup_and_verify(conf, dest, wrap=wrap,
                                                 env=env)
            if not ok:
                self.verify_failures.append("trial %d: %s" % (self.trials,
                                                              detail))

    # ---- invitectl ----

    def cli_args(self, conf, domain):
        created = [t for t, s in self.tokens.items() if s == "created"]
        r = self.rng.random()
        if r < 0.45 or not created:
            return "generate", ftlib.invitectl_cmd(conf, "generate", domain,
                                                   "--json"), None
        if r < 0.75:
            t = self.rng.choice(created)
            return "revoke", ftlib.invitectl_cmd(conf, "revoke",
                                                 self.ids[t]), t
        return "purge", ftlib.invitectl_cmd(conf, "purge"), None

    def cli_done(self, kind, token, p, out):
        """Record what a finished invitectl run acknowledged."""
        rc = p.returncode
        self.cli_exits[rc] = self.cli_exits.get(rc, 0) + 1
        if kind == "generate" and rc == 0:
            try:
                inv = json.loads(out)
                self.tokens[inv["token"]] = "created"
                self.ids[inv["token"]] = inv["id"]
            except (ValueError, KeyError):
                self.check_failures.append("generate printed no JSON")
        elif kind == "revoke":
            if rc == 0:
                self.tokens[token] = "revoked"
            elif rc in (75, 74, 70):
                self.tokens[token] = "unknown"
            elif rc == 1:
                # "already revoked" is possible only after an unknown one
                self.tokens[token] = "unknown"

    def wait_cli(self, p, t, kind):
        """A surviving invitectl: it ends within a second of the kill
        (or leaves through its hang handler, exit 75: the admin runs it
        again)."""
        out = p.finish(10)
        if out is None:
            self.stall_failures.append("invitectl %s: still running after "
                                       "10 s" % kind)
            return ""
        self.stall("invitectl %s" % kind, max(0, p.end - t),
                   p.returncode == 75)
        return out

    def cli_killed(self, kind, token):
        if kind == "revoke":
            self.tokens[token] = "unknown"


def library_phase(d, n_trials, wrap=None, env=None):
    """Trials with library-level workers and invitectl only."""
    tap = d.tap
    work = os.path.join(d.base, "lib")
    os.makedirs(work)
    conf = os.path.join(work, "invites.conf")
    with open(conf, "w") as f:
        f.write("store = %s/store\ndomains = example.com\n" % work)
    r = subprocess.run(ftlib.invitectl_cmd(conf, "generate", "example.com",
                                           "--json"),
                       stdout=subprocess.PIPE, universal_newlines=True)
    if r.returncode != 0:
        tap.ok(False, "invitectl can create the store")
        return
    shm = ftlib.Shm(os.path.join(work, "shm"))
    nw = 3
    workers = ftlib.Workers(shm, conf, work)
    for w in range(nw):
        workers.start(w)
    t0 = time.time()
    while sum(shm.get(w, H_OPS) for w in range(nw)) < 30 * nw:
        if time.time() - t0 > 20:
            break
        workers.reap()
        time.sleep(0.01)
    tap.ok(all(shm.get(w, H_OPS) > 0 for w in range(nw)),
           "the library-level workers are working")

    for _ in range(n_trials):
        d.trials += 1
        start = now_ms()
        if d.rng.random() < 0.4:
            # a consumer daemon, in the middle of its work; an invitectl
            # runs beside it (a survivor too)
            victim = d.rng.randrange(nw)
            kind, args, token = d.cli_args(conf, "example.com")
            time.sleep(d.rng.uniform(0.0, 0.15))
            survivors = [w for w in range(nw) if w != victim]
            t = now_ms()
            ftlib.mark(shm, survivors, t)
            cli = Timed(args)
            time.sleep(d.rng.uniform(0.0, 0.004))
            workers.kill(victim)
            d.kills += 1
            d.by_victim["worker"] = d.by_victim.get("worker", 0) + 1
            workers.start(victim)
            res = ftlib.wait_progress(shm, workers, survivors, t)
            for w, (ms, rs) in res.items():
                d.stall("worker %d" % w, ms, rs, shm, workers)
            out = d.wait_cli(cli, t, kind)
            d.cli_done(kind, token, cli, out)
        else:
            # invitectl during generate, revoke or purge
            kind, args, token = d.cli_args(conf, "example.com")
            p = subprocess.Popen(args, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE,
                                 universal_newlines=True)
            time.sleep(d.rng.uniform(0.0, 0.010))
            if p.poll() is None:
                t = now_ms()
                ftlib.mark(shm, range(nw), t)
                p.send_signal(signal.SIGKILL)
                p.communicate()
                d.kills += 1
                key = "invitectl " + kind
                d.by_victim[key] = d.by_victim.get(key, 0) + 1
                d.cli_killed(kind, token)
                res = ftlib.wait_progress(shm, workers, range(nw), t)
                for w, (ms, rs) in res.items():
                    d.stall("worker %d" % w, ms, rs, shm, workers)
            else:
                out, _ = p.communicate()
                d.cli_done(kind, token, p, out)
        workers.reap()
        d.end_trial(shm, conf, start - 2000, wrap=wrap, env=env)
    bad = sum(shm.get(w, H_BAD) for w in range(nw))
    hangs = sum(shm.get(w, H_HANG_EXITS) for w in range(nw))
    errors = sum(shm.get(w, H_ERRORS) for w in range(nw))
    ops = sum(shm.get(w, H_OPS) for w in range(nw))
    workers.stop()
    tap.diag("library phase: %d worker operations, %d failed calls "
             "(store recovering), %d hang exits, %d restarts, exits %s"
             % (ops, errors, hangs, workers.restarts, workers.exits))
    tap.ok(bad == 0, "no worker was told a wrong answer about an "
           "acknowledged invite (%d)" % bad)
    rc, counts, err = ftlib.run_check(shm, conf, 0, d.listfile)
    tap.ok(rc == 0, "full check of every acknowledged operation: %s"
           % " ".join("%s %s" % kv for kv in sorted(counts.items())), err)
    shm.close()


def main():
    tap = ftlib.Tap()
    for p in (ftlib.INVITECTL, ftlib.FTWORKER):
        if not os.access(p, os.X_OK):
            ftlib.skip_all("%s was not built" % p)
    seed = int(os.environ.get("FT_SEED") or (int(time.time()) ^ os.getpid()))
    trials = int(os.environ.get("FT_TRIALS", "200"))
    tap.diag("FT_SEED=%d" % seed)
    base = tempfile.mkdtemp(prefix="xi-faults.")
    os.chmod(base, 0o755)
    d = Driver(tap, base, seed)
    try:
        library_phase(d, trials)
    finally:
        if os.environ.get("FT_KEEP"):
            tap.diag("kept %s" % base)
        else:
            shutil.rmtree(base, ignore_errors=True)
    tap.diag("trials %d kills %d longest_stall_ms %d (%s) losses %d "
             "revived %d verify_runs %d"
             % (d.trials, d.kills, d.longest, d.longest_what, d.lost,
                d.revived, d.verify_runs))
    st = sorted(d.stalls) or [0]
    tap.diag("survivor stalls: %d measured, median %d ms, p90 %d ms, p99 %d "
             "ms, max %d ms" % (len(d.stalls), st[len(st) // 2],
                                st[int(len(st) * 0.9)],
                                st[min(len(st) - 1, int(len(st) * 0.99))],
                                st[-1]))
    tap.diag("survivors that exited (hang) and were restarted: %d, the "
             "longest until their restart made progress: %d ms"
             % (d.restarted, d.longest_restart))
    tap.diag("kills by victim: %s" % ", ".join(
        "%s %d" % kv for kv in sorted(d.by_victim.items())))
    tap.diag("invitectl exit statuses: %s" % d.cli_exits)
    tap.ok(d.trials >= trials, "%d trials" % d.trials)
    tap.ok(not d.stall_failures, "every survivor made progress within %d ms "
           "of each kill, or exited and was restarted (longest stall %d ms)"
           % (STALL_MS, d.longest), "\n".join(d.stall_failures))
    tap.ok(d.lost == 0 and d.revived == 0 and not d.check_failures,
           "no acknowledged invite lost, no consumed or revoked one usable "
           "again (%d lost, %d revived)" % (d.lost, d.revived),
           "\n".join(d.check_failures))
    tap.ok(not d.verify_failures, "db5.3_verify is clean on %d hot backups"
           % d.verify_runs, "\n".join(d.verify_failures))
    sys.exit(tap.done())


if __name__ == "__main__":
    main()
