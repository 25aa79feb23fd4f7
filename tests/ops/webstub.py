# SPDX-License-Identifier: MIT
"""A stand-in for invites-web in the `invitectl check` tests: answers HEAD
and GET on /invite/TOKEN with 200 and, unless started with --no-link, the
Link header invites-web sends for an account invite of DOMAIN; other paths
get 404.  It listens on a free loopback port, writes that port to
PORTFILE, and stops by itself after a while (no test can leave it behind).

usage: webstub.py DOMAIN PORTFILE [--no-link]
"""

import http.server
import os
import sys
import threading


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self):
        if self.path.startswith('/invite/') and len(self.path) > 8:
            token = self.path[8:]
            self.send_response(200)
            if '--no-link' not in sys.argv:
                self.send_header('Link', '<xmpp:%s?register;preauth=%s>; '
                                 'rel="alternate"' % (sys.argv[1], token))
        else:
            self.send_response(404)
        self.send_header('Content-Length', '0')
        self.end_headers()

    do_HEAD = answer
    do_GET = answer


def main():
    srv = http.server.HTTPServer(('127.0.0.1', 0), Handler)
    with open(sys.argv[2] + '.tmp', 'w') as f:
        f.write('%d\n' % srv.server_address[1])
    os.rename(sys.argv[2] + '.tmp', sys.argv[2])
    # bounded life: a test that is killed leaves nothing running for long
    t = threading.Timer(300, srv.shutdown)
    t.daemon = True
    t.start()
    srv.serve_forever()


if __name__ == '__main__':
    main()
