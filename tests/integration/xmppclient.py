# SPDX-License-Identifier: MIT
"""A real XMPP client for the integration tests: slixmpp (Debian's
python3-slixmpp 1.8), wrapped so that a test reads as a list of steps.

Every client connects to 127.0.0.1:XMPP_C2S_PORT, does STARTTLS against the
setup's self-signed certificate, and then either registers (optionally after
a XEP-0445 pre-auth IQ) or logs in.  Waits are bounded by a timeout so that
a broken server makes a test fail, never hang; the tests assert on outcomes
only, never on how long something took.

Two quirks of slixmpp 1.8 are worked around here (see
shared/docs/jabberd2-host.md, section Q4): it queues every stanza until the
session has started (so registration runs set `_always_send_everything`),
and it refuses PLAIN unless told otherwise (we run it inside TLS anyway).
"""

import asyncio
import logging
import socket
import ssl
import xml.etree.ElementTree as ET

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout

NS_PARS = 'urn:xmpp:pars:0'
NS_REGISTER = 'jabber:iq:register'
NS_COMMANDS = 'http://jabber.org/protocol/commands'
NS_DATA = 'jabber:x:data'
NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas'

TIMEOUT = 20

logging.getLogger('slixmpp').setLevel(logging.CRITICAL)
logging.getLogger('asyncio').setLevel(logging.CRITICAL)


def _insecure_tls(xmpp):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    xmpp.ssl_context = ctx


def error_condition(exc):
    """The stanza error condition of an IqError (or 'timeout')."""
    if isinstance(exc, IqTimeout):
        return 'timeout'
    return exc.iq['error']['condition']


class Registrar(slixmpp.ClientXMPP):
    """One registration attempt on a fresh stream: [pre-auth], GET, SET.

    After run(): .features (namespaces of the pre-auth stream features),
    .preauth ('result' or an error condition, None when not sent),
    .result ('ok' or the SET's error condition, None when not reached),
    .fields (the GET reply's legacy username value, if any).
    """

    def __init__(self, env, username, password, token=None, raw_preauth=None):
        super().__init__('%s@%s' % (username, env.domain), password)
        self.env = env
        self.username = username
        self.password_ = password
        self.token = token
        self.raw_preauth = raw_preauth
        self.features = set()
        self.preauth = None
        self.result = None
        self.preset_username = None
        self.done = asyncio.Event()
        self._always_send_everything = True
        _insecure_tls(self)
        self.register_plugin('xep_0077')
        self.unregister_feature('register', 50)
        self.register_feature('register', self._on_register_feature,
                              restart=False, order=50)
        self.add_event_handler('disconnected', lambda e: self.done.set())
        self.add_event_handler('stream_negotiated', lambda e: None)
        self.add_filter('in', self._see_features)

    def _see_features(self, stanza):
        if stanza.xml.tag == '{http://etherx.jabber.org/streams}features':
            self.features = set()
            for child in stanza.xml:
                ns = child.tag[1:].split('}')[0] if child.tag.startswith('{') else ''
                self.features.add(ns)
        return stanza

    async def _on_register_feature(self, features):
        try:
            if self.token is not None or self.raw_preauth is not None:
                iq = self.Iq()
                iq['type'] = 'set'
                if self.raw_preauth is not None:
                    iq.append(ET.fromstring(self.raw_preauth))
                else:
                    el = ET.Element('{%s}preauth' % NS_PARS)
                    el.set('token', self.token)
                    iq.append(el)
                try:
                    await iq.send(timeout=TIMEOUT)
                    self.preauth = 'result'
                except (IqError, IqTimeout) as e:
                    self.preauth = error_condition(e)
            get = self.Iq()
            get['type'] = 'get'
            get.enable('register')
            try:
                reply = await get.send(timeout=TIMEOUT)
                self.preset_username = reply['register']['username'] or None
            except (IqError, IqTimeout) as e:
                self.result = 'get:' + error_condition(e)
                return True
            iq = self.Iq()
            iq['type'] = 'set'
            iq['register']['username'] = self.username
            iq['register']['password'] = self.password_
            try:
                await iq.send(timeout=TIMEOUT)
                self.result = 'ok'
            except (IqError, IqTimeout) as e:
                self.result = error_condition(e)
        finally:
            self.disconnect()
        return True


