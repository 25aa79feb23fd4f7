# SPDX-License-Identifier: MIT
"""A real XMPP client (slixmpp, through tests/integration/xmppclient.py)
for the shell tests of tests/ops/.  One command per run:

  client.py adhoc PORT DOMAIN USER PASSWORD NODE...
      log in, run each XEP-0050 command, print the xmpp: URI each made
  client.py register PORT DOMAIN USER PASSWORD TOKEN
      pre-auth with TOKEN (XEP-0445) and register USER (XEP-0077); print
      'ok' or the error condition
  client.py login PORT DOMAIN USER PASSWORD
      log in; print 'ok' and the roster ('JID SUBSCRIPTION' lines)

Exit status 0 when the command did what it says, 1 otherwise.
"""

import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.environ.get('top_srcdir', '.'),
                                'tests', 'integration'))
import xmppclient  # noqa: E402

NS_DATA = 'jabber:x:data'


async def adhoc(env, user, password, nodes):
    c = await xmppclient.login(env, user, password)
    if not c.ok:
        print('login as %s failed' % user, file=sys.stderr)
        return 1
    try:
        for node in nodes:
            iq = c.Iq()
            iq['type'] = 'set'
            iq['to'] = env.domain
            iq['command']['node'] = node
            iq['command']['action'] = 'execute'
            reply = await iq.send(timeout=xmppclient.TIMEOUT)
            uri = None
            for el in reply.xml.iter('{%s}field' % NS_DATA):
                v = el.find('{%s}value' % NS_DATA)
                if el.get('var') == 'uri' and v is not None:
                    uri = v.text
            if uri is None:
                print('no uri in the reply to %s' % node, file=sys.stderr)
                return 1
            print(uri)
    except Exception as e:  # a failed command fails the caller's test
        print('adhoc %s: %r' % (user, e), file=sys.stderr)
        return 1
    finally:
        await c.close()
    return 0


async def register(env, user, password, token):
    r = await xmppclient.register(env, user, password, token=token)
    print(r.result if r.preauth == 'result' else 'preauth:%s' % r.preauth)
    return 0 if r.result == 'ok' else 1


async def login(env, user, password):
    c = await xmppclient.login(env, user, password)
    if not c.ok:
        print('login failed')
        return 1
    print('ok')
    for jid, sub in sorted(c.roster_items().items()):
        print('%s %s' % (jid, sub))
    await c.close()
    return 0


def main():
    cmd = sys.argv[1]
    env = xmppclient.Env(sys.argv[3], sys.argv[2])
    user, password = sys.argv[4], sys.argv[5]
    if cmd == 'adhoc':
        return asyncio.run(adhoc(env, user, password, sys.argv[6:]))
    if cmd == 'register':
        return asyncio.run(register(env, user, password, sys.argv[6]))
    if cmd == 'login':
        return asyncio.run(login(env, user, password))
    print('unknown command %s' % cmd, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main())
