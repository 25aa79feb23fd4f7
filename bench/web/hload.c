/* SPDX-License-Identifier: MIT */
/*
 * hload: the HTTP load generator of `make bench-web` (issue 7).  One
 * thread, epoll, C keep-alive connections to 127.0.0.1, each sending one
 * request at a time (closed loop) and timing it from the first byte
 * written to the last byte of the answer read.  Both web servers of the
 * benchmark (invites-web and Prosody's HTTP server) are driven with the
 * same bytes; Python's http.client costs more CPU per request than the
 * servers under test, so it could not saturate them.
 *
 *   hload -p PORT [-c CONNS] [-d SECONDS] [-w WARMUP] [-m METHOD]
 *         [-s STATUS] [-R] PATH
 *
 * -R adds "X-Real-IP: 10.x.y.z", a new address per request (invites-web
 * counts bad tokens per address and answers 429 beyond a limit; with a
 * new address per request the bogus-token run measures the 404 page, as
 * a stream of visitors would see it).  Requests completed during the
 * first WARMUP seconds are not counted.  Answers must have status STATUS
 * (default 200) and a Content-Length (or chunked encoding); others count
 * as bad.  A connection the server closes before the end of an answer is
 * opened again and counted (reconnects); one it closes after an answer
 * it said it would close after (Connection: close, HTTP/1.0) is opened
 * again without counting.
 * The summary line:
 *   requests N bad B reconnects R secs S rps X p50_us A p90_us C
 *   p99_us D max_us E resp_bytes F client_cpu_ms G starved H
 * where H counts the connections that got no answer at all in the
 * counted time (a server that stops accepting beyond a connection limit
 * leaves them waiting in its listen queue: their requests never finish,
 * so they show here and not in the latencies).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RBUF 65536
#define MAX_CONNS 1024

struct hconn {
	int fd;
	int connected;
	size_t sent;          /* bytes of the request written */
	char *req;            /* this request's bytes */
	size_t req_len;
	char rbuf[RBUF];
	size_t rlen;          /* bytes in rbuf */
	long long body_left;  /* -1 while reading headers */
	int chunked;
	int status;
	int close_after;
	double t0;
	unsigned long done;   /* answers counted on this connection */
};

static int opt_port, opt_conns = 1, opt_real_ip;
static double opt_secs = 5, opt_warm = 1;
static const char *opt_method = "GET", *opt_path;
static int opt_status = 200;
static int ep;
static uint32_t ip_counter;

static uint32_t *lat;      /* microseconds */
static size_t n_lat, cap_lat;
static unsigned long long n_bad, n_reconnect, resp_bytes;
static double t_start, t_count;

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static void
build_request(struct hconn *c)
{
	char ip[64] = "";
	int n;

	if (opt_real_ip) {
		uint32_t k = ++ip_counter;

		snprintf(ip, sizeof(ip), "X-Real-IP: 10.%u.%u.%u\r\n",
		         (k >> 16) & 255, (k >> 8) & 255, k & 255);
	}
	free(c->req);
	n = snprintf(NULL, 0, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	             "User-Agent: hload/1\r\nAccept: */*\r\n%s\r\n",
	             opt_method, opt_path, opt_port, ip);
	c->req = malloc((size_t)n + 1);
	if (!c->req)
		die("malloc");
	snprintf(c->req, (size_t)n + 1, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	         "User-Agent: hload/1\r\nAccept: */*\r\n%s\r\n",
	         opt_method, opt_path, opt_port, ip);
	c->req_len = (size_t)n;
	c->sent = 0;
}

static void
conn_open(struct hconn *c)
{
	struct sockaddr_in sa;
	struct epoll_event ev;
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		die("socket");
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)opt_port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 &&
	    errno != EINPROGRESS)
		die("connect");
	c->connected = 0;
	c->rlen = 0;
	c->body_left = -1;
	c->close_after = 0;
	ev.events = EPOLLOUT | EPOLLIN;
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
		die("epoll_ctl");
}

static void
conn_reopen(struct hconn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	n_reconnect += c->t0 >= t_count;
	conn_open(c);
	c->sent = 0;
	/* the request is sent again on the new connection */
}

