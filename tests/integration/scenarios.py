# SPDX-License-Identifier: MIT
"""Integration scenarios: Debian's jabberd2 with authreg_invites and
mod_invites, driven by a real client (slixmpp).  Run by jabberd2.sh, which
starts the server with contrib/jabberd2/xmpp-local and stops it afterwards;
this script only restarts it once (a restart keeps invites).

Environment: XMPP_DIR, XMPP_DOMAIN, XMPP_C2S_PORT (the running setup),
XMPP_LOCAL (the runner), INVITECTL (the built invitectl).
Output: TAP.  Every step asserts an outcome; nothing asserts on time.
"""

import asyncio
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xmppclient as xc  # noqa: E402

from slixmpp.exceptions import IqError, IqTimeout  # noqa: E402

DOMAIN = os.environ.get('XMPP_DOMAIN', 'localhost')
XMPP_LOCAL = os.environ['XMPP_LOCAL']
INVITECTL = os.environ['INVITECTL']
CONF = os.path.join(os.environ['XMPP_DIR'], 'invites.conf')

NODE_INVITE = 'urn:xmpp:invite#invite'
NODE_CREATE = 'urn:xmpp:invite#create-account'

# ---------------------------------------------------------------- TAP --

n_tests = 0
n_failed = 0


def ok(cond, name, detail=None):
    global n_tests, n_failed
    n_tests += 1
    if cond:
        print('ok %d - %s' % (n_tests, name))
    else:
        n_failed += 1
        print('not ok %d - %s' % (n_tests, name))
        if detail is not None:
            for line in str(detail).splitlines():
                print('# ' + line)
    sys.stdout.flush()


def is_(got, want, name):
    ok(got == want, name, 'got:  %r\nwant: %r' % (got, want))


def refused(r, name):
    """Registration refused on an invite-only host: at the XEP-0077 get
    (the engine may refuse the form) or at the set, with not-allowed."""
    ok(r.result in ('not-allowed', 'get:not-allowed'), name, 'got: %r' % r.result)


def diag(msg):
    print('# ' + msg)
    sys.stdout.flush()


# ------------------------------------------------------------ helpers --

def run(*cmd, extra_env=None):
    env = dict(os.environ)
    if extra_env:
        env.update(extra_env)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, env=env, timeout=120)
    return p.returncode, p.stdout, p.stderr


def invitectl(*args, extra_env=None):
    """invitectl as the daemons' user (the store stays theirs)."""
    if not os.environ.get('INVITECTL_AS_CALLER'):
        return run(XMPP_LOCAL, 'exec', INVITECTL, '--config', CONF, *args,
                   extra_env=extra_env)
    res = run(INVITECTL, '--config', CONF, *args, extra_env=extra_env)
    d = os.environ['XMPP_DIR']
    run('chown', '-R', '--reference=' + d, os.path.join(d, 'store'))
    return res


def token_of(uri):
    m = re.search(r'preauth=([A-Za-z0-9_-]+)', uri or '')
    return m.group(1) if m else None


def generate(*opts, extra_env=None):
    rc, out, err = invitectl('generate', DOMAIN, *opts, extra_env=extra_env)
    uri = out.strip().splitlines()[-1] if out.strip() else ''
    if rc != 0 or token_of(uri) is None:
        diag('invitectl generate %s failed (%d): %s%s' % (' '.join(opts), rc, out, err))
        return None, None
    return uri, token_of(uri)


async def iq_command(c, node, action='execute', sessionid=None, form=None):
    iq = c.Iq()
    iq['type'] = 'set'
    iq['to'] = DOMAIN
    cmd = ET.Element('{%s}command' % xc.NS_COMMANDS)
    cmd.set('node', node)
    cmd.set('action', action)
    if sessionid:
        cmd.set('sessionid', sessionid)
    if form is not None:
        cmd.append(form)
    iq.append(cmd)
    try:
        reply = await iq.send(timeout=xc.TIMEOUT)
    except (IqError, IqTimeout) as e:
        return xc.error_condition(e), None
    return 'result', reply.xml.find('{%s}command' % xc.NS_COMMANDS)


