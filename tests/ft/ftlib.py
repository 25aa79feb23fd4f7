# SPDX-License-Identifier: MIT
"""Shared pieces of the fault-tolerance tests (faults.py, soak.py): TAP
output, the workers' shared memory (tests/ft/ftworker.c), supervised
worker processes, invitectl runs, and the checks every trial ends with:
the acknowledged operations (ftworker check) and db5.3_verify on a hot
backup (invitectl backup)."""

import mmap
import os
import shutil
import signal
import struct
import subprocess
import sys
import time

SRCDIR = os.environ.get("top_srcdir") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILDDIR = os.environ.get("top_builddir") or os.getcwd()
INVITECTL = os.path.join(BUILDDIR, "invitectl")
# libtool's wrapper script costs a shell and several programs per run, which
# under load takes longer than invitectl itself: run the binary directly.
_LIBS = os.path.join(BUILDDIR, ".libs")
if os.access(os.path.join(_LIBS, "invitectl"), os.X_OK):
    INVITECTL = os.path.join(_LIBS, "invitectl")
    os.environ["LD_LIBRARY_PATH"] = _LIBS + (
        ":" + os.environ["LD_LIBRARY_PATH"]
        if os.environ.get("LD_LIBRARY_PATH") else "")
FTWORKER = os.path.join(BUILDDIR, "tests", "ft", "ftworker")
WEB = os.path.join(BUILDDIR, "invites-web")
DB_VERIFY = os.environ.get("DB_VERIFY") or shutil.which("db5.3_verify")
EXIT_HANG = 86
# the stanza errors a store failure may give a registration (the engine's
# temporary answer, protocol.md row 12), never a "your invite is bad"
STORE_ERRORS = ("internal-server-error", "resource-constraint",
                "service-unavailable", "remote-server-timeout")

# ftworker.c's layout
FT_WORKERS, FT_HDR, FT_SLOTS, FT_SLOT = 8, 128, 50000, 64
(H_PID, H_OPS, H_LAST_OK, H_ERRORS, H_N, H_NEXT, H_MARK, H_FIRST_AFTER,
 H_HANG_EXITS, H_BAD, H_STOP, H_MAX_GAP, H_STARTS, H_OPEN_FAILS) = range(14)


def now_ms():
    return int(time.clock_gettime(time.CLOCK_MONOTONIC) * 1000)


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, detail=None):
        self.n += 1
        if not cond:
            self.failed += 1
        print("%s %d - %s" % ("ok" if cond else "not ok", self.n, name))
        if not cond and detail:
            for line in str(detail).splitlines()[:400]:
                print("#   " + line)
        sys.stdout.flush()
        return cond

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
    sys.exit(0)


class Shm:
    """The workers' headers and slots (read and marked by the driver)."""

    def __init__(self, path):
        self.path = path
        size = FT_WORKERS * FT_HDR + FT_WORKERS * FT_SLOTS * FT_SLOT
        with open(path, "wb") as f:
            f.truncate(size)
        os.chmod(path, 0o666)
        self.f = open(path, "r+b")
        self.m = mmap.mmap(self.f.fileno(), size)

    def get(self, w, field):
        return struct.unpack_from("<q", self.m, w * FT_HDR + 8 * field)[0]

    def set(self, w, field, v):
        struct.pack_into("<q", self.m, w * FT_HDR + 8 * field, v)

    def close(self):
        self.m.close()
        self.f.close()


