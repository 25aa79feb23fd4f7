# SPDX-License-Identifier: MIT
"""A small blocking XMPP client for the fault tests: one flow per call on a
fresh connection (STARTTLS, XEP-0445 pre-auth, XEP-0077 registration, and
optionally the new user's first login with a session, which makes sm run
mod_invites' user-create hook).  Stanzas are matched by id with regular
expressions: enough for the replies of jabberd2, and no dependency.  Every
read is bounded by a timeout; the result is a word, never an exception."""

import base64
import re
import socket
import ssl
import time

TIMEOUT = 10.0

HEADER = ("<?xml version='1.0'?><stream:stream to='%s' xmlns='jabber:client' "
          "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")


class Closed(Exception):
    pass


class Conn:
    def __init__(self, port, domain, timeout):
        self.domain = domain
        self.deadline = time.time() + timeout
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=2)
        self.buf = ""

    def send(self, s):
        self.sock.sendall(s.encode("utf-8"))

    def _recv(self):
        left = self.deadline - time.time()
        if left <= 0:
            raise socket.timeout()
        self.sock.settimeout(left)
        data = self.sock.recv(65536)
        if not data:
            raise Closed()
        self.buf += data.decode("utf-8", "replace")

    def wait_for(self, pattern):
        rx = re.compile(pattern, re.S)
        while True:
            m = rx.search(self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return m
            if "</stream:stream>" in self.buf:
                raise Closed()
            self._recv()

    def iq(self, ident):
        """The reply to iq ident: 'result', or its error condition."""
        m = self.wait_for(r"<iq\b[^>]*\bid=['\"]%s['\"][^>]*?(/>|>.*?</iq>)"
                          % re.escape(ident))
        text = m.group(0)
        if re.search(r"\btype=['\"]result['\"]", text):
            return "result"
        c = re.search(r"<([a-z-]+)[^>]*xmlns=['\"]urn:ietf:params:xml:ns:"
                      r"xmpp-stanzas['\"]", text)
        return c.group(1) if c else "error"

    def stream(self):
        self.send(HEADER % self.domain)
        return self.wait_for(r"</stream:features>").group(0)

    def starttls(self):
        self.stream()
        self.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        self.wait_for(r"<proceed\b[^>]*/>")
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock, server_hostname=self.domain)
        self.buf = ""

    def close(self):
        try:
            self.send("</stream:stream>")
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass


def register(port, domain, token, username, password, timeout=TIMEOUT):
    """One registration flow.  Returns (step, outcome): step is the last
    step reached ('connect', 'tls', 'preauth', 'register'); outcome 'ok',
    a stanza error condition (a definite answer), or 'io' (connection
    refused, closed or timed out: the outcome of what was sent is
    unknown)."""
    step = "connect"
    try:
        c = Conn(port, domain, timeout)
    except OSError:
        return step, "io"
    try:
        step = "tls"
        c.starttls()
        c.stream()
        step = "preauth"
        c.send("<iq type='set' id='pa'><preauth xmlns='urn:xmpp:pars:0' "
               "token='%s'/></iq>" % token)
        r = c.iq("pa")
        if r != "result":
            return step, r
        step = "register"
        c.send("<iq type='set' id='reg'><query xmlns='jabber:iq:register'>"
               "<username>%s</username><password>%s</password></query></iq>"
               % (username, password))
        r = c.iq("reg")
        return step, "ok" if r == "result" else r
    except (OSError, Closed, ssl.SSLError):
        return step, "io"
    finally:
        c.close()


def login(port, domain, username, password, timeout=TIMEOUT):
    """The new user's first login, on a new connection as clients do
    (jabberd2 2.7's c2s never answers a bind on the registering stream):
    SASL PLAIN and a resource bind, which starts a session in sm (and so
    mod_invites' user-create work).  Returns (outcome, conn): keep conn
    open until the end, and close it with conn.close(); closing at once
    meets a jabberd2 race (sm's late "session ended" reaches the next
    connection that gets the same descriptor)."""
    try:
        c = Conn(port, domain, timeout)
    except OSError:
        return "io", None
    try:
        c.starttls()
        c.stream()
        auth = base64.b64encode(("\0%s\0%s" % (username, password))
                                .encode()).decode()
        c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
               "mechanism='PLAIN'>%s</auth>" % auth)
        m = c.wait_for(r"<(success|failure)\b")
        if m.group(1) != "success":
            c.close()
            return "not-authorized", None
        c.wait_for(r"(</success>|/>)")
        c.buf = ""
        c.stream()
        c.send("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:"
               "xmpp-bind'><resource>ft</resource></bind></iq>")
        r = c.iq("b")
        if r != "result":
            c.close()
            return r, None
        return "ok", c
    except (OSError, Closed, ssl.SSLError):
        c.close()
        return "io", None
