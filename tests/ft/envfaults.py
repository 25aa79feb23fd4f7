# SPDX-License-Identifier: MIT
"""Environmental faults of the invite store (issue 8): a full disk, a
read-only store, a missing store directory, wrong permissions, a file of
another program where the store should be, a damaged database page.

For each cause, every invitectl command (generate, list, revoke, stats,
check, purge, verify, backup) must fail with one clear line on stderr that
names the cause and a sysexits status (or succeed when the cause does not
touch what it does), never crash; once the cause is gone, the store works
and `invitectl list --all --json` shows every invite committed before.

With jabberd2 and the modules built (and root, for the tmpfs): the real
servers (contrib/jabberd2/xmpp-local, XMPP_SUPERVISE=1, invites-web when
built) with the store on a small tmpfs, filled up, then made read-only
while they run: a pre-auth registration gets a stanza error (the engine
sends wait/internal-server-error for store failures, protocol.md row 12),
or no answer while c2s is being restarted, never item-not-found for a
good invite; the landing page answers 200 or 503, never 500 or nothing;
afterwards every invite whose registration failed still works, and fresh
registrations and landing pages work again.

Needs root for the tmpfs, the bind mount and the other user; the parts
that need it are skipped otherwise (everything when nothing can run).
ENVF_KEEP=1 keeps the directory.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftlib  # noqa: E402
import xmppload  # noqa: E402

DB_RECOVER = shutil.which("db5.3_recover")
# (invitectl's own "bus error" line is a clean exit 74; a real SIGBUS is
# a negative status)
CRASH = ("segmentation", "addresssanitizer", "runtime error",
         "core dumped", "leaksanitizer")
ROOT = os.getuid() == 0
NOBODY = 65534
STORE_ERRORS = ftlib.STORE_ERRORS


def run(argv, timeout=120, env=None):
    """(rc, stdout, stderr); rc None when it did not end in time."""
    try:
        r = subprocess.run(argv, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True,
                           timeout=timeout, env=env)
        return r.returncode, r.stdout, r.stderr
    except subprocess.TimeoutExpired as e:
        return None, e.stdout or "", e.stderr or ""


def sh(*argv):
    return subprocess.run(list(argv), stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode


def tree_digest(path):
    """A digest of names and contents under path (file or directory)."""
    h = hashlib.sha256()
    if os.path.isfile(path):
        with open(path, "rb") as f:
            h.update(f.read())
        return h.hexdigest()
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            p = os.path.join(root, name)
            h.update(p.encode())
            with open(p, "rb") as f:
                h.update(f.read())
    return h.hexdigest()


class Store:
    """A configuration and its Berkeley DB store; invitectl runs as uid
    (None: as we are)."""

    def __init__(self, base, name, domain="example.com"):
        self.dir = os.path.join(base, name)
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.path = os.path.join(self.dir, "store")
        self.conf = os.path.join(self.dir, "invites.conf")
        self.domain = domain
        with open(self.conf, "w") as f:
            f.write("store = %s\ndomains = %s\n" % (self.path, domain))
        os.chmod(self.conf, 0o644)
        self.wrap = []

    def ic(self, *args, wrap=None):
        return run((self.wrap if wrap is None else wrap) +
                   ftlib.invitectl_cmd(self.conf, *args))

    def generate(self, n):
        out = []
        for _ in range(n):
            for _ in range(5):
                # (75: busy, or a recovery ran meanwhile: run it again)
                rc, o, e = self.ic("generate", self.domain, "--json")
                if rc != 75:
                    break
                time.sleep(0.2)
            if rc != 0:
                raise RuntimeError("generate: %s %s" % (rc, e))
            out.append(json.loads(o))
        return out

    def listing(self):
        """{id: (state, uses)} of every invite, or None."""
        rc, o, e = self.ic("list", "--all", "--json")
        if rc != 0:
            return None
        return {i["id"]: (i["state"], i["uses"]) for i in json.loads(o)}


def crashed(rc, err):
    return rc is None or rc < 0 or rc >= 128 or any(
        w in err.lower() for w in CRASH)


def last_line(err):
    lines = [x for x in err.splitlines() if x.strip()]
    return lines[-1] if lines else ""


def commands(st, dest, ids=None):
    ids = ids or sorted((st.listing() or {}).keys()) or ["abcdef012345"]
    return [("generate", ["generate", st.domain]), ("list", ["list"]),
            ("revoke", ["revoke", ids[0]]), ("stats", ["stats"]),
            ("check", ["check"]), ("purge", ["purge"]),
            ("verify", ["verify"]), ("backup", ["backup", dest])]


def check_cli(tap, cause, st, expect, wrap=None, skip=(), ids=None):
    """Run every command; expect: {cmd or '*': (rcs, words)}; rcs may
    contain 0 (the command may work despite the cause); a failure must
    name the cause with one of words in its last stderr line (check: in
    its FAIL line about the store)."""
    dest = os.path.join(os.path.dirname(st.dir), "bk-" + cause.split()[0])
    cmds = commands(st, dest, ids) if wrap is None else None
    if cmds is None:
        saved, st.wrap = st.wrap, []
        cmds = commands(st, dest, ids)
        st.wrap = saved
    for name, args in cmds:
        if name in skip:
            continue
        shutil.rmtree(dest, ignore_errors=True)
        rc, out, err = st.ic(*args, wrap=wrap)
        rcs, words = expect.get(name, expect["*"])
        what = "%s: invitectl %s" % (cause, name)
        detail = "exit %s\nstderr: %s\nstdout: %s" % (rc, err.strip(),
                                                      out.strip()[:600])
        if crashed(rc, err):
            tap.ok(False, "%s: no crash, no hang" % what, detail)
            continue
        if name == "check":
            fails = [x for x in out.splitlines()
                     if x.startswith("FAIL") and "store" in x]
            good = rc != 0 and fails and any(
                w in fails[0].lower() for w in words)
            tap.ok(good or (0 in rcs and not fails),
                   "%s: exit %d, the store's FAIL line names the cause"
                   % (what, rc), detail)
            continue
        if rc == 0:
            tap.ok(0 in rcs, "%s: works despite the cause" % what, detail)
            continue
        line = last_line(err).lower()
        tap.ok(rc in rcs and any(w in line for w in words) and
               line.startswith("invitectl: "),
               "%s: exit %d, names the cause: %s" % (what, rc,
                                                     last_line(err)[:110]),
               detail)
    shutil.rmtree(dest, ignore_errors=True)


def same_invites(tap, cause, st, before):
    after = st.listing()
    tap.ok(after is not None and all(after.get(k) == v
                                     for k, v in before.items()),
           "%s: after the cause is gone every invite committed before is "
           "there, unchanged (%d)" % (cause, len(before)),
           "missing or changed: %s" % sorted(
               k for k, v in before.items()
               if after is None or after.get(k) != v)[:10])
    rc, o, e = st.ic("generate", st.domain, "--json")
    tap.ok(rc == 0, "%s: generate works again" % cause, e)
    return after


# ---- the causes, through invitectl ------------------------------------

def cli_missing(tap, base):
    st = Store(base, "missing")
    st.generate(3)
    before = st.listing()
    os.rename(st.path, st.path + ".away")
    check_cli(tap, "missing store", st, {
        "*": ((66,), ("no invite store",)),
        "check": ((1,), ("no invite store", "does not exist", "missing",
                         "no such")),
    }, skip=("generate",))
    tap.ok(not os.path.exists(st.path),
           "missing store: no read command created it")
    os.rename(st.path + ".away", st.path)
    same_invites(tap, "missing store", st, before)


def cli_readonly(tap, base):
    st = Store(base, "readonly")
    st.generate(3)
    before = st.listing()
    digest = tree_digest(st.path)
    if ROOT:
        # a read-only file system (root ignores the mode bits)
        if sh("mount", "--bind", st.path, st.path) != 0:
            tap.diag("no bind mount: read-only store not tested")
            return
        if sh("mount", "-o", "remount,ro,bind", st.path) != 0:
            sh("umount", st.path)
            tap.diag("no read-only remount: read-only store not tested")
            return
        words = ("read-only",)
    else:
        sh("chmod", "-R", "a-w", st.path)
        words = ("permission denied", "read-only")
    try:
        check_cli(tap, "read-only store", st, {
            "*": ((77, 74), words),
            "verify": ((0, 77, 74), words),
            # (check opens the store itself: "permission denied")
            "check": ((1,), words + ("not writable", "permission denied")),
        })
    finally:
        if ROOT:
            sh("umount", st.path)
        else:
            sh("chmod", "-R", "u+w", st.path)
    tap.ok(tree_digest(st.path) == digest,
           "read-only store: nothing in it changed")
    same_invites(tap, "read-only store", st, before)


def cli_permissions(tap, base):
    if not ROOT:
        st = Store(base, "mode000")
        st.generate(2)
        before = st.listing()
        os.chmod(st.path, 0)
        try:
            check_cli(tap, "store mode 000", st, {
                "*": ((77,), ("permission denied",)),
                "check": ((1,), ("permission denied", "not writable")),
            })
        finally:
            os.chmod(st.path, 0o700)
        same_invites(tap, "store mode 000", st, before)
        return
    nobody = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
              "--clear-groups", "--"]
    # owned by another user (root's store, run as nobody)
    st = Store(base, "owner")
    st.generate(2)
    before = st.listing()
    check_cli(tap, "store of another user", st, {
        "*": ((77,), ("permission denied",)),
        "check": ((1,), ("permission denied", "not writable")),
    }, wrap=nobody)
    same_invites(tap, "store of another user", st, before)
    # mode 000, owned by the user that runs invitectl
    st = Store(base, "mode000")
    st.generate(2)
    before = st.listing()
    sh("chown", "-R", "%d:%d" % (NOBODY, NOBODY), st.path)
    os.chmod(st.path, 0)
    try:
        check_cli(tap, "store mode 000", st, {
            "*": ((77,), ("permission denied",)),
            "check": ((1,), ("permission denied", "not writable")),
        }, wrap=nobody)
    finally:
        os.chmod(st.path, 0o700)
        sh("chown", "-R", "0:0", st.path)
    same_invites(tap, "store mode 000", st, before)


def cli_foreign(tap, base):
    st = Store(base, "foreign")
    st.generate(3)
    before = st.listing()
    os.rename(st.path, st.path + ".real")
    # a text file named like our database, among our other files
    shutil.copytree(st.path + ".real", st.path)
    with open(os.path.join(st.path, "invites.db"), "w") as f:
        f.write("# not a database\n" * 600)
    digest = tree_digest(os.path.join(st.path, "invites.db"))
    check_cli(tap, "text file as invites.db", st, {
        "*": ((74,), ("not an invite store", "damaged")),
        "verify": ((74, 66), ("not an invite store", "damaged")),
        "check": ((1,), ("not an invite store", "damaged")),
    })
    tap.ok(tree_digest(os.path.join(st.path, "invites.db")) == digest,
           "text file as invites.db: left untouched")
    shutil.rmtree(st.path)
    # a SQLite database where the store directory should be
    try:
        import sqlite3
        db = sqlite3.connect(st.path)
        db.execute("create table users (name text)")
        db.commit()
        db.close()
    except ImportError:
        with open(st.path, "wb") as f:
            f.write(b"SQLite format 3\0" + b"\0" * 4080)
    digest = tree_digest(st.path)
    check_cli(tap, "SQLite file as the store", st, {
        "*": ((74, 66), ("not an invite store", "not a directory",
                         "no invite store")),
        "check": ((1,), ("not an invite store", "not a directory")),
    })
    tap.ok(tree_digest(st.path) == digest,
           "SQLite file as the store: left untouched")
    os.unlink(st.path)
    os.rename(st.path + ".real", st.path)
    same_invites(tap, "foreign files", st, before)


def fill(path, name="filler"):
    """Fill the file system of path; the filler's name."""
    filler = os.path.join(path, name)
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    for size in (65536, 4096, 512):
        try:
            while True:
                os.write(fd, b"\0" * size)
        except OSError:
            pass
    os.close(fd)
    return filler


