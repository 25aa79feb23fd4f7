/* SPDX-License-Identifier: MIT */
/*
 * xreg: the one XMPP client every registration benchmark uses (issue 5,
 * measurement 3), so that jabberd2 with our modules, stock jabberd2 and
 * Prosody are driven by exactly the same bytes and the same TLS.
 *
 * One flow: a new TCP connection to 127.0.0.1 (TCP_NODELAY on the client
 * side), stream header, STARTTLS, TLS 1.3 handshake (OpenSSL, certificate
 * not checked: the servers use self-signed RSA-2048), new stream, then
 *   [pre-auth]  <iq type='set'><preauth xmlns='urn:xmpp:pars:0' token=T/>
 *   register    <iq type='set'><query xmlns='jabber:iq:register'> with
 *               username and password (XEP-0077 legacy fields)
 *   [login]     SASL PLAIN on the same stream, stream restart, resource
 *               bind: the new user's first login
 * and </stream:stream>.  Each reply must be the success the step expects,
 * or the flow counts as failed (the step is reported, never a token).
 *
 *   xreg -p PORT [-d DOMAIN] [-n FLOWS] [-c CLIENTS] [-t TOKFILE]
 *        [-u PREFIX] [-L] [-T SECONDS]
 *
 * CLIENTS processes run FLOWS flows between them, one flow at a time
 * each; with -t, flow i uses line i of TOKFILE as its pre-auth token,
 * without it there is no pre-auth (open registration).  -L adds the first
 * login.  -T bounds the run: no flow starts after that many seconds, and
 * every read gives up after 10 s.  The summary line:
 *   flows N ok K failed F secs S flows_per_s R p50_ms A p99_ms B
 *   client_cpu_ms_per_flow C tls V
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#define BUF_MAX 65536
#define PASSWORD "bench-Passw0rd"

enum step {
	S_OK = 0, S_CONNECT, S_STREAM, S_STARTTLS, S_TLS, S_STREAM2,
	S_PREAUTH, S_REGISTER, S_AUTH, S_STREAM3, S_BIND, S_MAX
};

static const char *const step_names[S_MAX] = {
	"ok", "connect", "stream", "starttls", "tls", "stream-after-tls",
	"preauth", "register", "auth", "stream-after-auth", "bind"
};

struct conn {
	int fd;
	SSL *ssl;
	char buf[BUF_MAX + 1];
	size_t len;     /* bytes in buf */
	size_t done;    /* bytes of buf already returned or skipped */
	int depth;      /* element depth at buf[done] */
};

/* What one flow left in the shared result table. */
struct result {
	double ms;
	int step;       /* S_OK or the step that failed */
};

static const char *opt_domain = "localhost";
static int opt_port, opt_login;
static char **tokens;
static size_t n_tokens;
static char tls_version[32] = "none";
static char last_reply[240];

