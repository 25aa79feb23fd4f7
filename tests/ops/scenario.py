# SPDX-License-Identifier: MIT
"""Operations scenarios on jabberd2 with our modules, driven by real
clients (slixmpp).  Run by tests/ops/jabberd2.sh, which starts the server
(with max_invites_per_user = 2) and stops it afterwards.

  1. an admin invite (invitectl) -> alice; alice's contact invite (ad-hoc)
     -> bob, while alice is online: alice gets "bob ... joined with your
     invite" at once;
  2. bob's invite -> carol while bob is offline: bob gets the message when
     he logs in (kept by mod_offline);
  3. carol accepts a contact invite of alice (XEP-0379): alice is told;
  4. invitectl tree / tree USER / stats --by-inviter show the chain
     invitectl -> alice -> bob -> carol;
  5. max_invites_per_user: alice's pending invites, as the tree counts
     them, reach the limit and the next ad-hoc invite is refused;
  6. carol deletes her account (XEP-0077 <remove/>): her pending invite is
     revoked (revoke_on_delete) and the tree still shows her;
  7. invitectl check on this running setup: every check holds.

Environment: XMPP_DIR, XMPP_DOMAIN, XMPP_C2S_PORT, XMPP_LOCAL, INVITECTL.
Output: TAP.  Waits are bounded; nothing asserts on time.
"""

import asyncio
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'integration'))
import xmppclient as xc  # noqa: E402

from slixmpp.exceptions import IqError, IqTimeout  # noqa: E402

DOMAIN = os.environ.get('XMPP_DOMAIN', 'localhost')
XMPP_DIR = os.environ['XMPP_DIR']
XMPP_LOCAL = os.environ['XMPP_LOCAL']
INVITECTL = os.environ['INVITECTL']
CONF = os.path.join(XMPP_DIR, 'invites.conf')
NODE_INVITE = 'urn:xmpp:invite#invite'
NS_PARS = 'urn:xmpp:pars:0'

count = 0
failed = 0


def ok(cond, name, detail=None):
    global count, failed
    count += 1
    print('%sok %d - %s' % ('' if cond else 'not ', count, name))
    if not cond:
        failed += 1
        if detail is not None:
            for line in str(detail).splitlines():
                print('# ' + line)
    sys.stdout.flush()


def is_(got, want, name):
    ok(got == want, name, 'got:  %r\nwant: %r' % (got, want))


def invitectl(*args):
    """invitectl on the setup's store, as the daemons' user when it can
    run the build; else as the caller, handing the store back after."""
    if os.environ.get('INVITECTL_AS_CALLER'):
        cmd = [INVITECTL, '--config', CONF] + list(args)
    else:
        cmd = [XMPP_LOCAL, 'exec', INVITECTL, '--config', CONF] + list(args)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=120)
    if os.environ.get('INVITECTL_AS_CALLER'):
        subprocess.run(['chown', '-R', '--reference=' + XMPP_DIR,
                        os.path.join(XMPP_DIR, 'store')])
    return p.returncode, p.stdout, p.stderr


def token_of(uri):
    """The token of an xmpp: URI or of a landing page URL."""
    m = re.search(r'(?:preauth=|/invite/)([A-Za-z0-9_-]+)', uri or '')
    return m.group(1) if m else None


def id_of(token):
    import hashlib
    return hashlib.sha256(token.encode()).hexdigest()[:12]


async def invite_command(c):
    """XEP-0401 #invite: (status, uri)."""
    iq = c.Iq()
    iq['type'] = 'set'
    iq['to'] = DOMAIN
    cmd = ET.Element('{%s}command' % xc.NS_COMMANDS)
    cmd.set('node', NODE_INVITE)
    cmd.set('action', 'execute')
    iq.append(cmd)
    try:
        reply = await iq.send(timeout=xc.TIMEOUT)
    except (IqError, IqTimeout) as e:
        return xc.error_condition(e), None
    for f in reply.xml.iter('{%s}field' % xc.NS_DATA):
        v = f.find('{%s}value' % xc.NS_DATA)
        if f.get('var') == 'uri' and v is not None:
            return 'result', v.text
    return 'no-uri', None