def field_value(cmd_el, var):
    if cmd_el is None:
        return None
    for f in cmd_el.iter('{%s}field' % xc.NS_DATA):
        if f.get('var') == var:
            v = f.find('{%s}value' % xc.NS_DATA)
            return v.text if v is not None else ''
    return None


async def command_nodes(c):
    iq = c.Iq()
    iq['type'] = 'get'
    iq['to'] = DOMAIN
    q = ET.Element('{http://jabber.org/protocol/disco#items}query')
    q.set('node', xc.NS_COMMANDS)
    iq.append(q)
    try:
        reply = await iq.send(timeout=xc.TIMEOUT)
    except (IqError, IqTimeout) as e:
        return 'error:' + xc.error_condition(e)
    return sorted(i.get('node') for i in
                  reply.xml.iter('{http://jabber.org/protocol/disco#items}item'))


async def run_invite_command(c):
    """XEP-0401 #invite: returns the URI or None."""
    status, cmd = await iq_command(c, NODE_INVITE)
    if status != 'result' or cmd is None:
        return None
    if cmd.get('status') == 'executing':
        status, cmd = await iq_command(c, NODE_INVITE, 'complete', cmd.get('sessionid'))
    return field_value(cmd, 'uri')


async def run_create_account(c):
    """#create-account: returns ('result', uri) or (condition, None)."""
    status, cmd = await iq_command(c, NODE_CREATE)
    if status != 'result':
        return status, None
    if cmd is not None and cmd.get('status') == 'executing':
        form = ET.Element('{%s}x' % xc.NS_DATA)
        form.set('type', 'submit')
        ft = field_value(cmd, 'FORM_TYPE')
        if ft:
            f = ET.SubElement(form, '{%s}field' % xc.NS_DATA)
            f.set('var', 'FORM_TYPE')
            ET.SubElement(f, '{%s}value' % xc.NS_DATA).text = ft
        status, cmd = await iq_command(c, NODE_CREATE, 'complete',
                                       cmd.get('sessionid'), form)
        if status != 'result':
            return status, None
    return 'result', field_value(cmd, 'uri')


async def can_login(env, user, pw):
    c = await xc.login(env, user, pw)
    ok_ = bool(c.ok)
    await c.close()
    return ok_


def server_up():
    rc, out, err = run(XMPP_LOCAL, 'status')
    return rc == 0


# ---------------------------------------------------------- scenarios --