/* Logged-in connections stay open until the run's clock has stopped. */
struct kept {
	int fd;
	SSL *ssl;
};
static struct kept *kept;
static size_t n_kept;

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
conn_write(struct conn *c, const char *s)
{
	size_t n = strlen(s), off = 0;

	while (off < n) {
		ssize_t w;

		if (c->ssl != NULL) {
			int r = SSL_write(c->ssl, s + off, (int)(n - off));

			if (r <= 0)
				return -1;
			w = r;
		} else {
			w = send(c->fd, s + off, n - off, MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return -1;
		}
		off += (size_t)w;
	}
	return 0;
}

static int
conn_fill(struct conn *c)
{
	ssize_t r;

	if (c->done > 0) {
		memmove(c->buf, c->buf + c->done, c->len - c->done);
		c->len -= c->done;
		c->done = 0;
	}
	if (c->len >= BUF_MAX)
		return -1;
	if (c->ssl != NULL) {
		int n = SSL_read(c->ssl, c->buf + c->len, (int)(BUF_MAX - c->len));

		if (n <= 0)
			return -1;
		r = n;
	} else {
		do
			r = recv(c->fd, c->buf + c->len, BUF_MAX - c->len, 0);
		while (r < 0 && errno == EINTR);
		if (r <= 0)
			return -1;
	}
	c->len += (size_t)r;
	c->buf[c->len] = '\0';

	return 0;
}

/* Start a new stream on c: forget what the old one left. */
static void
conn_restart(struct conn *c)
{
	c->len = c->done = 0;
	c->depth = 0;
}

/*
 * Scan from buf[done] for the end of a tag starting at p (a '<'); NULL
 * when the buffer ends first.  Quoted attribute values may hold '>'.
 */
static const char *
tag_end(const char *p, const char *end)
{
	char q = 0;

	for (p++; p < end; p++) {
		if (q) {
			if (*p == q)
				q = 0;
		} else if (*p == '\'' || *p == '"') {
			q = *p;
		} else if (*p == '>') {
			return p;
		}
	}
	return NULL;
}

/*
 * The next complete top-level element of the stream (a stanza, features,
 * proceed, success...): sets *st and *n, returns 0; -1 when the stream
 * ends or fails.  The stream header itself is skipped.
 */
static int
next_stanza(struct conn *c, const char **st, size_t *n)
{
	for (;;) {
		const char *p = c->buf + c->done, *end = c->buf + c->len;
		const char *start = NULL;
		int depth = c->depth;

		while (p < end) {
			const char *e;

			if (*p != '<') {
				p++;
				continue;
			}
			if (end - p < 4)
				break;
			if (p[1] == '?' || p[1] == '!') {
				e = tag_end(p, end);
				if (e == NULL)
					break;
				p = e + 1;
				if (depth <= 1 && start == NULL)
					c->done = (size_t)(p - c->buf);
				continue;
			}
			e = tag_end(p, end);
			if (e == NULL)
				break;
			if (p[1] == '/') {
				depth--;
				if (depth <= 0)
					return -1; /* </stream:stream> */
				if (depth == 1) {
					*st = start;
					*n = (size_t)(e + 1 - start);
					c->done = (size_t)(e + 1 - c->buf);
					c->depth = 1;
					return 0;
				}
			} else if (depth == 0) {
				depth = 1; /* the stream header */
				c->depth = 1;
				c->done = (size_t)(e + 1 - c->buf);
			} else if (e[-1] == '/') {
				if (depth == 1) {
					*st = p;
					*n = (size_t)(e + 1 - p);
					c->done = (size_t)(e + 1 - c->buf);
					return 0;
				}
			} else {
				if (depth == 1)
					start = p;
				depth++;
			}
			p = e + 1;
		}
		if (conn_fill(c) != 0)
			return -1;
	}
}

/* XREG_TRACE=1: the time of each step of each flow on stderr. */
static void
trace(const char *what)
{
	static double last;
	static int on = -1;
	double t;

	if (on < 0)
		on = getenv("XREG_TRACE") != NULL;
	if (!on)
		return;
	t = now_ms();
	if (what != NULL && last > 0)
		fprintf(stderr, "xreg: %8.3f ms  %s\n", t - last, what);
	last = t;
}

static int
has(const char *st, size_t n, const char *needle)
{
	return memmem(st, n, needle, strlen(needle)) != NULL;
}

static int
is_result(const char *st, size_t n)
{
	return strncmp(st, "<iq", 3) == 0 &&
	       (has(st, n, "type='result'") || has(st, n, "type=\"result\""));
}

/* Expect a stanza whose start is prefix (and, for IQs, a result). */
static int
expect(struct conn *c, const char *prefix, int iq_result)
{
	const char *st;
	size_t n;

	if (next_stanza(c, &st, &n) != 0) {
		snprintf(last_reply, sizeof(last_reply), "(connection ended: %s)",
		         c->len > c->done ? "partial data" : "no data");
		return -1;
	}
	if (strncmp(st, prefix, strlen(prefix)) == 0 &&
	    (!iq_result || is_result(st, n)))
		return 0;
	/* kept for the failure report; a reply never quotes the token, but
	 * cut at "token" all the same */
	snprintf(last_reply, sizeof(last_reply), "%.*s",
	         (int)(n < sizeof(last_reply) - 1 ? n : sizeof(last_reply) - 1), st);
	{
		char *t = strstr(last_reply, "token");

		if (t != NULL)
			*t = '\0';
	}
	return -1;
}

static int
open_stream(struct conn *c)
{
	char hdr[512];

	conn_restart(c);
	snprintf(hdr, sizeof(hdr),
	         "<?xml version='1.0'?><stream:stream to='%s' "
	         "xmlns='jabber:client' "
	         "xmlns:stream='http://etherx.jabber.org/streams' "
	         "version='1.0'>",
	         opt_domain);
	if (conn_write(c, hdr) != 0)
		return -1;
	return expect(c, "<stream:features", 0);
}

/* TCP connect, stream, STARTTLS, TLS 1.3, new stream: S_OK or a step. */
static int
conn_start(struct conn *c, SSL_CTX *ctx)
{
	struct sockaddr_in sa;
	struct timeval tv = { 10, 0 };
	int one = 1;

	memset(c, 0, sizeof(*c));
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return S_CONNECT;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)opt_port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	trace(NULL);
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		return S_CONNECT;
	trace("connect");
	if (open_stream(c) != 0)
		return S_STREAM;
	trace("stream");
	if (conn_write(c, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>") != 0 ||
	    expect(c, "<proceed", 0) != 0)
		return S_STARTTLS;
	trace("starttls");
	c->ssl = SSL_new(ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1 ||
	    SSL_set_tlsext_host_name(c->ssl, opt_domain) != 1 ||
	    SSL_connect(c->ssl) != 1)
		return S_TLS;
	trace("tls handshake");
	snprintf(tls_version, sizeof(tls_version), "%s", SSL_get_version(c->ssl));
	if (open_stream(c) != 0)
		return S_STREAM2;
	trace("stream after tls");
	return S_OK;
}

/* Close the stream and the connection. */
static void
conn_end(struct conn *c, int clean)
{
	if (c->fd < 0)
		return;
	if (clean && conn_write(c, "</stream:stream>") == 0) {
		/* a graceful end: wait (bounded) for the server to close its
		 * side, so that its clean-up is part of the flow it belongs to */
		c->len = c->done = 0;
		while (conn_fill(c) == 0 && c->len < BUF_MAX &&
		       strstr(c->buf, "</stream:stream>") == NULL)
			;
	}
	if (c->ssl != NULL) {
		if (clean)
			(void)SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	close(c->fd);
	c->fd = -1;
}

static int
flow(SSL_CTX *ctx, const char *user, const char *token)
{
	static struct conn conn;
	struct conn *c = &conn;
	char out[1024], plain[256], b64[400];
	int rc, pl;

	rc = conn_start(c, ctx);
	if (rc != S_OK)
		goto out;
	if (token != NULL) {
		snprintf(out, sizeof(out),
		         "<iq type='set' id='pa1' to='%s'>"
		         "<preauth xmlns='urn:xmpp:pars:0' token='%s'/></iq>",
		         opt_domain, token);
		if (conn_write(c, out) != 0 || expect(c, "<iq", 1) != 0) {
			rc = S_PREAUTH;
			goto out;
		}
		trace("pre-auth");
	}
	snprintf(out, sizeof(out),
	         "<iq type='set' id='r1'><query xmlns='jabber:iq:register'>"
	         "<username>%s</username><password>%s</password></query></iq>",
	         user, PASSWORD);
	if (conn_write(c, out) != 0 || expect(c, "<iq", 1) != 0) {
		rc = S_REGISTER;
		goto out;
	}
	trace("register");
	if (!opt_login)
		goto out;
	/*
	 * The first login, on a new connection as a client does after
	 * registering: jabberd2 2.7's c2s never answers a resource bind on
	 * the stream that registered the account, so every server gets the
	 * same two connections.
	 */
	conn_end(c, 1);
	trace("close");
	rc = conn_start(c, ctx);
	if (rc != S_OK)
		goto out;
	pl = snprintf(plain, sizeof(plain), "%c%s%c%s", 0, user, 0, PASSWORD);
	EVP_EncodeBlock((unsigned char *)b64, (unsigned char *)plain, pl);
	snprintf(out, sizeof(out),
	         "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
	         "mechanism='PLAIN'>%s</auth>",
	         b64);
	if (conn_write(c, out) != 0 || expect(c, "<success", 0) != 0) {
		rc = S_AUTH;
		goto out;
	}
	trace("sasl");
	if (open_stream(c) != 0) {
		rc = S_STREAM3;
		goto out;
	}
	if (conn_write(c, "<iq type='set' id='b1'><bind "
	                  "xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
	                  "<resource>bench</resource></bind></iq>") != 0 ||
	    expect(c, "<iq", 1) != 0) {
		rc = S_BIND;
		goto out;
	}
	trace("bind");
	/*
	 * The user stays online, as after a real first login, until the run
	 * ends.  Closing at once would also hit a jabberd2 2.7 race: c2s
	 * names sessions by their file descriptor, and the next connection,
	 * given the same descriptor, receives sm's late "session ended" and
	 * fails with internal-server-error.
	 */
	kept[n_kept].fd = c->fd;
	kept[n_kept++].ssl = c->ssl;
	c->fd = -1;
	c->ssl = NULL;
	return S_OK;
out:
	conn_end(c, rc == S_OK);
	return rc;
}

static void
load_tokens(const char *path)
{
	char line[256];
	size_t cap = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		perror(path);
		exit(66);
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		if (n_tokens == cap) {
			cap = cap ? cap * 2 : 256;
			tokens = realloc(tokens, cap * sizeof(*tokens));
			if (tokens == NULL)
				exit(70);
		}
		tokens[n_tokens] = strdup(line);
		if (tokens[n_tokens++] == NULL)
			exit(70);
	}
	fclose(f);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const double *v, size_t n, double q)
{
	size_t i = (size_t)(q * (double)n + 0.999999);

	if (n == 0)
		return 0;
	if (i < 1)
		i = 1;
	return v[(i > n ? n : i) - 1];
}

static void
usage(void)
{
	fprintf(stderr, "usage: xreg -p PORT [-d DOMAIN] [-n FLOWS] [-c CLIENTS] "
	                "[-t TOKFILE] [-u PREFIX] [-L] [-T SECONDS]\n");
	exit(64);
}

int
main(int argc, char **argv)
{
	const char *prefix = "bench", *tokfile = NULL;
	long flows = 100, clients = 1, limit_s = 120;
	struct result *res;
	struct rusage ru;
	double t0, t1, deadline, *lat;
	size_t ok = 0, failed = 0, fails[S_MAX] = { 0 };
	int pipefd[2], donefd[2], quitfd[2], c, status;
	double cpu_ms = 0;
	char byte;
	SSL_CTX *ctx;

	while ((c = getopt(argc, argv, "p:d:n:c:t:u:LT:")) != -1) {
		switch (c) {
		case 'p':
			opt_port = atoi(optarg);
			break;
		case 'd':
			opt_domain = optarg;
			break;
		case 'n':
			flows = atol(optarg);
			break;
		case 'c':
			clients = atol(optarg);
			break;
		case 't':
			tokfile = optarg;
			break;
		case 'u':
			prefix = optarg;
			break;
		case 'L':
			opt_login = 1;
			break;
		case 'T':
			limit_s = atol(optarg);
			break;
		default:
			usage();
		}
	}
	if (opt_port <= 0 || opt_port > 65535 || flows < 1 || flows > 1000000 ||
	    clients < 1 || clients > 64 || limit_s < 1 || strlen(prefix) > 40 ||
	    strlen(opt_domain) > 200)
		usage();
	if (tokfile != NULL) {
		load_tokens(tokfile);
		if (n_tokens < (size_t)flows) {
			fprintf(stderr, "xreg: %s has %zu tokens for %ld flows\n",
			        tokfile, n_tokens, flows);
			return 65;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
		fprintf(stderr, "xreg: cannot set up TLS 1.3\n");
		return 70;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	/* no session resumption: every flow is a new client's first contact */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);

	/* one slot per flow, then one per client for its CPU time */
	res = mmap(NULL, (size_t)(flows + clients) * sizeof(*res), PROT_READ | PROT_WRITE,
	           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	/* pipefd: "go", quitfd: "log out and exit", both signalled by the
	 * parent closing them; donefd: one byte per client when its flows
	 * are done */
	if (res == MAP_FAILED || pipe(pipefd) != 0 || pipe(donefd) != 0 ||
	    pipe(quitfd) != 0) {
		perror("xreg");
		return 71;
	}
	for (long i = 0; i < flows; i++) {
		res[i].ms = -1;
		res[i].step = S_CONNECT;
	}
	for (long k = 0; k < clients; k++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("xreg: fork");
			return 71;
		}
		if (pid == 0) {
			int reported = 0;
			char one;

			close(pipefd[1]);
			close(quitfd[1]);
			close(donefd[0]);
			kept = calloc((size_t)(flows / clients + 1), sizeof(*kept));
			if (kept == NULL)
				_exit(70);
			/* the barrier: start together when the parent closes */
			if (read(pipefd[0], &one, 1) < 0)
				_exit(71);
			deadline = now_ms() + (double)limit_s * 1e3;
			for (long i = k; i < flows; i += clients) {
				char user[96];
				double f0 = now_ms();

				if (f0 > deadline)
					break;
				snprintf(user, sizeof(user), "%s%ld", prefix, i);
				last_reply[0] = '\0';
				res[i].step = flow(ctx, user, tokfile ? tokens[i] : NULL);
				res[i].ms = now_ms() - f0;
				if (res[i].step != S_OK && reported++ < 3)
					fprintf(stderr, "xreg: flow %ld failed at %s: %s\n", i,
					        step_names[res[i].step], last_reply);
			}
			/* CPU so far, then tell the parent this client is done;
			 * log out when it says so */
			getrusage(RUSAGE_SELF, &ru);
			res[flows + k].ms =
			    (double)ru.ru_utime.tv_sec * 1e3 +
			    (double)ru.ru_utime.tv_usec / 1e3 +
			    (double)ru.ru_stime.tv_sec * 1e3 +
			    (double)ru.ru_stime.tv_usec / 1e3;
			if (write(donefd[1], "x", 1) != 1 ||
			    read(quitfd[0], &one, 1) < 0)
				_exit(71);
			for (size_t j = 0; j < n_kept; j++) {
				struct conn *lc = calloc(1, sizeof(*lc));

				if (lc == NULL)
					break;
				lc->fd = kept[j].fd;
				lc->ssl = kept[j].ssl;
				conn_end(lc, 1);
				free(lc);
			}
			/* the TLS version, through the first result's slot owner */
			if (k == 0)
				fprintf(stderr, "xreg: tls %s\n", tls_version);
			_exit(0);
		}
	}
	close(pipefd[0]);
	close(quitfd[0]);
	close(donefd[1]);
	t0 = now_ms();
	close(pipefd[1]); /* go */
	for (long k = 0; k < clients; k++)
		if (read(donefd[0], &byte, 1) != 1)
			break;
	t1 = now_ms();
	close(quitfd[1]); /* log out and exit */
	while (wait(&status) > 0 || errno == EINTR)
		;
	for (long k = 0; k < clients; k++)
		cpu_ms += res[flows + k].ms;

	lat = malloc((size_t)flows * sizeof(*lat));
	if (lat == NULL)
		return 70;
	for (long i = 0; i < flows; i++) {
		if (res[i].ms < 0)
			continue; /* not started: time limit */
		if (res[i].step == S_OK)
			lat[ok++] = res[i].ms;
		else {
			failed++;
			fails[res[i].step]++;
		}
	}
	qsort(lat, ok, sizeof(*lat), cmp_double);
	for (int s = 1; s < S_MAX; s++)
		if (fails[s] > 0)
			fprintf(stderr, "xreg: %zu flows failed at %s\n", fails[s],
			        step_names[s]);
	printf("flows %zu ok %zu failed %zu secs %.3f flows_per_s %.2f "
	       "p50_ms %.3f p99_ms %.3f client_cpu_ms_per_flow %.3f\n",
	       ok + failed, ok, failed, (t1 - t0) / 1e3,
	       (double)ok / ((t1 - t0) / 1e3), pct(lat, ok, 0.5),
	       pct(lat, ok, 0.99),
	       ok + failed > 0 ? cpu_ms / (double)(ok + failed) : 0.0);
	free(lat);
	SSL_CTX_free(ctx);
	return failed > 0 ? 1 : 0;
}
