# SPDX-License-Identifier: MIT
"""The soak (issue 8, `make soak`; not in make check): jabberd2 with the
modules and invites-web, started by contrib/jabberd2/xmpp-local, under
registrations, first logins, invite creation (ftworker mint, invitectl
generate, the web API), revocation, purge and landing pages at once
(tests/ft/soak_load.py) for SOAK_SECONDS.  Every few seconds it samples
the resident memory and the open descriptors of router, sm, c2s and
invites-web.  Memory is VmRSS less the resident pages of the store's
shared regions (the Berkeley DB cache all processes of the store share:
it fills as the databases grow, up to the cache size, and belongs to no
process; reported apart), and RssAnon, where a heap leak shows.  After
the warm-up, a process is flat when the median of the last third of the
run is within the tolerance of the median of the second third.  Any wrong answer, a daemon that exited (its restart is in
log/xmpp-local.log) or a store that fails db5.3_verify fails the soak.

Then a shorter run (SOAK_VALGRIND_SECONDS) with sm, c2s and invites-web
under valgrind memcheck (xmpp-local's XMPP_WRAP): errors and definite or
indirect leaks whose stacks pass through our code (libinvites, the
modules, invites-web) fail it; jabberd2's own (no frame of ours) are
listed apart.

Environment:
  SOAK_SECONDS           length of the main run (default 600)
  SOAK_VALGRIND_SECONDS  length of the valgrind run (default 120; 0: none)
  SOAK_SAMPLE            seconds between samples (default 5)
  SOAK_REG_THREADS       registration threads (default 3)
  SOAK_RSS_PCT, SOAK_RSS_KB, SOAK_FDS
                         tolerance of "flat": the last third's median RSS
                         may exceed the second third's by SOAK_RSS_PCT
                         percent (default 5) or SOAK_RSS_KB kB (default
                         1024), whichever is more (RSS outside the
                         store's cache, and RssAnon, alike); descriptors
                         by SOAK_FDS
                         (default 2)
  SOAK_VALGRIND_EXIT     seconds the daemons under valgrind may take to
                         end on SIGTERM (their leak check; default 900)
  SOAK_REPORT            also write the figures as Markdown to this file
  SOAK_KEEP              keep the directory (logs, valgrind logs)
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftlib  # noqa: E402
import soak_load  # noqa: E402
from faults import Servers, sanitizer_preload  # noqa: E402

J2_C2S = "/usr/sbin/jabberd2-c2s"
NAMES = ("router", "sm", "c2s", "web")


def env_num(name, default, conv=int):
    try:
        return conv(os.environ.get(name) or default)
    except ValueError:
        return conv(default)


def store_rss_kb(pid, store):
    """Resident kB of pid's mappings of the store's shared regions
    (__db.001...): the Berkeley DB cache every process of the store
    shares.  It grows as the databases do, up to the cache size, and is
    no memory of the process's own.  Regions a recovery replaced, which
    a process may still map ("(deleted)"), are not counted here: they
    are that process's to free."""
    prefix = os.path.join(store, "__db.")
    total, inside = 0, False
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            if line[:1] in "0123456789abcdef" and "-" in line.split()[0]:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                inside = path.startswith(prefix)
            elif inside and line.startswith("Rss:"):
                total += int(line.split()[1])
    return total


class Sampler(threading.Thread):
    """(t, {name: (rss_kb outside the store's shared regions, fds,
    anonymous kB, the store's shared regions kB)}) every `every`
    seconds."""

    def __init__(self, srv, every):
        super().__init__(daemon=True)
        self.srv = srv
        self.every = every
        self.samples = []
        self.stop = False
        self.pids0 = srv.pids()
        self.changed = set()
        self.t0 = time.time()
        self.store = os.path.join(srv.dir, "store")

    def one(self):
        res = {}
        pids = self.srv.pids()
        for name, pid in pids.items():
            if pid != self.pids0.get(name):
                self.changed.add(name)
            rss = anon = None
            try:
                with open("/proc/%d/status" % pid) as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            rss = int(line.split()[1])
                        elif line.startswith("RssAnon:"):
                            anon = int(line.split()[1])
                fds = len(os.listdir("/proc/%d/fd" % pid))
                shared = store_rss_kb(pid, self.store)
            except (OSError, ValueError):
                self.changed.add(name)
                continue
            if rss is not None:
                res[name] = (rss - shared, fds, anon or 0, shared)
        self.samples.append((time.time() - self.t0, res))

    def run(self):
        while not self.stop:
            self.one()
            end = time.time() + self.every
            while not self.stop and time.time() < end:
                time.sleep(0.1)