async def scenarios(env):
    # 1. no token: refused; the features are offered
    r = await xc.register(env, 'nobody', 'pw-nobody-1')
    refused(r, 'registration without a token is refused')
    ok('urn:xmpp:invite' in r.features, 'stream features offer urn:xmpp:invite',
       sorted(r.features))
    ok('urn:xmpp:ibr-token:0' in r.features, 'stream features offer urn:xmpp:ibr-token:0',
       sorted(r.features))
    ok(not await can_login(env, 'nobody', 'pw-nobody-1'), 'no account was created')

    # 2. account invite: register, log in
    uri, tok = generate()
    ok(tok is not None, 'invitectl generate prints an invite URI', uri)
    r = await xc.register(env, 'alice', 'alice-pw-1', tok)
    is_(r.preauth, 'result', 'pre-auth with a valid token succeeds')
    is_(r.result, 'ok', 'account invite: registration succeeds')
    ok(await can_login(env, 'alice', 'alice-pw-1'), 'the new account can log in')
    ok(not await can_login(env, 'alice', 'wrong-pw'), 'a wrong password still fails')

    # 3. single use
    r = await xc.register(env, 'alice2', 'pw-alice2', tok)
    is_(r.preauth, 'item-not-found', 'a used token is refused at pre-auth')
    refused(r, 'a used token cannot register again')
    ok(not await can_login(env, 'alice2', 'pw-alice2'), 'no second account from one token')

    # 4. bogus and expired tokens
    r = await xc.register(env, 'bogus', 'pw-bogus', 'A' * 22)
    is_(r.preauth, 'item-not-found', 'an unknown token: item-not-found')
    refused(r, 'an unknown token cannot register')
    r = await xc.register(env, 'bogus', 'pw-bogus', '!')
    ok(r.preauth not in (None, 'result'), 'a malformed token is refused', r.preauth)
    past = str(int(time.time()) - 30 * 86400)
    uri, old = generate('--expires', '1d', extra_env={'INVITES_FAKE_NOW': past})
    ok(old is not None, 'an invite made 30 days ago (expired)')
    r = await xc.register(env, 'late', 'pw-late', old)
    is_(r.preauth, 'item-not-found', 'an expired token: item-not-found')
    refused(r, 'an expired token cannot register')

    # 5. preset username
    uri, tok = generate('--username', 'carol')
    ok(uri is not None and uri.startswith('xmpp:carol@'), 'a username invite names the user', uri)
    r = await xc.register(env, 'mallory', 'pw-mallory', tok)
    ok(r.result not in ('ok', None), 'a username invite refuses another name', r.result)
    ok(not await can_login(env, 'mallory', 'pw-mallory'), 'no account for the other name')
    r = await xc.register(env, 'carol', 'carol-pw-1', tok)
    is_(r.preset_username, 'carol', 'the registration form is pre-filled with the name')
    is_(r.result, 'ok', 'the named user registers')
    ok(await can_login(env, 'carol', 'carol-pw-1'), 'carol can log in')

    # 6. reset invite
    uri, tok = generate('--reset', 'alice')
    ok(tok is not None, 'a reset invite for alice')
    r = await xc.register(env, 'carol', 'stolen-pw', tok)
    ok(r.result != 'ok', 'a reset invite cannot touch another account', r.result)
    ok(await can_login(env, 'carol', 'carol-pw-1'), 'carol keeps her password')
    old_session = await xc.login(env, 'alice', 'alice-pw-1')
    ok(old_session.ok, 'alice is logged in with the old password')
    r = await xc.register(env, 'alice', 'alice-pw-2', tok)
    is_(r.result, 'ok', 'the reset sets a new password')
    try:
        await asyncio.wait_for(old_session.gone.wait(), xc.TIMEOUT)
    except asyncio.TimeoutError:
        pass
    ok(old_session.gone.is_set(), 'the reset ends the sessions of the old password')
    await old_session.close()
    ok(not await can_login(env, 'alice', 'alice-pw-1'), 'the old password fails after reset')
    ok(await can_login(env, 'alice', 'alice-pw-2'), 'the new password works')
    r = await xc.register(env, 'alice', 'alice-pw-3', tok)
    ok(r.result != 'ok', 'a reset token is single-use', r.result)

    # 7. admin invite -> admin commands; ad-hoc for user and admin
    uri, tok = generate('--admin')
    r = await xc.register(env, 'boss', 'boss-pw-1', tok)
    is_(r.result, 'ok', 'admin invite: registration succeeds')
    boss = await xc.login(env, 'boss', 'boss-pw-1')
    ok(boss.ok, 'the admin logs in')
    alice = await xc.login(env, 'alice', 'alice-pw-2')
    ok(alice.ok, 'alice logs in')
    if boss.ok and alice.ok:
        nodes = await command_nodes(boss)
        ok(isinstance(nodes, list) and NODE_CREATE in nodes and NODE_INVITE in nodes,
           'the admin sees both invite commands', nodes)
        nodes = await command_nodes(alice)
        ok(isinstance(nodes, list) and NODE_INVITE in nodes and NODE_CREATE not in nodes,
           'a user sees only the invite command', nodes)
        status, _ = await run_create_account(alice)
        is_(status, 'forbidden', 'a user may not run create-account')
        status, acct_uri = await run_create_account(boss)
        ok(status == 'result' and acct_uri and '?register;preauth=' in acct_uri,
           'the admin creates an account invite by ad-hoc command', (status, acct_uri))
        r = await xc.register(env, 'newbie', 'newbie-pw', token_of(acct_uri))
        is_(r.result, 'ok', 'the ad-hoc account invite registers an account')

        # 8. XEP-0379, inviter online
        inv_uri = await run_invite_command(alice)
        ok(inv_uri and inv_uri.startswith('xmpp:alice@%s?roster;preauth=' % DOMAIN),
           'a user creates a contact invite by ad-hoc command', inv_uri)
        uri, tok = generate()
        r = await xc.register(env, 'erin', 'erin-pw-1', tok)
        is_(r.result, 'ok', 'erin registers (an existing account for XEP-0379)')
        erin = await xc.login(env, 'erin', 'erin-pw-1')
        ok(erin.ok, 'erin logs in')
        if erin.ok and inv_uri:
            p = erin.make_presence(pto='alice@' + DOMAIN, ptype='subscribe')
            el = ET.Element('{%s}preauth' % xc.NS_PARS)
            el.set('token', token_of(inv_uri))
            p.append(el)
            p.send()
            got = await erin.wait_presence('subscribed', 'alice@' + DOMAIN)
            ok(got is not None, 'XEP-0379 (inviter online): the subscriber gets subscribed')
            back = await erin.wait_presence('subscribe', 'alice@' + DOMAIN)
            ok(back is not None, 'XEP-0379: the inviter subscribes back')
            if back is not None:
                erin.send_presence(pto='alice@' + DOMAIN, ptype='subscribed')
            await asyncio.sleep(0.5)
            ok(not any(x['type'] == 'subscribe' and x['from'].bare == 'erin@' + DOMAIN
                       for x in alice.presences),
               'the online inviter was not asked to approve')
            roster = await alice.fetch_roster()
            ok(roster.get('erin@' + DOMAIN) in ('from', 'both'),
               "erin is approved in alice's roster", roster)
            await erin.close()

        # 9. XEP-0379, inviter offline
        inv_uri = await run_invite_command(alice)
        await alice.close()
        uri, tok = generate()
        r = await xc.register(env, 'frank', 'frank-pw-1', tok)
        frank = await xc.login(env, 'frank', 'frank-pw-1')
        ok(frank.ok and inv_uri, 'frank logs in; alice is offline')
        if frank.ok and inv_uri:
            p = frank.make_presence(pto='alice@' + DOMAIN, ptype='subscribe')
            el = ET.Element('{%s}preauth' % xc.NS_PARS)
            el.set('token', token_of(inv_uri))
            p.append(el)
            p.send()
            got = await frank.wait_presence('subscribed', 'alice@' + DOMAIN)
            ok(got is not None, 'XEP-0379 (inviter offline): the subscriber gets subscribed')
            await frank.close()
            alice = await xc.login(env, 'alice', 'alice-pw-2')
            roster = await alice.fetch_roster() if alice.ok else {}
            ok(roster.get('frank@' + DOMAIN) in ('from', 'both'),
               "frank is approved in alice's roster", roster)
            await asyncio.sleep(0.5)
            ok(not any(x['type'] == 'subscribe' and x['from'].bare == 'frank@' + DOMAIN
                       for x in alice.presences),
               'no approval request waited for the offline inviter')
            await alice.close()
    await boss.close()

    # 10. contact invite with ibr=y: mutual both
    uri, tok = generate('--contact', 'carol@' + DOMAIN, '--allow-register')
    ok(uri is not None and uri.endswith(';ibr=y'), 'a contact invite that may register', uri)
    carol = await xc.login(env, 'carol', 'carol-pw-1')   # the inviter is online
    r = await xc.register(env, 'dave', 'dave-pw-1', tok)
    is_(r.result, 'ok', 'the contact invite registers dave')
    pushed = None
    for _ in range(200):
        pushed = carol.roster_items().get('dave@' + DOMAIN) if carol.ok else None
        if pushed == 'both':
            break
        await asyncio.sleep(0.05)
    is_(pushed, 'both', 'the online inviter gets a roster push: dave, both')
    dave = await xc.login(env, 'dave', 'dave-pw-1')
    if dave.ok and carol.ok:
        rd = await dave.fetch_roster()
        rc_ = await carol.fetch_roster()
        is_(rd.get('carol@' + DOMAIN), 'both', "dave's roster: carol, both")
        is_(rc_.get('dave@' + DOMAIN), 'both', "carol's roster: dave, both")
    else:
        ok(False, 'dave and carol log in')
    await dave.close()
    await carol.close()

    # 11. racing clients: one account
    uri, tok = generate()
    names = ['racer%d' % i for i in range(6)]
    results = await asyncio.gather(*(xc.register(env, n, 'pw-' + n, tok) for n in names))
    wins = [r.username for r in results if r.result == 'ok']
    is_(len(wins), 1, 'six clients race for one token: one registers')
    logins = [await can_login(env, n, 'pw-' + n) for n in names]
    is_(sum(logins), 1, 'exactly one account exists afterwards')

    # 12. malformed and oversized stanzas
    reply = xc.raw_session(env, b"<iq type='set' id='m1'><preauth xmlns='urn:xmpp:pars:0' token='x")
    reply2 = xc.raw_tls_session(env, timeout=5, payload=b"<iq type='set' id='m2'><preauth xmlns='urn:xmpp:pars:0'/></iq>"
                                     b"<iq type='set' id='m3'><preauth xmlns='urn:xmpp:pars:0' token=''/></iq>"
                                     b"<iq type='get' id='m4'><query xmlns='jabber:iq:register'><x/></query></iq>")
    xc.raw_tls_session(env, b"<iq type='set' id='m5'><<</>")
    ok(reply2 is not None and b'bad-request' in reply2,
       'a pre-auth without a token gets bad-request', reply2)
    big = b"<iq type='set' id='big'><preauth xmlns='urn:xmpp:pars:0' token='" + b'A' * 200000 + b"'/></iq>"
    xc.raw_tls_session(env, big)
    xc.raw_session(env, b'\xff\xfe<\x00garbage')
    ok(server_up(), 'malformed and oversized stanzas leave the server running')
    ok(await can_login(env, 'carol', 'carol-pw-1'), 'and it still serves logins')

    # 12b. what the hook must re-enforce before c2s's own checks
    uri, tok = generate()
    plain = xc.raw_session(env, b"<iq type='set' id='p1'><preauth xmlns='urn:xmpp:pars:0' token='"
                           + tok.encode() + b"'/></iq>", timeout=5)
    ok(b"type='result'" not in plain and b'type="result"' not in plain,
       'pre-auth before STARTTLS is not accepted (TLS required)', plain)
    r = await xc.register(env, 'tlsuser', 'pw-tls', tok)
    is_(r.result, 'ok', 'the token is still usable over TLS afterwards')
    flood = b''.join(b"<iq type='set' id='f%d'><preauth xmlns='urn:xmpp:pars:0' token='%s'/></iq>"
                     % (i, b'B' * 22) for i in range(8))
    reply3 = xc.raw_tls_session(env, flood, timeout=5)
    ok(reply3 is not None and b'policy-violation' in reply3,
       'repeated failed pre-auth closes the stream with policy-violation', reply3)

    # 13. revoke takes effect at once
    uri, tok = generate()
    rc, out, err = invitectl('revoke', uri)
    is_(rc, 0, 'invitectl revoke succeeds on the running server')
    r = await xc.register(env, 'revoked', 'pw-revoked', tok)
    is_(r.preauth, 'item-not-found', 'a revoked token is refused at once')
    refused(r, 'a revoked token cannot register')

    # 14. a restart keeps invites (and accounts)
    uri, tok = generate()
    rc1, out1, err1 = run(XMPP_LOCAL, 'stop')
    rc2, out2, err2 = run(XMPP_LOCAL, 'start')
    ok(rc1 == 0 and rc2 == 0, 'the server restarts', out1 + err1 + out2 + err2)
    r = await xc.register(env, 'afterboot', 'pw-after', tok)
    is_(r.result, 'ok', 'an invite made before the restart still registers')
    ok(await can_login(env, 'carol', 'carol-pw-1'), 'accounts survive the restart')

    # 15. a configuration that cannot work is refused at load
    default_module_refused()
    # 16. ... and a per-host module that fails stops c2s: jabberd2 would
    # serve the host with its default module, open to every registration
    broken_config_stops_c2s()