def cli_diskfull(tap, base):
    if not ROOT:
        tap.diag("not root: no tmpfs, the full disk is not tested")
        return
    st = Store(base, "diskfull")
    os.makedirs(st.path)
    if sh("mount", "-t", "tmpfs", "-o", "size=12m,mode=0700", "envfaults",
          st.path) != 0:
        tap.diag("mount -t tmpfs is not permitted: no full disk")
        return
    try:
        st.generate(5)
        before = st.listing()
        filler = fill(st.path)
        check_cli(tap, "disk full", st, {
            "*": ((0, 74), ("no space",)),
            "generate": ((74,), ("no space",)),
            "revoke": ((74,), ("no space",)),
            # (check opens the store itself and says "damaged": reported)
            "check": ((0, 1), ("no space", "damaged")),
        })
        # a second round: whatever the first left behind (a recovery to
        # run, a panicked environment) must give the same clear answers
        check_cli(tap, "disk full, again", st, {
            "*": ((0, 74), ("no space",)),
            "generate": ((74,), ("no space",)),
            "check": ((0, 1), ("no space", "damaged")),
        }, skip=("revoke", "stats", "verify", "backup"))
        os.unlink(filler)
        after = same_invites(tap, "disk full", st, before)
        if after is not None:
            tap.ok(len(after) == len(before),
                   "disk full: no half-written invite (%d invites, %d "
                   "before)"
                   % (len(after), len(before)))
        dest = os.path.join(st.dir, "bk")
        ok, detail = ftlib.backup_and_verify(st.conf, dest)
        tap.ok(ok, "disk full: afterwards a backup passes db5.3_verify",
               detail)
    finally:
        sh("umount", "-l", st.path)


