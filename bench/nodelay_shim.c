/* SPDX-License-Identifier: MIT */
/*
 * nodelay_shim: an LD_PRELOAD library that sets TCP_NODELAY on every TCP
 * socket the process accepts.  It gives the "stock jabberd2 with
 * TCP_NODELAY" baseline of bench/ without touching jabberd2's binaries:
 * stock c2s never sets it, and every STARTTLS stream then waits for the
 * client's delayed ACK (docs: benchmarks.md, the Nagle stall).  Used only
 * by bench/run.py; never installed.
 */
#include "config.h"

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* RTLD_NEXT */
#endif
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

int accept(int fd, struct sockaddr *addr, socklen_t *len);
int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);

typedef int accept_fn(int, struct sockaddr *, socklen_t *);
typedef int accept4_fn(int, struct sockaddr *, socklen_t *, int);

static void
nodelay(int fd)
{
	int type = 0, proto = 0, one = 1;
	socklen_t n = sizeof(type);

	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &n) != 0 ||
	    type != SOCK_STREAM)
		return;
	n = sizeof(proto);
	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &n) != 0 ||
	    proto != IPPROTO_TCP)
		return;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int
accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	static accept_fn *real;
	int s;

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "accept");
	if (real == NULL)
		return -1;
	s = real(fd, addr, len);
	nodelay(s);
	return s;
}

int
accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	static accept4_fn *real;
	int s;

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "accept4");
	if (real == NULL)
		return -1;
	s = real(fd, addr, len, flags);
	nodelay(s);
	return s;
}