static void
want(struct hconn *c, uint32_t events)
{
	struct epoll_event ev;

	ev.events = events;
	ev.data.ptr = c;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void
record(struct hconn *c, double t)
{
	int good = c->status == opt_status;

	if (c->t0 < t_count)
		return;
	if (!good)
		n_bad++;
	c->done++;
	if (n_lat == cap_lat) {
		cap_lat = cap_lat ? cap_lat * 2 : 65536;
		lat = realloc(lat, cap_lat * sizeof(*lat));
		if (!lat)
			die("realloc");
	}
	lat[n_lat++] = (uint32_t)(t - c->t0);
}

static void
start_request(struct hconn *c)
{
	build_request(c);
	c->rlen = 0;
	c->body_left = -1;
	c->chunked = 0;
	c->status = 0;
	c->t0 = now_us();
	want(c, EPOLLOUT | EPOLLIN);
}

/* Parse the header block in rbuf[0..hlen); 0 or -1 (malformed). */
static int
parse_head(struct hconn *c, size_t hlen)
{
	char *p = c->rbuf, *end = c->rbuf + hlen, *eol;
	int have_len = 0;

	if (hlen < 12 || strncmp(p, "HTTP/1.", 7) != 0)
		return -1;
	c->status = atoi(p + 9);
	c->body_left = 0;
	/* HTTP/1.0 closes after the answer unless it says keep-alive */
	c->close_after = strncmp(p, "HTTP/1.0", 8) == 0;
	while ((eol = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		*eol = '\0';
		if (strncasecmp(p, "Content-Length:", 15) == 0) {
			c->body_left = atoll(p + 15);
			have_len = 1;
		} else if (strncasecmp(p, "Transfer-Encoding:", 18) == 0 &&
		           strstr(p, "chunked")) {
			c->chunked = 1;
		} else if (strncasecmp(p, "Connection:", 11) == 0) {
			if (strcasestr(p, "close"))
				c->close_after = 1;
			else if (strcasestr(p, "keep-alive"))
				c->close_after = 0;
		}
		p = eol + 1;
	}
	if (strcmp(opt_method, "HEAD") == 0 || c->status == 204 ||
	    c->status == 304) {
		c->body_left = 0;
		c->chunked = 0;
		return 0;
	}
	if (!have_len && !c->chunked)
		return -1;
	return 0;
}

/* With chunked encoding: 1 when rbuf holds the whole body, else 0. */
static int
chunked_done(struct hconn *c)
{
	size_t i = 0;

	for (;;) {
		char *eol = memmem(c->rbuf + i, c->rlen - i, "\r\n", 2);
		unsigned long n;

		if (!eol)
			return 0;
		n = strtoul(c->rbuf + i, NULL, 16);
		i = (size_t)(eol - c->rbuf) + 2;
		if (n == 0)
			return memmem(c->rbuf + i, c->rlen - i, "\r\n", 2) != NULL;
		if (c->rlen < i + n + 2)
			return 0;
		i += n + 2;
	}
}

static void
on_readable(struct hconn *c, double t)
{
	for (;;) {
		ssize_t n;

		if (c->rlen == RBUF) {
			/* a long body: keep only what the framing needs */
			if (c->body_left > 0 && !c->chunked) {
				c->rlen = 0;
			} else {
				n_bad++;
				conn_reopen(c);
				return;
			}
		}
		n = read(c->fd, c->rbuf + c->rlen, RBUF - c->rlen);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			/* closed (or reset) before the answer was complete */
			conn_reopen(c);
			return;
		}
		resp_bytes += (unsigned long long)n * (c->t0 >= t_count);
		if (c->body_left < 0) {
			char *e;
			size_t hlen, rest;

			c->rlen += (size_t)n;
			e = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
			if (!e)
				continue;
			hlen = (size_t)(e - c->rbuf) + 4;
			if (parse_head(c, hlen) != 0) {
				n_bad++;
				conn_reopen(c);
				return;
			}
			rest = c->rlen - hlen;
			memmove(c->rbuf, c->rbuf + hlen, rest);
			c->rlen = rest;
			if (!c->chunked) {
				c->body_left -= (long long)rest;
				c->rlen = 0;
			}
		} else if (c->chunked) {
			c->rlen += (size_t)n;
		} else {
			c->body_left -= n;
		}
		if ((c->chunked && chunked_done(c)) ||
		    (!c->chunked && c->body_left <= 0)) {
			record(c, t);
			if (c->close_after) {
				/* asked for by the server: not a failure */
				unsigned long long before = n_reconnect;

				conn_reopen(c);
				n_reconnect = before;
			}
			start_request(c);
			return;
		}
	}
}

/* 1 when the connection had to be opened again */
static int
on_writable(struct hconn *c)
{
	if (!c->connected) {
		int err = 0;
		socklen_t l = sizeof(err);

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err) {
			errno = err;
			die("connect");
		}
		c->connected = 1;
	}
	while (c->sent < c->req_len) {
		ssize_t n = write(c->fd, c->req + c->sent, c->req_len - c->sent);

		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0) {
			conn_reopen(c);
			return 1;
		}
		c->sent += (size_t)n;
	}
	want(c, EPOLLIN);
	return 0;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static double