def damage(path, name="invites.db", page=2):
    """Overwrite 64 bytes in the middle of a page of a database file."""
    p = os.path.join(path, name)
    with open(p, "r+b") as f:
        f.seek(page * 4096 + 1800)
        f.write(b"\xde\xad\xbe\xef" * 16)


def cli_damaged(tap, base):
    if not DB_RECOVER:
        tap.diag("no db5.3_recover: the damaged page is not tested")
        return
    st = Store(base, "damaged")
    st.generate(40)
    before = st.listing()
    # the servers stopped: every page on disk, no environment left
    rc, o, e = run([DB_RECOVER, "-h", st.path])
    if not tap.ok(rc == 0, "damaged page: db5.3_recover -h flushes the "
                  "store", e):
        return
    good = st.path + ".good"
    shutil.copytree(st.path, good)
    size = os.path.getsize(os.path.join(st.path, "invites.db"))
    tap.ok(size >= 3 * 4096, "damaged page: invites.db has data pages "
           "(%d bytes)" % size)
    damage(st.path)
    check_cli(tap, "damaged page", st, {
        "*": ((74,), ("damaged",)),
        # (a new key may land on a sound page: salvaged, not refused)
        "generate": ((0, 74), ("damaged",)),
        # (purge goes through the expiry index, not the damaged page)
        "purge": ((0, 74), ("damaged",)),
        "verify": ((74,), ("damaged",)),
        "check": ((1,), ("damaged",)),
    }, ids=sorted(before))
    rc, out, err = st.ic("verify")
    tap.ok(rc == 74 and re.search(r"DAMAGED\s+invites\.db", out + err) and
           not re.search(r"DAMAGED\s+(meta|audit|expiry)\.db", out + err),
           "damaged page: invitectl verify names invites.db, and only it",
           "exit %s\n%s%s" % (rc, out, err))
    # the admin restores the last good copy: everything is back
    shutil.rmtree(st.path)
    shutil.copytree(good, st.path)
    same_invites(tap, "damaged page, restored", st, before)