def run_c2s_variant(name, edit):
    """c2s.xml changed by edit(text), with its own log and pid file, run
    until it exits (60 s at most); returns (exit status, its log)."""
    d = os.environ['XMPP_DIR']
    with open(os.path.join(d, 'etc', 'c2s.xml')) as f:
        conf = f.read()
    conf = (edit(conf).replace('log/c2s.log', 'log/c2s-%s.log' % name)
            .replace('run/c2s.pid', 'run/c2s-%s.pid' % name))
    path = os.path.join(d, 'etc', 'c2s-%s.xml' % name)
    with open(path, 'w') as f:
        f.write(conf)
    st = os.stat(d)
    os.chown(path, st.st_uid, st.st_gid)
    pre = []
    if os.environ.get('XMPP_PRELOAD'):   # a sanitizer build: as xmpp-local does
        pre = ['env', 'LD_PRELOAD=' + os.environ['XMPP_PRELOAD'],
               'ASAN_OPTIONS=detect_leaks=0:intercept_strchr=0:'
               'malloc_fill_byte=0']
    rc, out, err = run('timeout', '60', XMPP_LOCAL, 'exec', *pre,
                       '/usr/sbin/jabberd2-c2s', '-c', path)
    try:
        with open(os.path.join(d, 'log', 'c2s-%s.log' % name)) as f:
            log = f.read()
    except OSError:
        log = ''
    return rc, log