def median(v):
    v = sorted(v)
    if not v:
        return None
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2.0


def slope_per_min(pts):
    """Least-squares slope of (t, y) per minute, or 0."""
    if len(pts) < 3:
        return 0.0
    n = float(len(pts))
    mt = sum(t for t, _ in pts) / n
    my = sum(y for _, y in pts) / n
    den = sum((t - mt) ** 2 for t, _ in pts)
    if den == 0:
        return 0.0
    return 60.0 * sum((t - mt) * (y - my) for t, y in pts) / den


def flatness(samples, duration, name):
    """For one process: (rss2, rss3, fd2, fd3, rss_slope, fd_slope, anon2,
    anon3, anon_slope) over the second and the last third (slopes after
    the warm-up, the first 20%)."""
    warm = 0.2 * duration
    s2 = [r[name] for t, r in samples
          if duration / 3.0 <= t < 2 * duration / 3.0 and name in r]
    s3 = [r[name] for t, r in samples
          if t >= 2 * duration / 3.0 and name in r]
    after = [(t, r[name]) for t, r in samples if t >= warm and name in r]
    return (median([x[0] for x in s2]), median([x[0] for x in s3]),
            median([x[1] for x in s2]), median([x[1] for x in s3]),
            slope_per_min([(t, x[0]) for t, x in after]),
            slope_per_min([(t, x[1]) for t, x in after]),
            median([x[2] for x in s2]), median([x[2] for x in s3]),
            slope_per_min([(t, x[2]) for t, x in after]))


def table(samples, duration, names, rows=10):
    """RSS outside the store's shared regions, its anonymous part, the
    store's shared regions (MB) and fds per process at `rows` times:
    medians per slice."""
    lines = ["| minute | " + " | ".join(
        "%s RSS (anon; store) MB | %s fds" % (n, n) for n in names) + " |",
        "|---:|" + "---:|---:|" * len(names)]
    for i in range(rows):
        a, b = duration * i / rows, duration * (i + 1) / rows
        sl = [r for t, r in samples if a <= t < b]
        cells = []
        for n in names:
            rss = median([r[n][0] for r in sl if n in r])
            fds = median([r[n][1] for r in sl if n in r])
            anon = median([r[n][2] for r in sl if n in r])
            shared = median([r[n][3] for r in sl if n in r])
            cells.append("%s | %s" % (
                "%.1f (%.1f; %.1f)" % (rss / 1024.0, anon / 1024.0,
                                       shared / 1024.0)
                if rss is not None else "-",
                "%g" % fds if fds is not None else "-"))
        lines.append("| %.1f | %s |" % (b / 60.0, " | ".join(cells)))
    return lines


def restarts_logged(srv):
    try:
        with open(os.path.join(srv.dir, "log", "xmpp-local.log")) as f:
            return f.read().splitlines()
    except OSError:
        return []


DAEMON_LOGS = ("sm.log", "c2s.log", "web.log")


def log_lines(srv, names):
    """(file name, line) of each of the daemons' logs in names that
    exists, in that order."""
    for fn in names:
        try:
            with open(os.path.join(srv.dir, "log", fn),
                      errors="replace") as f:
                for x in f:
                    yield fn, x
        except OSError:
            pass