# ---- with the servers ------------------------------------------------

def server_phase(tap, base):
    if not ROOT:
        tap.diag("not root: no servers on a tmpfs store")
        return
    if not os.access("/usr/sbin/jabberd2-c2s", os.X_OK):
        tap.diag("jabberd2 is not installed: no server part")
        return
    import faults  # its Servers: xmpp-local, supervised, with invites-web
    srv = faults.Servers(None, base)
    for m in ("authreg_invites.so", "mod_invites.so"):
        if not os.path.exists(os.path.join(srv.mods, m)):
            tap.diag("%s was not built: no server part" % m)
            return
    err = srv.start()
    if err is None:
        # again, with the store on a small tmpfs of its own
        srv.stop()
        store = os.path.join(srv.dir, "store")
        keep = store + ".disk"
        os.rename(store, keep)
        os.makedirs(store)
        if sh("mount", "-t", "tmpfs", "-o", "size=16m,mode=0750",
              "envfaults", store) != 0:
            tap.diag("mount -t tmpfs is not permitted: no server part")
            return
        # (the files, not the environment's regions: recovered at start)
        for name in os.listdir(keep):
            if not name.startswith("__db."):
                shutil.copy2(os.path.join(keep, name), store)
        sh("chown", "-R", "%d:%d" % (srv.uid, srv.gid), store)
        os.chown(store, srv.uid, srv.gid)
        err = srv.start()
    if not tap.ok(err is None, "xmpp-local starts jabberd2 (and "
                  "invites-web) with the store on a tmpfs", err):
        srv.stop()
        sh("umount", "-l", os.path.join(srv.dir, "store"))
        return
    try:
        server_causes(tap, srv)
    finally:
        srv.stop()
        sh("umount", "-l", os.path.join(srv.dir, "store"))