def broken_config_stops_c2s():
    """authreg_invites with a configuration file that does not exist: c2s
    stops with one clear line instead of going on with the default
    authreg module for the host (register-enable and all)."""
    rc, log = run_c2s_variant('broken', lambda c: c.replace(
        '<config>invites.conf</config>', '<config>no-such.conf</config>'))
    ok(rc not in (0, 124), 'c2s stops when authreg_invites cannot load for '
       'a host', 'exit %d' % rc)
    ok(any('stopping c2s' in ln for ln in log.splitlines()),
       'and says why: it would serve the host open to every registration',
       log[-800:])
    ok(not any('using default' in ln for ln in log.splitlines()),
       'it never serves the host with the default module')


def default_module_refused():
    """authreg_invites as the default <authreg><module> cannot work (c2s
    has no stream environment yet): c2s must refuse it with one clear line."""
    rc, log = run_c2s_variant('default', lambda c: c.replace(
        '<module>db</module>', '<module>invites</module>'))
    ok(rc not in (0, 124), 'c2s does not start with invites as the default module',
       'exit %d' % rc)
    lines = [ln for ln in log.splitlines() if 'refuses to load as the default' in ln]
    is_(len(lines), 1, 'and says why in one log line')


def main():
    env = xc.Env(DOMAIN, os.environ['XMPP_C2S_PORT'])
    try:
        asyncio.run(asyncio.wait_for(scenarios(env), 420))
    except Exception as e:  # a crash is a failure, reported in TAP
        ok(False, 'the scenarios ran to the end', repr(e))
    print('1..%d' % n_tests)
    return 1 if n_failed else 0


if __name__ == '__main__':
    sys.exit(main())