class Workers:
    """ftworker processes, each restarted when it exits (a supervisor)."""

    def __init__(self, shm, conf, logdir, domain="example.com", wrap=None,
                 env=None):
        self.shm = shm
        self.conf = conf
        self.logdir = logdir
        self.domain = domain
        self.wrap = wrap or []
        self.env = env
        self.procs = {}
        self.exits = {}      # status -> count
        self.restarts = 0

    def start(self, w):
        log = open(os.path.join(self.logdir, "worker%d.log" % w), "ab")
        self.procs[w] = subprocess.Popen(
            self.wrap + [FTWORKER, "run", self.shm.path, str(w), self.conf,
                         self.domain],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=self.env)
        log.close()

    def reap(self):
        """Restart the workers that exited; returns how many did."""
        n = 0
        for w, p in list(self.procs.items()):
            rc = p.poll()
            if rc is None:
                continue
            self.exits[rc] = self.exits.get(rc, 0) + 1
            self.restarts += 1
            n += 1
            self.start(w)
        return n

    def kill(self, w):
        p = self.procs[w]
        try:
            os.kill(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()

    def stop(self):
        for w in self.procs:
            self.shm.set(w, H_STOP, 1)
        deadline = time.time() + 15
        for w, p in self.procs.items():
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = {}


def mark(shm, ws, t):
    """A kill at t: each worker in ws notes its first success after it."""
    for w in ws:
        shm.set(w, H_MARK, 0)
        shm.set(w, H_FIRST_AFTER, 0)
        shm.set(w, H_MARK, t)


def wait_progress(shm, workers, ws, t, timeout=5.0):
    """Per worker in ws: (ms, restarted): ms from t to its first success
    after t (None when none came within timeout); restarted when it
    exited meanwhile (a hang exit) and was restarted: ms is then the time
    until its new incarnation succeeded."""
    res = {}
    restarted = set()
    deadline = time.time() + timeout
    pending = set(ws)
    while pending and time.time() < deadline:
        for w in list(pending):
            fa = shm.get(w, H_FIRST_AFTER)
            if fa != 0:
                res[w] = (fa - t, w in restarted)
                pending.discard(w)
            elif workers.procs[w].poll() is not None:
                restarted.add(w)
        workers.reap()
        time.sleep(0.003)
    for w in pending:
        res[w] = (None, w in restarted)
    return res


def describe(shm, workers, w):
    """One line about worker w, and its threads' stacks when gdb is there
    (FT_GDB=1): for a worker that made no progress."""
    p = workers.procs.get(w)
    line = ("worker %d: pid %s %s, ops %d, errors %d, open failures %d, "
            "hang exits %d" % (w, p.pid if p else "-",
                               "running" if p and p.poll() is None
                               else "exited",
                               shm.get(w, H_OPS), shm.get(w, H_ERRORS),
                               shm.get(w, H_OPEN_FAILS),
                               shm.get(w, H_HANG_EXITS)))
    if os.environ.get("FT_GDB") and p and p.poll() is None and \
            shutil.which("gdb"):
        r = subprocess.run(["gdb", "-p", str(p.pid), "-batch", "-ex",
                            "thread apply all bt"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL,
                           universal_newlines=True, timeout=60)
        frames = [x for x in r.stdout.splitlines()
                  if x.startswith("#") or x.startswith("Thread")]
        frames = [x for x in frames if "futex" not in x and "nptl" not in x]
        line += "\n" + "\n".join(f[:160] for f in frames[:60])
    return line


def stacks(pid, limit=80, per_thread=10):
    """The threads' stacks of pid (gdb, FT_GDB=1), for a failure report:
    the first per_thread frames of each that gdb can name."""
    if not os.environ.get("FT_GDB") or not shutil.which("gdb"):
        return ""
    r = subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex",
                        "thread apply all bt"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, universal_newlines=True,
                       timeout=60)
    out, n = [], 0
    for x in r.stdout.splitlines():
        if x.startswith("Thread"):
            out.append(x)
            n = 0
        elif x.startswith("#") and "?? ()" not in x and n < per_thread:
            out.append(x)
            n += 1
    return "\n".join(f[:160] for f in out[:limit])


def invitectl_cmd(conf, *args):
    return [INVITECTL, "--config", conf] + list(args)


def run_check(shm, conf, since, listfile, wrap=None):
    r = subprocess.run((wrap or []) + [FTWORKER, "check", shm.path, conf,
                                        str(since), listfile],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=120)
    words = r.stdout.split()
    counts = {}
    for i in range(0, len(words) - 1, 2):
        try:
            counts[words[i]] = int(words[i + 1])
        except ValueError:
            pass
    return r.returncode, counts, r.stderr


def backup_and_verify(conf, dest, wrap=None, env=None):
    """invitectl backup into dest, then db5.3_verify on each database file
    of the copy.  Returns (ok, detail)."""
    # Exit 75 (EX_TEMPFAIL) says "blocked by a process that died inside
    # the store; run it again": a survivor's hang exit can leave the store
    # that way for a moment.  The admin runs it again; so does this.
    for attempt in range(3):
        shutil.rmtree(dest, ignore_errors=True)
        r = subprocess.run((wrap or []) + invitectl_cmd(conf, "backup", dest),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=120, env=env)
        if r.returncode != 75:
            break
    if r.returncode != 0:
        return False, "invitectl backup: exit %d: %s" % (r.returncode,
                                                        r.stderr.strip())
    bad = []
    if DB_VERIFY:
        for name in sorted(os.listdir(dest)):
            if not name.endswith(".db"):
                continue
            v = subprocess.run([DB_VERIFY, "-q", os.path.join(dest, name)],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT,
                               universal_newlines=True, timeout=60)
            if v.returncode != 0:
                bad.append("%s: %s" % (name, v.stdout.strip()))
    shutil.rmtree(dest, ignore_errors=True)
    return not bad, "\n".join(bad)


def suppress_bdb_leaks(base):
    """Under the sanitizers: Berkeley DB does not free its handles' memory
    once the environment panicked (a process killed inside it, a damaged
    page, a full disk), and the library leaves the handles of a call
    blocked behind a dead process on purpose; those are Berkeley DB's
    allocations, in processes about to exit.  LeakSanitizer is told to
    ignore leaks allocated inside libdb only: every other test still
    catches a handle we forget to close."""
    supp = os.path.join(base, "lsan.supp")
    with open(supp, "w") as f:
        f.write("leak:libdb-5.3.so\n")
    os.chmod(supp, 0o644)
    os.environ["LSAN_OPTIONS"] = ":".join(
        x for x in (os.environ.get("LSAN_OPTIONS"),
                    "suppressions=" + supp, "print_suppressions=0") if x)