class Reg:
    def __init__(self, tap, srv, tokens):
        self.tap = tap
        self.srv = srv
        self.tokens = list(tokens)
        self.n = 0

    def one(self, token):
        self.n += 1
        user = "envf%d" % self.n
        step, out = xmppload.register(self.srv.c2s_port, "localhost", token,
                                      user, "envf-Passw0rd")
        return step, out

    def until_ok(self, token, tries=40):
        """Register with token until it works (the cause is gone; c2s may
        be restarting): the last outcome."""
        out = None
        for _ in range(tries):
            step, out = self.one(token)
            if out == "ok" or (out not in ("io",) + STORE_ERRORS):
                return step, out
            time.sleep(0.5)
        return step, out


def landing(srv, token):
    import http.client
    try:
        c = http.client.HTTPConnection("127.0.0.1", srv.web_port, timeout=10)
        c.request("GET", "/invite/" + token)
        r = c.getresponse()
        r.read()
        c.close()
        return r.status
    except (OSError, http.client.HTTPException):
        return "io"


def daemons_up(srv, tries=60):
    """xmpp-local status: all daemons running (the supervisor restarts
    the ones that exit); a bounded number of polls."""
    for _ in range(tries):
        if run([srv.xl, "status"], env=srv.env, timeout=30)[0] == 0:
            return True
        time.sleep(0.5)
    return False


