# SPDX-License-Identifier: MIT
"""The load of the soak (tests/ft/soak.py): threads that register accounts
through c2s with pre-auth tokens, log the new users in, create invites
(ftworker mint, invitectl generate, the web API), revoke them (invitectl
and the web API), purge, and fetch landing pages, all at once against one
running server.  Every definite answer is checked against what the load
itself knows about the invite; a wrong one is recorded in `wrong`, an
unknown outcome (connection closed, timeout) counts as an error."""

import collections
import http.client
import json
import os
import random
import re
import socket
import subprocess
import threading
import time

import ftlib
import xmppload

PASSWORD = "soak-Passw0rd"
# how many first-login connections stay open at once (the oldest is
# closed, gracefully, when a new one comes): a bounded number, so that the
# servers' descriptors can stay flat
HELD_LOGINS = 16


def graceful_close(c, timeout=2.0):
    """Close an XMPP stream as a client should: send the end of the
    stream, wait for the server's (or EOF), then close the socket."""
    try:
        c.send("</stream:stream>")
        c.deadline = time.time() + timeout
        while "</stream:stream>" not in c.buf:
            c._recv()
    except (OSError, xmppload.Closed, socket.timeout):
        pass
    try:
        c.sock.close()
    except OSError:
        pass


class Load:
    def __init__(self, srv, tag, reg_threads=3, xmpp_timeout=10.0,
                 api_key=None, seed=None):
        self.srv = srv
        self.tag = tag
        self.timeout = xmpp_timeout
        self.api_key = api_key
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.stop = False
        self.pool = collections.deque()   # acknowledged, unused tokens
        self.n_user = 0
        self.new_users = collections.deque()
        self.held = collections.deque()
        self.counts = collections.Counter()
        self.wrong = []
        self.errors = collections.Counter()
        self.t0 = None
        # the environment of invitectl and ftworker (None: ours)
        self.env = None
        # every process the load started: pid -> (command, exit status,
        # end of stderr), to name one the daemons' logs report as dead
        self.procs = {}
        self.threads = [threading.Thread(target=self._guard(self.reg_loop),
                                         daemon=True)
                        for _ in range(reg_threads)]
        for f in (self.login_loop, self.supply_loop, self.generate_loop,
                  self.revoke_loop, self.purge_loop):
            self.threads.append(threading.Thread(target=self._guard(f),
                                                 daemon=True))
        if srv.web_port:
            self.threads.append(threading.Thread(
                target=self._guard(self.landing_loop), daemon=True))
            if api_key:
                self.threads.append(threading.Thread(
                    target=self._guard(self.api_loop), daemon=True))

    # ---- bookkeeping ----

    def _guard(self, f):
        def run():
            try:
                f()
            except Exception as e:  # a bug of the load: make it visible
                self.bad("load thread %s: %r" % (f.__name__, e))
        return run

    def count(self, what, n=1):
        with self.lock:
            self.counts[what] += n

    def bad(self, msg):
        with self.lock:
            self.wrong.append("%.1f s: %s" % (time.time() - (self.t0 or 0),
                                              msg))

    def error(self, what):
        with self.lock:
            self.errors[what] += 1

    def start(self):
        self.t0 = time.time()
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop = True
        for t in self.threads:
            t.join(120)
        while self.held:
            graceful_close(self.held.popleft())

    def pause(self, s):
        end = time.time() + s
        while not self.stop and time.time() < end:
            time.sleep(min(0.1, end - time.time()))

    # ---- tools ----

    def run(self, argv, timeout):
        """subprocess.run's (status, stdout, stderr), recording the
        process in self.procs; raises subprocess.TimeoutExpired after
        killing a process still running after `timeout` seconds."""
        p = subprocess.Popen(argv, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, universal_newlines=True,
                             env=self.env)
        name = " ".join(os.path.basename(a) for a in argv
                        if not a.startswith("--re") and "=" not in a)[:120]
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            with self.lock:
                self.procs[p.pid] = (name, "killed", err.strip()[-300:])
            raise
        with self.lock:
            self.procs[p.pid] = (name, p.returncode, err.strip()[-300:])
        return p.returncode, out, err

    def cli(self, *args, timeout=60):
        """invitectl as the daemons' user: (status, stdout, stderr); a run
        still going after `timeout` seconds is killed and is a wrong
        answer (invitectl gives up on a blocked store by itself)."""
        try:
            return self.run(self.srv.wrap + ftlib.invitectl_cmd(
                self.srv.conf, "--verbose", *args), timeout)
        except subprocess.TimeoutExpired as e:
            self.bad("invitectl %s: still running after %d s (killed)"
                     % (" ".join(args), timeout))
            return -1, "", str(e.stderr or "")

    def generate(self, *extra, short=False):
        """invitectl generate: (token, id), or None (counted)."""
        rc, out, err = self.cli("generate", "localhost", "--json", *extra)
        if rc == 64 and short:
            # invitectl reckons --expires from its start, the library
            # refuses an expiry already past when it creates: on a busy
            # machine a short one can be past by then (exit 64)
            self.count("short expiry past at creation (exit 64)")
            return None
        if rc < 0:
            return None
        if rc == 75:
            # a temporary failure: the store busy or recovering, the
            # outcome unknown (as invitectl says)
            self.error("invitectl generate: exit 75")
            return None
        if rc != 0:
            self.bad("invitectl generate %s: exit %d: %s"
                     % (" ".join(extra), rc, err.strip()[-600:]))
            return None
        try:
            inv = json.loads(out)
            return inv["token"], inv["id"]
        except (ValueError, KeyError):
            self.bad("invitectl generate printed no JSON: %r" % out[:200])
            return None

    def http(self, method, path, body=None, key=None):
        """(status, body text); status 0 on a connection failure."""
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.srv.web_port,
                                           timeout=max(5, self.timeout))
            headers = {}
            if key:
                headers["Authorization"] = "Bearer " + key
            if body is not None:
                body = json.dumps(body)
                headers["Content-Type"] = "application/json"
            c.request(method, path, body=body, headers=headers)
            r = c.getresponse()
            text = r.read().decode("utf-8", "replace")
            c.close()
            return r.status, text
        except (OSError, http.client.HTTPException):
            return 0, ""

    def refused(self, token, why):
        """A pre-auth with token must be refused with a stanza error."""
        step, out = xmppload.register(self.srv.c2s_port, "localhost", token,
                                      "nobody-%s" % token[:6], PASSWORD,
                                      timeout=self.timeout)
        if out == "io":
            self.error("preauth (refusal check): io")
        elif step != "preauth" or out == "ok":
            self.bad("%s token accepted by c2s (%s: %s)" % (why, step, out))
        else:
            self.count("refused " + why)

    # ---- the threads ----

    def supply_loop(self):
        """Keeps the pool of registration tokens filled (ftworker mint:
        bulk invite creation through the library, as a portal would)."""
        while not self.stop:
            if len(self.pool) >= 150:
                self.pause(0.2)
                continue
            try:
                rc, out, err = self.run(self.srv.wrap + [
                    ftlib.FTWORKER, "mint", self.srv.conf, "localhost",
                    "100"], 300)
            except subprocess.TimeoutExpired:
                self.bad("ftworker mint: still running after 300 s")
                continue
            tokens = out.split()
            if rc != 0:
                self.bad("ftworker mint: exit %d: %s"
                         % (rc, err.strip()[:300]))
                self.pause(1)
            self.pool.extend(tokens)
            self.count("created (mint)", len(tokens))

    def take(self):
        with self.lock:
            if not self.pool:
                return None, None
            self.n_user += 1
            return self.pool.popleft(), "%s%d" % (self.tag, self.n_user)

    def reg_loop(self):
        while not self.stop:
            token, user = self.take()
            if token is None:
                self.pause(0.05)
                continue
            step, out = xmppload.register(self.srv.c2s_port, "localhost",
                                          token, user, PASSWORD,
                                          timeout=self.timeout)
            if out == "ok":
                self.count("registrations")
                with self.lock:
                    self.new_users.append(user)
            elif out == "io":
                # the outcome is unknown: not a wrong answer, an error
                self.error("registration: io at %s" % step)
                self.pause(0.05)
            elif out in ftlib.STORE_ERRORS:
                # the temporary answer (wait) of a store that is busy or
                # being recovered: nothing was consumed, try again later
                self.error("registration: %s at %s (store busy or "
                           "recovering)" % (out, step))
                self.pause(0.05)
            else:
                self.bad("registration with an acknowledged, unused invite: "
                         "%s at %s" % (out, step))

    def login_loop(self):
        """First logins of new users (sm runs mod_invites' user-create
        work); at most HELD_LOGINS sessions stay open."""
        while not self.stop:
            with self.lock:
                user = self.new_users.popleft() if self.new_users else None
            if user is None:
                self.pause(0.05)
                continue
            r, c = xmppload.login(self.srv.c2s_port, "localhost", user,
                                  PASSWORD, timeout=self.timeout)
            if r == "ok":
                self.count("first logins")
                self.held.append(c)
                while len(self.held) > HELD_LOGINS:
                    graceful_close(self.held.popleft())
            elif r == "io":
                self.error("login: io")
                self.pause(0.05)
            else:
                self.bad("first login of the new user %s: %s" % (user, r))

    def generate_loop(self):
        """invitectl generate, one after the other: the tokens join the
        registration pool."""
        while not self.stop:
            got = self.generate()
            if got:
                self.count("created (invitectl)")
                self.pool.append(got[0])
            self.pause(0.05)

    def landing(self, token, want, why):
        if not self.srv.web_port:
            return
        st, _ = self.http("GET", "/invite/" + token)
        if st == 0 or st == 503:
            # (503: the store recovering, a clear temporary failure)
            self.error("landing page: %s" % ("io" if st == 0 else "503"))
        elif st != want:
            self.bad("landing page of a %s invite: HTTP %d, not %d"
                     % (why, st, want))
        else:
            self.count("landing pages")

    def revoke_loop(self):
        """An invite made, shown, revoked (invitectl revoke), then refused:
        no landing page, no pre-auth."""
        while not self.stop:
            got = self.generate("--note", "soak revoke")
            if not got:
                self.pause(0.5)
                continue
            token, ident = got
            self.count("created (invitectl)")
            self.landing(token, 200, "pending")
            rc, out, err = self.cli("revoke", ident)
            if rc == 75:
                self.error("invitectl revoke: exit 75")
                continue
            if rc != 0:
                self.bad("invitectl revoke %s: exit %d: %s"
                         % (ident, rc, err.strip()))
                continue
            self.count("revoked (invitectl)")
            self.landing(token, 404, "revoked")
            self.refused(token, "revoked")
            self.pause(0.1)

    def purge_loop(self):
        """Invites that expire at once, then invitectl purge: pending ones
        (the pool) must survive every purge, which the registrations
        check."""
        while not self.stop:
            short = []
            for _ in range(3):
                got = self.generate("--expires", "3s", short=True)
                if got:
                    self.count("created (invitectl)")
                    short.append(got[0])
            self.pause(3.5)
            if self.stop:
                break
            rc, out, err = self.cli("purge", "--json")
            if rc == 75:
                self.error("invitectl purge: exit 75")
                continue
            if rc != 0:
                self.bad("invitectl purge: exit %d: %s" % (rc, err.strip()))
                continue
            try:
                self.count("purged", json.loads(out)["purged"])
            except (ValueError, KeyError):
                self.bad("invitectl purge --json: %r" % out[:200])
            self.count("purge runs")
            for t in short:
                self.landing(t, 404, "expired and purged")
            if short:
                self.refused(short[0], "expired")
            self.pause(1.0)

    def landing_loop(self):
        """Landing pages of pending pool tokens (200 while still in the
        pool after the answer: nobody took it meanwhile), and of a token
        nobody made (404)."""
        while not self.stop:
            with self.lock:
                token = self.pool[-1] if self.pool else None
            if token is None:
                self.pause(0.1)
                continue
            st, _ = self.http("GET", "/invite/" + token)
            with self.lock:
                still = token in self.pool
            if st == 0 or st == 503:
                self.error("landing page: %s" % ("io" if st == 0 else "503"))
            elif st == 200:
                self.count("landing pages")
            elif still:
                self.bad("landing page of a pending invite: HTTP %d" % st)
            if self.rng.random() < 0.2:
                self.landing("x" * 22 + "%06d" % self.rng.randrange(10**6),
                             404, "made-up")
            self.pause(0.05)

    def api_loop(self):
        """The web API: create an invite (POST), read it, and either give
        it to the registrations or revoke it (DELETE) and check that it is
        refused."""
        k = 0
        while not self.stop:
            k += 1
            st, text = self.http("POST", "/api/v1/invites",
                                 {"domain": "localhost",
                                  "note": "soak api"}, key=self.api_key)
            if st == 0 or st == 503:
                # (503: the store recovering, a clear temporary failure)
                self.error("api: %s" % ("io" if st == 0 else "503"))
                self.pause(0.2)
                continue
            if st != 201:
                self.bad("POST /api/v1/invites: HTTP %d: %s"
                         % (st, text[:200]))
                self.pause(1)
                continue
            try:
                inv = json.loads(text)
                ident = inv["id"]
                token = re.search(r"preauth=([^;&\s]+)", inv["uri"]).group(1)
            except (ValueError, KeyError, AttributeError):
                self.bad("POST /api/v1/invites answered %r" % text[:200])
                continue
            self.count("created (web API)")
            st, text = self.http("GET", "/api/v1/invites/" + ident,
                                 key=self.api_key)
            if st != 200 and st != 0:
                self.bad("GET /api/v1/invites/ID of a new invite: HTTP %d"
                         % st)
            if k % 2:
                self.pool.append(token)
            else:
                st, text = self.http("DELETE", "/api/v1/invites/" + ident,
                                     key=self.api_key)
                if st == 0:
                    self.error("api: io")
                    continue
                if st not in (200, 204):
                    self.bad("DELETE /api/v1/invites/ID: HTTP %d: %s"
                             % (st, text[:200]))
                    continue
                self.count("revoked (web API)")
                self.landing(token, 404, "revoked")
                self.refused(token, "revoked")
            self.pause(0.1)