async def wait_message(c, needle, timeout=xc.TIMEOUT):
    """The body of the first chat message from the server holding needle,
    or None."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        left = end - loop.time()
        if left <= 0:
            return None
        try:
            m = await asyncio.wait_for(c.inbox.get(), left)
        except asyncio.TimeoutError:
            return None
        body = m['body'] or ''
        if str(m['from']) == DOMAIN and needle in body:
            return body


async def delete_account(c):
    iq = c.Iq()
    iq['type'] = 'set'
    q = ET.Element('{%s}query' % xc.NS_REGISTER)
    ET.SubElement(q, '{%s}remove' % xc.NS_REGISTER)
    iq.append(q)
    try:
        await iq.send(timeout=xc.TIMEOUT)
        return 'result'
    except IqTimeout:
        return 'timeout'
    except IqError as e:
        return xc.error_condition(e)


def tree_json(*args):
    rc, out, err = invitectl('tree', '--json', *args)
    try:
        return json.loads(out)
    except ValueError:
        ok(False, 'invitectl tree --json %s is JSON' % ' '.join(args),
           out + err)
        return {}


def find(nodes, jid):
    for n in nodes:
        if n.get('jid') == jid:
            return n
        hit = find(n.get('children', []), jid)
        if hit is not None:
            return hit
    return None


async def scenarios(env):
    A, B, C = ('alice@' + DOMAIN, 'bob@' + DOMAIN, 'carol@' + DOMAIN)

    # 1. alice, from an invitectl invite; bob from alice's, alice online
    rc, out, err = invitectl('generate', DOMAIN)
    t_alice = token_of(out)
    ok(rc == 0 and t_alice, 'invitectl generate', out + err)
    r = await xc.register(env, 'alice', 'alice-pw-1', token=t_alice)
    is_(r.result, 'ok', 'alice registers')
    alice = await xc.login(env, 'alice', 'alice-pw-1')
    ok(alice.ok, 'alice logs in')
    status, uri = await invite_command(alice)
    t_bob = token_of(uri)
    ok(status == 'result' and ';ibr=y' in (uri or ''),
       "alice's contact invite may register", uri)
    r = await xc.register(env, 'bob', 'bob-pw-1', token=t_bob)
    is_(r.result, 'ok', "bob registers with alice's invite")
    body = await wait_message(alice, B)
    is_(body, B + ' joined with your invite',
        'alice, online, is told at once that bob joined')

    # 2. bob's invite used while bob is offline
    bob = await xc.login(env, 'bob', 'bob-pw-1')
    ok(bob.ok, 'bob logs in')
    status, uri = await invite_command(bob)
    t_carol = token_of(uri)
    ok(status == 'result' and t_carol, "bob's invite", uri)
    await bob.close()
    r = await xc.register(env, 'carol', 'carol-pw-1', token=t_carol)
    is_(r.result, 'ok', "carol registers with bob's invite (bob offline)")
    bob = await xc.login(env, 'bob', 'bob-pw-1')
    ok(bob.ok, 'bob logs in again')
    body = await wait_message(bob, C)
    is_(body, C + ' joined with your invite',
        'bob gets the message kept while he was offline')
    await bob.close()

    # 3. a contact invite of alice accepted by carol (XEP-0379)
    status, uri = await invite_command(alice)
    t_contact = token_of(uri)
    ok(status == 'result' and t_contact, "alice's second invite", uri)
    carol = await xc.login(env, 'carol', 'carol-pw-1')
    ok(carol.ok, 'carol logs in')
    p = carol.Presence()
    p['to'] = A
    p['type'] = 'subscribe'
    pa = ET.Element('{%s}preauth' % NS_PARS)
    pa.set('token', t_contact)
    p.append(pa)
    p.send()
    body = await wait_message(alice, C + ' accepted')
    is_(body, C + ' accepted your contact invite',
        'alice is told that carol accepted her contact invite')

    # 4. the tree: invitectl:... -> alice -> bob -> carol
    t = tree_json()
    roots = t.get('roots', [])
    top = [r for r in roots if find([r], A) is not None]
    ok(len(top) == 1 and top[0]['jid'].startswith('invitectl:'),
       'the tree starts at invitectl', json.dumps(roots))
    na, nb, nc = find(roots, A), find(roots, B), find(roots, C)
    ok(na is not None and nb is not None and nc is not None,
       'alice, bob and carol are in the tree', json.dumps(roots))
    if na and nb and nc:
        is_([c['jid'] for c in na['children']], [B], 'alice invited bob')
        is_([c['jid'] for c in nb['children']], [C], 'bob invited carol')
        is_(nb['invite'], id_of(t_bob), "bob came through alice's invite")
        is_(nb['kind'], 'contact', '... a contact invite')
        is_(na['kind'], 'account', 'alice came through an account invite')
        is_(nc['invited_by'], B, 'carol was invited by bob')
        is_(na['invited'], 2, 'alice: two uses of her invites (bob, carol)')
    rc, out, err = invitectl('tree')
    lines = out.splitlines()
    ok(rc == 0 and any(l.startswith('`-- ' + A) or l.startswith('|-- ' + A)
                       for l in lines) and
       any(re.match(r'^    `-- ' + re.escape(B), l) for l in lines) and
       any(re.match(r'^        `-- ' + re.escape(C), l) for l in lines),
       'invitectl tree: three levels as text', out + err)
    t = tree_json(C)
    is_(t.get('path', [])[-2:], [A, B], 'invitectl tree carol: the way up')
    rc, out, err = invitectl('stats', '--by-inviter', '--json')
    try:
        rows = {r['inviter']: r for r in json.loads(out)}
    except ValueError:
        rows = {}
    ok(rows.get(A, {}).get('invited') == 2 and
       rows.get(B, {}).get('invited') == 1,
       'stats --by-inviter: alice 2, bob 1', out + err)

    # 5. the limit counts what the tree shows
    status, uri = await invite_command(alice)
    ok(status == 'result', "alice's pending invite", uri)
    t = tree_json(A)
    node = t.get('tree', {})
    is_((node.get('pending'), node.get('limit')), (1, 2),
        'the tree shows 1 of 2 pending for alice')
    status, uri = await invite_command(alice)
    ok(status == 'result', "alice's second pending invite", uri)
    node = tree_json(A).get('tree', {})
    is_(node.get('pending'), 2, 'the tree shows 2 of 2')
    status, uri = await invite_command(alice)
    ok(status != 'result', 'a third pending invite is refused at the limit',
       '%s %s' % (status, uri))
    rc, out, err = invitectl('tree', A)
    ok('[pending 2/2]' in out, 'invitectl tree alice: [pending 2/2]', out)
    await alice.close()

    # 6. carol deletes her account: her pending invite is revoked
    status, uri = await invite_command(carol)
    t_doomed = token_of(uri)
    ok(status == 'result' and t_doomed, "carol's pending invite", uri)
    is_(await delete_account(carol), 'result', 'carol deletes her account')
    await carol.close()
    again = await xc.login(env, 'carol', 'carol-pw-1')
    ok(not again.ok, 'carol is gone')
    await again.close()
    state = None
    for _ in range(100):
        rc, out, err = invitectl('show', id_of(t_doomed), '--json')
        try:
            state = json.loads(out).get('state')
        except ValueError:
            state = out + err
        if state == 'revoked':
            break
        await asyncio.sleep(0.1)
    is_(state, 'revoked', "carol's pending invite is revoked (revoke_on_delete)")
    r = await xc.register(env, 'dave', 'dave-pw-1', token=t_doomed)
    ok(r.result != 'ok', "the revoked invite registers nobody", r.result)
    node = find(tree_json().get('roots', []), C)
    ok(node is not None and node.get('invited_by') == B,
       'the tree still shows carol, invited by bob')

    # 7. check on this setup
    rc, out, err = invitectl('check', '--jabberd2-config',
                             os.path.join(XMPP_DIR, 'etc'),
                             '--user', subprocess.run(
                                 ['stat', '-c', '%U', XMPP_DIR],
                                 stdout=subprocess.PIPE,
                                 text=True).stdout.strip())
    ok(rc == 0 and 'FAIL' not in out, 'invitectl check: all holds on this '
       'running setup', out + err)
    if os.environ.get('XMPP_WEB'):
        ok('ok    invites-web: HEAD of a landing page answers 200 with Link'
           in out, "invitectl check: invites-web's Link header", out)


def main():
    env = xc.Env(DOMAIN, os.environ['XMPP_C2S_PORT'])
    asyncio.run(scenarios(env))
    print('1..%d' % count)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