def server_causes(tap, srv):
    st = Store.__new__(Store)
    st.conf, st.domain, st.wrap = srv.conf, "localhost", srv.wrap
    st.path = os.path.join(srv.dir, "store")
    invs = st.generate(24)
    tokens = [i["token"] for i in invs]
    reg = Reg(tap, srv, tokens)
    step, out = reg.one(tokens.pop())
    tap.ok(out == "ok", "servers: a registration works before any fault",
           "%s:%s" % (step, out))
    if srv.web_port:
        tap.ok(landing(srv, tokens[0]) == 200,
               "servers: the landing page works before any fault")

    for cause in ("disk full", "read-only store"):
        before = st.listing()
        web_pid = srv.pids().get("web")
        filler = None
        if cause == "disk full":
            filler = fill(st.path)
            # the servers' log file was zero-filled when the store was
            # recovered: write invites until it is used up and a new one
            # cannot be made
            rc, o, e = run(srv.wrap + [ftlib.FTWORKER, "mint", srv.conf,
                                       "localhost", "5000"], timeout=300)
            tap.ok(rc is not None and rc != 0 and rc != 127,
                   "disk full: invites are refused once the log is full "
                   "(exit %s, %d made)" % (rc, len(o.split())), e[-600:])
            # Berkeley DB's region files are sparse and mapped in memory:
            # touching a page without a block on a full file system is a
            # SIGBUS, unless the open reserved their blocks (it does)
            tap.ok(rc is not None and 0 < rc < 127 and
                   "no space" in e.lower(),
                   "disk full: a library process fails with ENOSPC, "
                   "no bus error (exit %s)" % rc, e[-600:])
        else:
            sh("chmod", "-R", "a-w", st.path)
        # Space comes back after the fill: a recovery that follows the
        # mint's failure truncates the log, and the region files it
        # replaces are freed once the last process has unmapped them.
        # So each registration is preceded by one more fill, and they go
        # on until one meets the full disk (bounded: a registration's log
        # records may still fit in the last page of the log file).
        toppers = []
        outcomes = []
        failed = []
        tries = 8 if cause == "disk full" else 3
        for i in range(tries):
            if cause == "disk full":
                toppers.append(fill(st.path, "filler-%d" % i))
            t = tokens.pop()
            step, out = reg.one(t)
            outcomes.append("%s:%s" % (step, out))
            if out != "ok":
                failed.append(t)
            if i == 1 and cause == "read-only store":
                # a restarted c2s cannot open the store now
                pid = srv.pids().get("c2s")
                if pid:
                    os.kill(pid, 9)
                time.sleep(1)
            if cause == "disk full" and out in STORE_ERRORS:
                break
        tap.diag("%s: registrations while it lasts: %s"
                 % (cause, ", ".join(outcomes)))
        tap.ok(all(o.split(":")[1] in ("ok", "io") + STORE_ERRORS
                   for o in outcomes),
               "%s: registrations get a store error (wait), or no answer "
               "while c2s restarts, never a wrong answer" % cause,
               ", ".join(outcomes))
        if cause == "disk full":
            # (from c2s itself, or from a c2s restarted meanwhile that
            # cannot open the full store: the engine's answer either way)
            tap.ok(any(o.split(":")[1] in STORE_ERRORS for o in outcomes),
                   "disk full: a registration gets the stanza error "
                   "wait/internal-server-error", ", ".join(outcomes))
        if srv.web_port:
            s = first = landing(srv, tokens[0])
            # no answer is allowed only from an invites-web that left
            # (a call blocked behind the store: exit 86) and is being
            # restarted, as for c2s above
            for _ in range(20):
                if s in (200, 503):
                    break
                time.sleep(0.5)
                s = landing(srv, tokens[0])
            restarted = srv.pids().get("web") != web_pid
            tap.ok(s in (200, 503) and (first in (200, 503) or restarted),
                   "%s: the landing page answers %s (200 or 503, not 500; "
                   "no answer only while invites-web restarts%s)"
                   % (cause, first, ": it did" if restarted else ""),
                   srv.logs())
        # the cause goes away
        for f in [filler] + toppers:
            if f:
                os.unlink(f)
        if cause == "read-only store":
            sh("chmod", "-R", "u+w", st.path)
        tap.ok(daemons_up(srv), "%s: c2s, sm (and invites-web) run again "
               "afterwards (supervised)" % cause,
               srv.logs())
        # (a c2s started while the store could not be opened runs with
        # the engine retrying the store, refusing registrations meanwhile)
        step, out = reg.until_ok(tokens.pop(), tries=40)
        tap.ok(out == "ok", "%s: registrations work again afterwards"
               % cause, "%s:%s\n%s" % (step, out, srv.logs()))
        for t in failed:
            step, out = reg.until_ok(t, tries=40)
            tap.ok(out == "ok", "%s: an invite whose registration failed "
                   "still works (nothing half-written)" % cause,
                   "%s:%s" % (step, out))
        if srv.web_port:
            s = None
            for _ in range(40):
                s = landing(srv, tokens[0])
                if s == 200:
                    break
                time.sleep(0.5)
            tap.ok(s == 200, "%s: the landing page answers 200 again" % cause)
        after = st.listing()
        lost = [k for k in before if after is None or k not in after]
        tap.ok(after is not None and not lost,
               "%s: every invite committed before is still there" % cause,
               "lost: %s" % lost[:10])
    logs = ""
    for name in ("c2s", "sm"):
        try:
            with open(os.path.join(srv.dir, "log", name + ".log"),
                      errors="replace") as f:
                logs += f.read()
        except OSError:
            pass
    lines = [x for x in logs.splitlines() if "invite" in x.lower() and
             re.search(r"no space|permission denied|read-only", x, re.I)]
    tap.diag("server log lines about the causes (first 6):\n" +
             "\n".join(x[-200:] for x in lines[:6]))


def main():
    tap = ftlib.Tap()
    if not os.access(ftlib.INVITECTL, os.X_OK):
        ftlib.skip_all("%s was not built" % ftlib.INVITECTL)
    base = tempfile.mkdtemp(prefix="xi-envfaults.")
    os.chmod(base, 0o755)
    ftlib.suppress_bdb_leaks(base)
    try:
        cli_missing(tap, base)
        cli_readonly(tap, base)
        cli_permissions(tap, base)
        cli_foreign(tap, base)
        cli_diskfull(tap, base)
        cli_damaged(tap, base)
        server_phase(tap, base)
    finally:
        if os.environ.get("ENVF_KEEP"):
            tap.diag("kept %s" % base)
        else:
            shutil.rmtree(base, ignore_errors=True)
    sys.exit(tap.done())


if __name__ == "__main__":
    main()