def error_lines(srv, limit=20):
    """The error lines of the daemons' logs (why one exited)."""
    out = ["%s: %s" % (fn, x.strip()) for fn, x in log_lines(
        srv, ("sm.log", "sm.out", "c2s.log", "c2s.out", "web.log"))
        if "[error]" in x or ": error:" in x or "[crit]" in x]
    return out[-limit:]


def panics(srv):
    """{log file: lines that report a panicked environment}: with nothing
    killed, each says some process left from inside the store."""
    out = {}
    for fn, x in log_lines(srv, DAEMON_LOGS):
        if "PANIC" in x or "run recovery" in x:
            out[fn] = out.get(fn, 0) + 1
    return out


def died_inside(srv):
    """PIDs the daemons' failchk found dead inside Berkeley DB."""
    out = set()
    for _, x in log_lines(srv, DAEMON_LOGS):
        m = re.search(r"Thread/process (\d+)/\d+ failed", x)
        if m:
            out.add(int(m.group(1)))
    return sorted(out)


def configure(srv, extra):
    """Start, stop, add settings to invites.conf, start again (xmpp-local
    keeps an existing invites.conf; the daemons read it at start)."""
    wrap = srv.env.pop("XMPP_WRAP", None)   # (the first start: quick)
    err = srv.start()
    srv.stop()
    if wrap:
        srv.env["XMPP_WRAP"] = wrap
    if err:
        return err
    with open(srv.conf, "a") as f:
        f.write("# tests/ft/soak.py\n" + extra)
    return srv.start()


SETTINGS = ("purge_grace = 0\n"       # purge used and revoked at once
            "web_max_failures = 0\n")  # the 404 checks are no attack


class SoakServers(Servers):
    """faults.py's Servers, with a start that may take long (daemons
    under valgrind on a busy machine)."""

    start_timeout = 120

    def start(self):
        try:
            r = subprocess.run([self.xl, "start"], env=self.env,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT,
                               universal_newlines=True,
                               timeout=self.start_timeout)
        except subprocess.TimeoutExpired:
            return "xmpp-local start: still running after %d s" % (
                self.start_timeout)
        if r.returncode != 0:
            return r.stdout
        vals = {}
        with open(os.path.join(self.dir, "xmpp-local.env")) as f:
            for line in f:
                m = re.match(r"^(\w+)='(.*)'$", line.strip())
                if m:
                    vals[m.group(1)] = m.group(2)
        self.c2s_port = int(vals["XMPP_C2S_PORT"])
        self.web_port = int(vals["XMPP_WEB_PORT"]) if vals.get(
            "XMPP_WEB_PORT") else None
        user = vals.get("XMPP_USER")
        if os.getuid() == 0 and user and user != "root":
            import pwd
            pw = pwd.getpwnam(user)
            self.uid, self.gid = pw.pw_uid, pw.pw_gid
            self.wrap = ["setpriv", "--reuid=%d" % pw.pw_uid,
                         "--regid=%d" % pw.pw_gid, "--init-groups", "--"]
        else:
            self.uid, self.gid = os.getuid(), os.getgid()
        self.conf = os.path.join(self.dir, "invites.conf")
        return None


def make_servers(base, name, wrap=None):
    srv = SoakServers(None, base)
    srv.dir = os.path.join(base, name)
    srv.env["XMPP_DIR"] = srv.dir
    if wrap:
        srv.env["XMPP_WRAP"] = wrap
        srv.env["XMPP_TIMEOUT"] = "300"
        srv.env.pop("XMPP_SUPERVISE", None)
    else:
        srv.env.pop("XMPP_WRAP", None)
    return srv