class Client(slixmpp.ClientXMPP):
    """A logged-in session.  .ok tells whether login and bind succeeded."""

    def __init__(self, env, jid, password, *, plugins=()):
        super().__init__(jid, password)
        self.env = env
        self.ok = None
        self.ready = asyncio.Event()
        self.gone = asyncio.Event()
        self.inbox = asyncio.Queue()
        self.presences = []
        self.pushes = []
        _insecure_tls(self)
        self['feature_mechanisms'].config['unencrypted_plain'] = True
        for p in ('xep_0030', 'xep_0004', 'xep_0050', 'xep_0199') + tuple(plugins):
            self.register_plugin(p)
        self.add_event_handler('session_start', self._on_start)
        self.add_event_handler('failed_auth', self._on_fail)
        self.add_event_handler('disconnected', self._on_gone)
        self.add_event_handler('presence', lambda p: self.presences.append(p))
        self.add_event_handler('roster_update', lambda iq: self.pushes.append(iq))
        self.add_event_handler('message', lambda m: self.inbox.put_nowait(m))
        # Handle subscriptions in the test: no automatic answers.
        self.auto_authorize = None
        self.auto_subscribe = False

    async def _on_start(self, event):
        try:
            await self.get_roster(timeout=TIMEOUT)
            self.send_presence()
            self.ok = True
        except (IqError, IqTimeout):
            self.ok = False
        self.ready.set()

    def _on_fail(self, event):
        self.ok = False
        self.ready.set()
        self.disconnect()

    def _on_gone(self, event):
        if self.ok is None:
            self.ok = False
        self.ready.set()
        self.gone.set()

    def roster_items(self):
        """{bare jid: subscription} of the cached roster."""
        r = self.client_roster
        return {str(j): r[j]['subscription'] for j in r}

    async def fetch_roster(self):
        iq = self.Iq()
        iq['type'] = 'get'
        iq.enable('roster')
        reply = await iq.send(timeout=TIMEOUT)
        return {str(j): v['subscription'] for j, v in reply['roster']['items'].items()}

    async def wait_presence(self, ptype, sender, timeout=TIMEOUT):
        """Wait until a presence of ptype from sender (bare) has arrived."""
        for _ in range(int(timeout * 20)):
            for p in self.presences:
                if p['type'] == ptype and p['from'].bare == sender:
                    return p
            await asyncio.sleep(0.05)
        return None

    async def close(self):
        if not self.gone.is_set():
            self.disconnect()
            try:
                await asyncio.wait_for(self.gone.wait(), TIMEOUT)
            except asyncio.TimeoutError:
                pass


class Env:
    def __init__(self, domain, port):
        self.domain = domain
        self.port = int(port)


async def register(env, username, password, token=None, raw_preauth=None):
    r = Registrar(env, username, password, token, raw_preauth)
    r.connect(('127.0.0.1', env.port))
    try:
        await asyncio.wait_for(r.done.wait(), TIMEOUT * 3)
    except asyncio.TimeoutError:
        r.disconnect()
        r.result = r.result or 'timeout'
    return r


async def login(env, user, password, **kw):
    c = Client(env, '%s@%s/test' % (user, env.domain), password, **kw)
    c.connect(('127.0.0.1', env.port))
    try:
        await asyncio.wait_for(c.ready.wait(), TIMEOUT * 2)
    except asyncio.TimeoutError:
        c.ok = False
    if not c.ok:
        await c.close()
    return c


def raw_session(env, payload, timeout=TIMEOUT):
    """Send raw bytes on a plain socket after the stream header (no TLS):
    for malformed input.  Returns what the server answered (bytes)."""
    s = socket.create_connection(('127.0.0.1', env.port), timeout=timeout)
    got = b''
    try:
        s.sendall(("<?xml version='1.0'?><stream:stream to='%s' xmlns='jabber:client' "
                   "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
                   % env.domain).encode())
        s.sendall(payload)
        while True:
            try:
                b = s.recv(65536)
            except (socket.timeout, ConnectionError):
                break
            if not b:
                break
            got += b
            if b'</stream:stream>' in got:
                break
    finally:
        s.close()
    return got


def _read_until(s, marker, limit=1 << 20):
    got = b''
    while marker not in got and len(got) < limit:
        try:
            b = s.recv(65536)
        except (socket.timeout, ConnectionError, ssl.SSLError):
            break
        if not b:
            break
        got += b
    return got


def raw_tls_session(env, payload, timeout=TIMEOUT):
    """STARTTLS by hand, then send raw bytes before authenticating: for
    malformed and oversized input.  Returns what the server answered after
    TLS (bytes), or None when TLS could not be set up."""
    header = ("<?xml version='1.0'?><stream:stream to='%s' xmlns='jabber:client' "
              "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
              % env.domain).encode()
    s = socket.create_connection(('127.0.0.1', env.port), timeout=timeout)
    try:
        s.sendall(header)
        if b'</stream:features>' not in _read_until(s, b'</stream:features>'):
            return None
        s.sendall(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        if b'<proceed' not in _read_until(s, b'<proceed'):
            return None
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        t = ctx.wrap_socket(s, server_hostname=env.domain)
        t.sendall(header)
        _read_until(t, b'</stream:features>')
        try:
            t.sendall(payload)
        except (ConnectionError, ssl.SSLError, socket.timeout):
            return b''
        got = _read_until(t, b'</stream:stream>')
        try:
            t.close()
        except (OSError, ssl.SSLError):
            pass
        return got
    except (OSError, ssl.SSLError):
        return None
    finally:
        s.close()
