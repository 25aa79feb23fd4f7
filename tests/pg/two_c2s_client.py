# SPDX-License-Identifier: MIT
"""Two c2s on different ports, one sm, one PostgreSQL invite store: an
invite used through one c2s is refused through the other.  Run by
tests/pg/two_c2s.sh with XMPP_C2S_PORT, XMPP_C2S2_PORT and TOKEN set;
speaks TAP."""

import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.environ['top_srcdir'], 'tests', 'integration'))
import xmppclient as xc  # noqa: E402

n = 0
failed = 0


def ok(cond, name):
    global n, failed
    n += 1
    if not cond:
        failed += 1
    print('%s %d - %s' % ('ok' if cond else 'not ok', n, name), flush=True)


async def main():
    one = xc.Env('localhost', os.environ['XMPP_C2S_PORT'])
    two = xc.Env('localhost', os.environ['XMPP_C2S2_PORT'])
    token = os.environ['TOKEN']
    r = await xc.register(one, 'alice', 'secret-a', token=token)
    ok(r.preauth == 'result' and r.result == 'ok',
       'registered through c2s 1 with the invite (%s, %s)' % (r.preauth, r.result))
    r = await xc.register(two, 'bob', 'secret-b', token=token)
    ok(r.preauth not in (None, 'result') or r.result != 'ok',
       'the same invite is refused through c2s 2 (%s, %s)' % (r.preauth, r.result))
    r = await xc.register(two, 'carol', 'secret-c', token=os.environ['TOKEN2'])
    ok(r.preauth == 'result' and r.result == 'ok',
       'another invite registers through c2s 2 (%s, %s)' % (r.preauth, r.result))
    c = await xc.login(one, 'carol', 'secret-c')
    ok(c.ok, 'the account made through c2s 2 logs in through c2s 1')
    if c.ok:
        await c.close()


asyncio.run(main())
print('1..%d' % n)
sys.exit(1 if failed else 0)