pct(double p)
{
	size_t i;

	if (!n_lat)
		return 0;
	i = (size_t)(p * (double)(n_lat - 1) + 0.5);
	return lat[i];
}

static void
usage(void)
{
	fprintf(stderr, "usage: hload -p PORT [-c CONNS] [-d SECONDS] "
	        "[-w WARMUP] [-m METHOD] [-s STATUS] [-R] PATH\n");
	exit(64);
}

int
main(int argc, char **argv)
{
	struct hconn *conns;
	struct epoll_event evs[64];
	struct rusage ru;
	double t_end, secs, cpu;
	int starved = 0;
	int o;

	while ((o = getopt(argc, argv, "p:c:d:w:m:s:R")) != -1) {
		switch (o) {
		case 'p': opt_port = atoi(optarg); break;
		case 'c': opt_conns = atoi(optarg); break;
		case 'd': opt_secs = atof(optarg); break;
		case 'w': opt_warm = atof(optarg); break;
		case 'm': opt_method = optarg; break;
		case 's': opt_status = atoi(optarg); break;
		case 'R': opt_real_ip = 1; break;
		default: usage();
		}
	}
	if (optind != argc - 1 || opt_port <= 0 || opt_conns < 1 ||
	    opt_conns > MAX_CONNS || opt_secs <= 0 || opt_warm < 0)
		usage();
	opt_path = argv[optind];
	ep = epoll_create1(0);
	if (ep < 0)
		die("epoll_create1");
	conns = calloc((size_t)opt_conns, sizeof(*conns));
	if (!conns)
		die("calloc");
	t_start = now_us();
	t_count = t_start + opt_warm * 1e6;
	t_end = t_count + opt_secs * 1e6;
	for (int i = 0; i < opt_conns; i++) {
		conn_open(&conns[i]);
		start_request(&conns[i]);
	}
	for (;;) {
		int n = epoll_wait(ep, evs, 64, 100);
		double t = now_us();

		if (t >= t_end)
			break;
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int i = 0; i < n; i++) {
			struct hconn *c = evs[i].data.ptr;

			if ((evs[i].events & EPOLLOUT) && c->sent < c->req_len &&
			    on_writable(c))
				continue;
			if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				on_readable(c, t);
		}
	}
	secs = (t_end - t_count) / 1e6;
	for (int i = 0; i < opt_conns; i++)
		starved += conns[i].done == 0;
	qsort(lat, n_lat, sizeof(*lat), cmp_u32);
	getrusage(RUSAGE_SELF, &ru);
	cpu = ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 +
	      ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3;
	printf("requests %zu bad %llu reconnects %llu secs %.3f rps %.1f "
	       "p50_us %.0f p90_us %.0f p99_us %.0f max_us %.0f resp_bytes %.0f "
	       "client_cpu_ms %.0f starved %d\n", n_lat, n_bad, n_reconnect,
	       secs, n_lat / secs, pct(0.50), pct(0.90), pct(0.99),
	       n_lat ? (double)lat[n_lat - 1] : 0.0,
	       n_lat ? (double)resp_bytes / (double)n_lat : 0.0, cpu, starved);
	for (int i = 0; i < opt_conns; i++) {
		close(conns[i].fd);
		free(conns[i].req);
	}
	free(conns);
	free(lat);
	close(ep);
	return fflush(stdout) == 0 ? 0 : 1;
}