def api_key(srv, env=None):
    r = subprocess.run(srv.wrap + ftlib.invitectl_cmd(
        srv.conf, "api-key", "create", "soak-%d" % os.getpid(), "--scope",
        "invites:*"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, timeout=300, env=env)
    key = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
    return key if r.returncode == 0 and key else None


def summary(tap, load, seconds, what):
    c = load.counts
    tap.diag("%s: %d registrations (%.1f/s), %d first logins, created %d "
             "(mint %d, invitectl %d, web API %d), revoked %d (invitectl "
             "%d, web API %d), %d purge runs purged %d, %d landing pages, "
             "refusals checked %d, short expiries already past at creation "
             "(invitectl exit 64) %d"
             % (what, c["registrations"], c["registrations"] / seconds,
                c["first logins"],
                c["created (mint)"] + c["created (invitectl)"] +
                c["created (web API)"], c["created (mint)"],
                c["created (invitectl)"], c["created (web API)"],
                c["revoked (invitectl)"] + c["revoked (web API)"],
                c["revoked (invitectl)"], c["revoked (web API)"],
                c["purge runs"], c["purged"], c["landing pages"],
                c["refused revoked"] + c["refused expired"],
                c["short expiry past at creation (exit 64)"]))
    n_err = sum(load.errors.values())
    tap.diag("%s: errors (unknown outcomes: io, timeouts) %d%s"
             % (what, n_err, ": " + ", ".join(
                 "%s %d" % kv for kv in sorted(load.errors.items()))
                if n_err else ""))
    return n_err


def soak(tap, base, seconds, report):
    srv = make_servers(base, "soak")
    srv.env["XMPP_PRELOAD"] = sanitizer_preload(srv.mods)
    err = configure(srv, SETTINGS)
    if not tap.ok(err is None, "xmpp-local starts jabberd2 with the modules%s"
                  ", supervised" % (" and invites-web" if srv.web else ""),
                  err):
        srv.stop()
        return
    try:
        run_soak(tap, srv, seconds, report)
    finally:
        srv.stop()


def run_soak(tap, srv, seconds, report):
    key = api_key(srv) if srv.web_port else None
    if srv.web_port:
        tap.ok(key is not None, "invitectl api-key create: a key for the "
               "web API")
    every = env_num("SOAK_SAMPLE", 5, float)
    load = soak_load.Load(srv, "s", env_num("SOAK_REG_THREADS", 3),
                          api_key=key)
    sampler = Sampler(srv, every)
    load1 = os.getloadavg()
    sampler.start()
    load.start()
    tap.diag("soak: %d s, a sample every %g s, %d load threads, nproc %d, "
             "load average at the start %.2f %.2f %.2f"
             % (seconds, every, len(load.threads), os.cpu_count(), *load1))
    loads = []
    t_end = time.time() + seconds
    while time.time() < t_end:
        time.sleep(min(30, max(0.1, t_end - time.time())))
        loads.append(os.getloadavg()[0])
        if load.wrong or sampler.changed:
            pass  # keep going: the figures of the whole run are wanted
    sampler.stop = True
    sampler.join()
    load.finish()
    sampler.one()   # after the load: nothing in flight
    names = [n for n in NAMES if any(n in r for _, r in sampler.samples)]
    tap.diag("load average (1 min) during the soak: min %.2f median %.2f "
             "max %.2f" % (min(loads), median(loads), max(loads)))
    n_err = summary(tap, load, seconds, "soak")
    tap.ok(load.counts["registrations"] > 0 and
           load.counts["first logins"] > 0 and load.counts["purge runs"] > 0
           and load.counts["revoked (invitectl)"] > 0,
           "registrations, first logins, revocations and purges all ran")
    tap.ok(not load.wrong, "no wrong answer (%d)" % len(load.wrong),
           "\n".join(load.wrong[:20]))
    rl = restarts_logged(srv)
    tap.ok(not rl and not sampler.changed,
           "no daemon exited during the soak%s" % (
               " (%s)" % ", ".join(sorted(sampler.changed))
               if sampler.changed else ""),
           "\n".join(rl[:10] + error_lines(srv)))
    for line in rl:
        tap.diag("restart: " + line)
    for line in error_lines(srv):
        tap.diag(line)
    p = panics(srv)
    tap.diag("lines reporting a panicked environment: %s"
             % (", ".join("%s %d" % kv for kv in sorted(p.items()))
                if p else "none"))
    for pid in died_inside(srv):
        what = load.procs.get(pid)
        tap.diag("failchk: process %d died inside Berkeley DB: %s" % (
            pid, "%s, exit %s, stderr: %s" % what if what else
            "not one the load started"))
    # (counted, not failed: a timeout on a loaded machine, a connection
    # refused while a daemon restarts; the restart itself fails above)
    tap.diag("unknown outcomes (io, timeouts, exit 75, 503): %d of %d "
             "registrations" % (n_err, load.counts["registrations"]))

    rss_pct = env_num("SOAK_RSS_PCT", 5, float)
    rss_kb = env_num("SOAK_RSS_KB", 1024, float)
    fd_tol = env_num("SOAK_FDS", 2, float)
    lines = table(sampler.samples[:-1], seconds, names)
    for line in lines:
        tap.diag(line)
    verdicts = []
    for n in names:
        r2, r3, f2, f3, rs, fs, a2, a3, as_ = flatness(sampler.samples[:-1], seconds, n)
        if r2 is None or r3 is None:
            tap.ok(False, "%s: samples in the second and last third" % n)
            continue
        allowed = max(r2 * rss_pct / 100.0, rss_kb)
        flat_rss = r3 - r2 <= allowed and \
            a3 - a2 <= max(a2 * rss_pct / 100.0, rss_kb)
        flat_fd = f3 - f2 <= fd_tol
        line = ("%s: RSS outside the store's shared cache, median %.0f "
                "kB (2nd third) -> %.0f kB (last "
                "third), %+.0f kB (allowed %+.0f), slope after warm-up "
                "%+.1f kB/min (anonymous %.0f -> %.0f kB, %+.1f kB/min); "
                "fds %g -> %g (allowed %+g), slope %+.2f/min"
                % (n, r2, r3, r3 - r2, allowed, rs, a2, a3, as_, f2, f3,
                   fd_tol, fs))
        verdicts.append(line)
        if srv.env.get("XMPP_PRELOAD") and n != "router":
            # AddressSanitizer keeps freed memory in its quarantine (up to
            # 256 MB) and maps shadow memory: RSS says nothing there
            tap.ok(flat_fd, "flat after warm-up (descriptors only: built "
                   "with sanitizers): " + line)
        else:
            tap.ok(flat_rss and flat_fd, "flat after warm-up: " + line)
    last = sampler.samples[-1][1]
    tap.diag("after the load stopped (RSS outside the store's shared "
             "cache): " + ", ".join(
                 "%s %d kB (anonymous %d kB; store cache %d kB) %d fds"
                 % (n, last[n][0], last[n][2], last[n][3], last[n][1])
                 for n in names if n in last))

    dest = os.path.join(srv.dir, "ft-verify")
    ok, detail = ftlib.backup_and_verify(srv.conf, dest, wrap=srv.wrap)
    tap.ok(ok, "db5.3_verify is clean on a hot backup after the soak",
           detail)
    if report:
        with open(report, "a") as f:
            f.write("## Soak: %d s\n\n" % seconds)
            f.write("nproc %d; load average (1 min) during the run: min "
                    "%.2f, median %.2f, max %.2f\n\n"
                    % (os.cpu_count(), min(loads), median(loads),
                       max(loads)))
            f.write("\n".join(lines) + "\n\n")
            for v in verdicts:
                f.write("- %s\n" % v)
            c = load.counts
            f.write("\nregistrations %d (%.1f/s), first logins %d, "
                    "errors %d, wrong answers %d\n\n"
                    % (c["registrations"], c["registrations"] / seconds,
                       c["first logins"], n_err, len(load.wrong)))
            f.write("daemon restarts (log/xmpp-local.log): %d\n\n" % len(rl))
            for line in rl + error_lines(srv):
                f.write("    %s\n" % line)
            for line in load.wrong[:20]:
                f.write("    wrong: %s\n" % line)
            f.write("\n")


# ---- valgrind --------------------------------------------------------

OURS = re.compile(r"authreg_invites|mod_invites|libinvites|invites-web|"
                  r"\b(src|web|plugin/jabberd2)/[a-z0-9_]+\.c|"
                  r"\((?:apikey|config|errors|ft|import[a-z_]*|invite|jid|"
                  r"libinvites|proto_[a-z]+|record|store[a-z_]*|token|uri|"
                  r"util|xml|xml_write|authreg_invites|mod_invites|"
                  r"j2common|api|apps|http|keys|limit|main|pages|qr|"
                  r"register|tmpl)\.c:\d+\)")
KIND = re.compile(r"are (definitely|indirectly) lost|^(Invalid|Conditional|"
                  r"Use of uninitialised|Syscall param|Mismatched|"
                  r"Source and destination|Argument|Invalid free)")


def vg_blocks(path):
    """The error and leak records of a valgrind log: (kind, text)."""
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return None, []
    body = [re.sub(r"^==\d+== ?", "", x) for x in lines]
    cmd = next((x[len("Command: "):] for x in body
                if x.startswith("Command: ")), "?")
    blocks, cur = [], []
    for x in body + [""]:
        if x.strip() == "":
            if cur:
                blocks.append(cur)
            cur = []
        else:
            cur.append(x)
    res = []
    for b in blocks:
        while b and re.match(r"Thread \d+", b[0]):
            b = b[1:]
        if not b:
            continue
        m = KIND.search(b[0])
        if not m:
            continue
        kind = ("leak (%s)" % m.group(1)) if m.group(1) else "error"
        res.append((kind, "\n".join(b)))
    return cmd, res


FRAME = re.compile(r"^\s+(?:at|by) 0x[0-9A-Fa-f]+: (.*)$")
VG_ALLOC = re.compile(r"vgpreload|^(malloc|calloc|realloc|free|operator "
                      r"new|memalign|posix_memalign)\b")


# the C library's system call wrappers and string functions, where a
# "Syscall param ... uninitialised" or a "Conditional jump" is reported
LIBC = re.compile(r"libc\.so|^(__libc_)?(p?write|p?read|fsync|fdatasync|"
                  r"mem(cpy|move|set|cmp)|str[a-z]*|index)(64)? ")


def in_libdb_first(block):
    """An error (not a leak) whose innermost frames, down to the first
    frame of ours, are all in Berkeley DB: libdb's own (its uninitialised
    reads and writes are a known harmless kind: Berkeley DB has a
    configure switch, --enable-umrw, to silence them), reached through a
    call of ours."""
    frames = [m.group(1) for m in map(FRAME.match, block.splitlines()) if m]
    frames = [f for f in frames if not VG_ALLOC.search(f)]
    for f in frames:
        if OURS.search(f):
            return False
        if "libdb-" in f:
            return True
        if not LIBC.search(f):
            return False
    return False


def which_daemon(cmd):
    for n, pat in (("sm", "jabberd2-sm"), ("c2s", "jabberd2-c2s"),
                   ("web", "invites-web")):
        if pat in cmd:
            return n
    return "?"


def valgrind_run(tap, base, seconds, report):
    vg = shutil.which("valgrind")
    srv = make_servers(base, "vg")
    if not vg:
        tap.ok(True, "# SKIP valgrind run: valgrind is not installed")
        return
    if sanitizer_preload(srv.mods):
        tap.ok(True, "# SKIP valgrind run: the modules were built with "
               "sanitizers (configure without --enable-sanitizers)")
        return
    wrap = ("%s --leak-check=full --errors-for-leak-kinds=definite,"
            "indirect --show-leak-kinds=definite,indirect --error-exitcode=99"
            " --keep-debuginfo=yes --num-callers=30 --log-file=log/vg-%%p.log"
            % vg)
    srv.env["XMPP_WRAP"] = wrap
    srv.env["XMPP_TIMEOUT"] = "600"
    srv.start_timeout = 1500
    # our code's monotonic clock slowed down as valgrind slows everything
    # (tests/ft/soak_slowclock.c): else the store's hang monitor takes
    # slow calls for hung ones and the daemons leave
    # (invitectl and ftworker too: they wait for the slow daemons)
    shim = os.path.join(ftlib.BUILDDIR, "tests", "ft", "soak_slowclock.so")
    tool_env = None
    if os.path.exists(shim):
        srv.env["XMPP_PRELOAD"] = os.path.abspath(shim)
        tool_env = dict(os.environ, LD_PRELOAD=os.path.abspath(shim))
    else:
        tap.diag("%s was not built (make soak builds it): the hang "
                 "monitor runs on the real clock under valgrind" % shim)
    err = configure(srv, SETTINGS)
    if not tap.ok(err is None, "xmpp-local starts sm, c2s%s under valgrind"
                  % (" and invites-web" if srv.web else ""), err):
        srv.stop()
        return
    exited = {}
    rl = []
    try:
        key = api_key(srv, tool_env) if srv.web_port else None
        load = soak_load.Load(srv, "v", 2, xmpp_timeout=60.0, api_key=key)
        load.env = tool_env
        load.start()
        time.sleep(seconds)
        load.finish()
        n_err = summary(tap, load, seconds, "valgrind run")
        # (no more restarts: the supervisor leaves when this file is gone)
        try:
            os.unlink(os.path.join(srv.dir, "run", "supervise"))
        except OSError:
            pass
        time.sleep(1)
        rl = restarts_logged(srv)
        tap.ok(load.counts["registrations"] > 0 and not load.wrong,
               "valgrind run: registrations went through, no wrong answer",
               "\n".join(load.wrong[:20]))
        # Under valgrind every call is 20 to 50 times slower: the store's
        # hang monitor may take a slow call for one blocked behind a dead
        # process, and the daemon leaves to be restarted.  Reported, not
        # failed here (the main soak fails on it); valgrind's logs of
        # every incarnation are read below.
        tap.diag("valgrind run: daemon restarts %d%s" % (
            len(rl), "".join("\n  " + x for x in rl + error_lines(srv))))
        pids1 = srv.pids()
        # SIGTERM and wait: valgrind writes its leak check at the exit.
        # That check scans every mapping, the store's regions included
        # (80 MB mapped in each process), which on a busy machine took
        # minutes.
        for n in ("web", "c2s", "sm"):
            if pids1.get(n):
                try:
                    os.kill(pids1[n], signal.SIGTERM)
                except ProcessLookupError:
                    pass
        end = time.time() + env_num("SOAK_VALGRIND_EXIT", 900)
        t_term = time.time()
        for n in ("web", "c2s", "sm"):
            pid = pids1.get(n)
            if not pid:
                continue
            while os.path.exists("/proc/%d" % pid) and time.time() < end:
                try:
                    with open("/proc/%d/status" % pid) as f:
                        if re.search(r"^State:\s+Z", f.read(), re.M):
                            break
                except OSError:
                    break
                time.sleep(0.2)
            try:
                with open("/proc/%d/status" % pid) as f:
                    exited[n] = bool(re.search(r"^State:\s+Z", f.read(),
                                               re.M))
            except OSError:
                exited[n] = True
        tap.diag("valgrind run: the daemons took %d s to end on SIGTERM"
                 % (time.time() - t_term))
    finally:
        srv.stop()
    tap.ok(all(exited.values()), "valgrind run: the daemons ended on "
           "SIGTERM (%s)" % ", ".join("%s %s" % (n, "yes" if v else "no")
                                      for n, v in sorted(exited.items())))
    logdir = os.path.join(srv.dir, "log")
    ours, theirs, libdb = [], [], []
    seen = set()
    per = {}
    for fn in sorted(os.listdir(logdir)):
        if not re.match(r"vg-\d+\.log$", fn):
            continue
        cmd, blocks = vg_blocks(os.path.join(logdir, fn))
        n = which_daemon(cmd)
        seen.add(n)
        with open(os.path.join(logdir, fn), errors="replace") as f:
            text = f.read()
        m = re.search(r"ERROR SUMMARY: (\d+) errors", text)
        per[n] = "%s errors" % (m.group(1) if m else "no summary (killed?)")
        for kind, b in blocks:
            if not OURS.search(b):
                theirs.append((n, kind, b))
            elif kind == "error" and in_libdb_first(b):
                libdb.append((n, kind, b))
            else:
                ours.append((n, kind, b))
    tap.diag("valgrind logs: " + ", ".join(
        "%s: %s" % kv for kv in sorted(per.items())))
    for what, lst in (("ours", ours), ("jabberd2's own (no frame of ours)",
                                       theirs),
                      ("Berkeley DB's own, inside libdb below a call of "
                       "ours (uninitialised reads: --enable-umrw)", libdb)):
        tap.diag("valgrind records, %s: %d" % (what, len(lst)))
        for n, kind, b in lst[:10]:
            tap.diag("--- %s, %s:" % (n, kind))
            tap.diag("\n".join(b.splitlines()[:16]))
    expect = {"sm", "c2s"} | ({"web"} if srv.web else set())
    tap.ok(expect <= seen and all("no summary" not in v
                                  for v in per.values()),
           "valgrind run: a complete log of each of %s"
           % ", ".join(sorted(expect)))
    tap.ok(not ours, "valgrind: no error and no definite or indirect leak "
           "through our code (%d; jabberd2's own: %d; inside libdb: %d)"
           % (len(ours), len(theirs), len(libdb)))
    if report:
        with open(report, "a") as f:
            f.write("## Valgrind run: %d s\n\n" % seconds)
            c = load.counts
            f.write("registrations %d, first logins %d, errors %d; %s\n\n"
                    % (c["registrations"], c["first logins"], n_err,
                       ", ".join("%s: %s" % kv for kv in sorted(per.items()))))
            f.write("records through our code: %d; jabberd2's own: %d; "
                    "inside libdb below a call of ours: %d; daemon restarts "
                    "during the run: %d\n\n"
                    % (len(ours), len(theirs), len(libdb), len(rl)))
            for line in rl + error_lines(srv):
                f.write("    %s\n" % line)
            f.write("\n")
            for n, kind, b in ours + theirs + libdb:
                f.write("    %s, %s (%s):\n" % (
                    n, kind, "ours" if (n, kind, b) in ours else
                    "jabberd2" if (n, kind, b) in theirs else "libdb"))
                for line in b.splitlines()[:12]:
                    f.write("      %s\n" % line)
                f.write("\n")


def main():
    tap = ftlib.Tap()
    for p in (ftlib.INVITECTL, ftlib.FTWORKER):
        if not os.access(p, os.X_OK):
            ftlib.skip_all("%s was not built" % p)
    if not os.access(J2_C2S, os.X_OK):
        ftlib.skip_all("jabberd2 is not installed")
    mods = os.path.join(ftlib.BUILDDIR, "plugin", "jabberd2", ".libs")
    for m in ("authreg_invites.so", "mod_invites.so"):
        if not os.path.exists(os.path.join(mods, m)):
            ftlib.skip_all("%s was not built" % m)
    seconds = env_num("SOAK_SECONDS", 600)
    vg_seconds = env_num("SOAK_VALGRIND_SECONDS", 120)
    report = os.environ.get("SOAK_REPORT")
    if report:
        open(report, "w").close()
    base = tempfile.mkdtemp(prefix="xi-soak.")
    os.chmod(base, 0o755)
    try:
        if seconds > 0:
            soak(tap, base, seconds, report)
        if vg_seconds > 0:
            valgrind_run(tap, base, vg_seconds, report)
    finally:
        if os.environ.get("SOAK_KEEP"):
            tap.diag("kept %s" % base)
        else:
            shutil.rmtree(base, ignore_errors=True)
    sys.exit(tap.done())


if __name__ == "__main__":
    main()
