/* SPDX-License-Identifier: MIT */
/*
 * Web registration through the XMPP server, the way a client does it, so
 * that there is one registration path (roles, groups, roster pairing,
 * single use and the audit all happen in the server's engine) and any
 * XMPP server works: connect over loopback with libstrophe in raw mode,
 * STARTTLS when offered (or required), the XEP-0445 pre-auth IQ, then the
 * XEP-0077 registration set; the server's stanza errors are mapped to
 * results the form turns into messages.  One libstrophe context per
 * connection, owned by one thread at a time; libstrophe's logging is off
 * (no logger at all), since its debug output would carry the token and
 * the password.
 *
 * A pool (web__reg_pool_*) keeps a few connections ready while
 * registrations come in: connected, STARTTLS done, the server's features
 * read, nothing sent.  Each serves one registration and is then closed,
 * as a fresh one would be; what the pool saves is the connection set-up
 * on the visitor's wait (TCP, two stream headers, the TLS handshake).
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strophe.h>

#include "web.h"

#define NS_STREAMS  "http://etherx.jabber.org/streams"
#define NS_TLS      "urn:ietf:params:xml:ns:xmpp-tls"
#define NS_STANZAS  "urn:ietf:params:xml:ns:xmpp-stanzas"
#define NS_PARS     "urn:xmpp:pars:0"
#define NS_REGISTER "jabber:iq:register"

enum reg_state {
	ST_CONNECTING,
	ST_STARTTLS,   /* <starttls/> sent */
	ST_SECURE,     /* stream reopened after TLS */
	ST_READY,      /* features read, nothing sent: a pooled connection */
	ST_PREAUTH,    /* pre-auth IQ sent */
	ST_REGISTER,   /* registration set sent */
	ST_DONE
};

struct reg {
	const struct web_reg_req *req;  /* NULL while made for the pool */
	enum web_tls_mode tls;
	enum reg_state state;
	enum web_reg_result result;
	char *text;
	size_t text_size;
	int register_sent;    /* the XEP-0077 set went out: no retry */
	int hung_up;          /* our </stream:stream> is queued */
};

/* Close the stream (once: libstrophe would queue a second close tag). */
static void
hang_up(struct reg *r, xmpp_conn_t *conn)
{
	if (r->hung_up)
		return;
	r->hung_up = 1;
	xmpp_disconnect(conn);
}

static void
finish(struct reg *r, xmpp_conn_t *conn, enum web_reg_result res)
{
	if (r->state == ST_DONE)
		return;
	r->state = ST_DONE;
	r->result = res;
	hang_up(r, conn);
}

static void
take_text(struct reg *r, xmpp_stanza_t *error)
{
	xmpp_stanza_t *t;
	char *s;

	t = xmpp_stanza_get_child_by_name_and_ns(error, "text", NS_STANZAS);
	if (!t || !r->text || !r->text_size)
		return;
	s = xmpp_stanza_get_text(t);
	if (!s)
		return;
	snprintf(r->text, r->text_size, "%s", s);
	xmpp_free(xmpp_stanza_get_context(t), s);
}

/* The defined condition of an <error/> (its first element child). */
static const char *
condition(xmpp_stanza_t *error)
{
	xmpp_stanza_t *c;

	for (c = xmpp_stanza_get_children(error); c; c = xmpp_stanza_get_next(c)) {
		const char *ns;

		if (!xmpp_stanza_is_tag(c))
			continue;
		ns = xmpp_stanza_get_ns(c);
		if (ns && strcmp(ns, NS_STANZAS) == 0 &&
		    strcmp(xmpp_stanza_get_name(c), "text") != 0)
			return xmpp_stanza_get_name(c);
	}
	return "undefined-condition";
}

static enum web_reg_result
map_error(struct reg *r, xmpp_stanza_t *iq, int preauth)
{
	xmpp_stanza_t *error = xmpp_stanza_get_child_by_name(iq, "error");
	const char *cond;

	if (!error)
		return WEB_REG_ERROR;
	take_text(r, error);
	cond = condition(error);
	if (strcmp(cond, "item-not-found") == 0 ||
	    (preauth && (strcmp(cond, "forbidden") == 0 ||
	                 strcmp(cond, "not-allowed") == 0)))
		return WEB_REG_TOKEN;
	if (strcmp(cond, "conflict") == 0)
		return WEB_REG_CONFLICT;
	if (strcmp(cond, "jid-malformed") == 0)
		return WEB_REG_USERNAME;
	if (strcmp(cond, "not-acceptable") == 0) {
		/* used for both username rules and password policy */
		if (r->text && (strstr(r->text, "assword") ||
		                strstr(r->text, "weak")))
			return WEB_REG_PASSWORD;
		return WEB_REG_USERNAME;
	}
	if (strcmp(cond, "not-allowed") == 0 ||
	    strcmp(cond, "forbidden") == 0 ||
	    strcmp(cond, "registration-required") == 0)
		return WEB_REG_NOT_ALLOWED;
	if (strcmp(cond, "policy-violation") == 0 ||
	    strcmp(cond, "resource-constraint") == 0)
		return WEB_REG_LIMIT;
	return WEB_REG_ERROR;
}

static int
on_register(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
	struct reg *r = ud;
	const char *type = xmpp_stanza_get_type(st);

	if (r->state != ST_REGISTER)
		return 0;
	if (type && strcmp(type, "result") == 0)
		finish(r, conn, WEB_REG_OK);
	else
		finish(r, conn, map_error(r, st, 0));
	return 0;
}

static void
send_register(struct reg *r, xmpp_conn_t *conn)
{
	struct inv__buf b;
	char *s;

	inv__buf_init(&b);
	inv__buf_puts(&b, "<iq type='set' id='web-reg' to='");
	web__xml_escape(&b, r->req->domain);
	inv__buf_puts(&b, "'><query xmlns='" NS_REGISTER "'><username>");
	web__xml_escape(&b, r->req->username);
	inv__buf_puts(&b, "</username><password>");
	web__xml_escape(&b, r->req->password);
	inv__buf_puts(&b, "</password></query></iq>");
	s = inv__buf_steal(&b);
	if (!s) {
		finish(r, conn, WEB_REG_ERROR);
		return;
	}
	r->state = ST_REGISTER;
	r->register_sent = 1;
	xmpp_id_handler_add(conn, on_register, "web-reg", r);
	xmpp_send_raw(conn, s, strlen(s));
	inv__cleanse(s, strlen(s));
	free(s);
}

static int
on_preauth(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
	struct reg *r = ud;
	const char *type = xmpp_stanza_get_type(st);

	if (r->state != ST_PREAUTH)
		return 0;
	if (type && strcmp(type, "result") == 0)
		send_register(r, conn);
	else
		finish(r, conn, map_error(r, st, 1));
	return 0;
}

static void
send_preauth(struct reg *r, xmpp_conn_t *conn)
{
	struct inv__buf b;
	char *s;

	inv__buf_init(&b);
	inv__buf_puts(&b, "<iq type='set' id='web-preauth' to='");
	web__xml_escape(&b, r->req->domain);
	inv__buf_puts(&b, "'><preauth xmlns='" NS_PARS "' token='");
	web__xml_escape(&b, r->req->token);
	inv__buf_puts(&b, "'/></iq>");
	s = inv__buf_steal(&b);
	if (!s) {
		finish(r, conn, WEB_REG_ERROR);
		return;
	}
	r->state = ST_PREAUTH;
	xmpp_id_handler_add(conn, on_preauth, "web-preauth", r);
	xmpp_send_raw(conn, s, strlen(s));
	inv__cleanse(s, strlen(s));
	free(s);
}

static int
on_tls(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
	struct reg *r = ud;

	if (r->state != ST_STARTTLS)
		return 0;
	if (strcmp(xmpp_stanza_get_name(st), "proceed") != 0 ||
	    xmpp_conn_tls_start(conn) != XMPP_EOK) {
		finish(r, conn, WEB_REG_UNAVAILABLE);
		return 0;
	}
	r->state = ST_SECURE;
	if (xmpp_conn_open_stream_default(conn) != XMPP_EOK)
		finish(r, conn, WEB_REG_UNAVAILABLE);
	return 0;
}

static int
on_features(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
	struct reg *r = ud;
	xmpp_stanza_t *starttls;

	if (r->state == ST_DONE)
		return 0;
	starttls = xmpp_stanza_get_child_by_name_and_ns(st, "starttls", NS_TLS);
	if (!xmpp_conn_is_secured(conn)) {
		if (starttls) {
			r->state = ST_STARTTLS;
			xmpp_handler_add(conn, on_tls, NS_TLS, NULL, NULL, r);
			xmpp_send_raw_string(conn, "<starttls xmlns='%s'/>", NS_TLS);
			return 1;
		}
		if (r->tls != WEB_TLS_OPTIONAL) {
			finish(r, conn, WEB_REG_UNAVAILABLE);
			return 0;
		}
	}
	if (r->req)
		send_preauth(r, conn);
	else
		r->state = ST_READY;
	return 0;
}

static void
on_conn(xmpp_conn_t *conn, xmpp_conn_event_t ev, int error,
        xmpp_stream_error_t *stream_error, void *ud)
{
	struct reg *r = ud;

	(void)error;
	(void)stream_error;
	if (ev == XMPP_CONN_RAW_CONNECT) {
		xmpp_handler_add(conn, on_features, NS_STREAMS, "features", NULL, r);
		if (xmpp_conn_open_stream_default(conn) != XMPP_EOK)
			finish(r, conn, WEB_REG_UNAVAILABLE);
		return;
	}
	if (ev == XMPP_CONN_DISCONNECT || ev == XMPP_CONN_FAIL) {
		if (r->state != ST_DONE) {
			/* a result after the set was sent is unknown: ERROR */
			r->result = r->state == ST_REGISTER ? WEB_REG_ERROR
							  : WEB_REG_UNAVAILABLE;
			r->state = ST_DONE;
		}
	}
}

int
web__register_init(void)
{
	xmpp_initialize();
	return 0;
}

void
web__register_shutdown(void)
{
	xmpp_shutdown();
}

/* A connection, and the state its handlers see until it is closed. */
struct web_reg_conn {
	xmpp_ctx_t *ctx;
	xmpp_conn_t *conn;
	int64_t ready_at;     /* when it joined the pool */
	struct reg r;
};

void
web__register_close(struct web_reg_conn *c)
{
	int64_t deadline;

	if (!c)
		return;
	hang_up(&c->r, c->conn);
	/* let the closing </stream:stream> go out, briefly */
	deadline = inv__monotonic_ms() + 200;
	while (!xmpp_conn_is_disconnected(c->conn) && inv__monotonic_ms() < deadline)
		xmpp_run_once(c->ctx, 10);
	xmpp_conn_release(c->conn);
	xmpp_ctx_free(c->ctx);
	free(c);
}

/* A new connection to host:port, under way (NULL when none could be
 * started: *res_r says why).  With req NULL it stops when ready. */
static struct web_reg_conn *
conn_start(const char *host, unsigned short port, const char *domain,
           enum web_tls_mode tls, const struct web_reg_req *req,
           enum web_reg_result *res_r)
{
	struct web_reg_conn *c;
	long flags;

	/* (on the heap: the handlers run until the connection is closed) */
	c = inv__calloc(1, sizeof(*c));
	if (!c) {
		*res_r = WEB_REG_ERROR;
		return NULL;
	}
	c->r.req = req;
	c->r.tls = tls;
	c->r.result = WEB_REG_UNAVAILABLE;
	/* no logger: libstrophe then formats no message at all (a handler that
	 * drops them would still have every sent stanza, the password
	 * included, printed into a buffer first) */
	c->ctx = xmpp_ctx_new(NULL, NULL);
	c->conn = c->ctx ? xmpp_conn_new(c->ctx) : NULL;
	if (!c->conn) {
		*res_r = WEB_REG_ERROR;
		goto unmade;
	}
	flags = XMPP_CONN_FLAG_DISABLE_SM;
	if (tls != WEB_TLS_VERIFY)
		flags |= XMPP_CONN_FLAG_TRUST_TLS;
	xmpp_conn_set_flags(c->conn, flags);
	/* raw mode takes the stream's 'to' from the JID's domain */
	xmpp_conn_set_jid(c->conn, domain);
	if (xmpp_connect_raw(c->conn, host, port, on_conn, &c->r) != XMPP_EOK) {
		*res_r = WEB_REG_UNAVAILABLE;
		goto unmade;
	}
	return c;

unmade:
	/* no connection was made: nothing to close */
	if (c->conn)
		xmpp_conn_release(c->conn);
	if (c->ctx)
		xmpp_ctx_free(c->ctx);
	free(c);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Connections kept ready                                              */
/* ------------------------------------------------------------------ */

#define POOL_MAX 32
#define POOL_MAKERS 4         /* threads making connections, at most */
#define POOL_IDLE_MS 30000    /* all closed this long after the last take */
#define POOL_AGE_MS 300000    /* each closed at this age, used or not */
#define POOL_RETRY_MS 1000    /* after a connection could not be made */

struct web_reg_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t threads[POOL_MAKERS];
	unsigned n_threads;
	int stopping;
	unsigned size;             /* connections kept ready, at most */
	unsigned making;           /* being made by the threads */
	int64_t retry_at;          /* no new one before (after a failure) */
	unsigned n;
	struct web_reg_conn *ready[POOL_MAX];   /* newest last */
	int64_t wanted_at;         /* last registration: 0 before the first */
	int64_t win_start;         /* registrations in this POOL_IDLE_MS window */
	unsigned win_cur, win_prev;   /* and in the one before */
	unsigned made, used, dropped, missed;  /* for the log at the end */
	char *host, *domain;
	unsigned short port;
	enum web_tls_mode tls;
	unsigned timeout_ms;
};

/* How many to keep ready: as many as registrations came in the last
 * window or two, so that one registration now and then costs the server
 * one connection made ahead, not size of them.  Under the lock. */
static unsigned
pool_target(struct web_reg_pool *p, int64_t now)
{
	unsigned n;

	if (now - p->win_start >= POOL_IDLE_MS) {
		p->win_prev = now - p->win_start < 2 * POOL_IDLE_MS ? p->win_cur : 0;
		p->win_cur = 0;
		p->win_start = now;
	}
	n = p->win_cur + p->win_prev;
	return n < p->size ? n : p->size;
}

/* A connection made ready, or NULL. */
static struct web_reg_conn *
pool_make(const struct web_reg_pool *p)
{
	struct web_reg_conn *c;
	enum web_reg_result res;
	int64_t deadline = inv__monotonic_ms() + p->timeout_ms;

	c = conn_start(p->host, p->port, p->domain, p->tls, NULL, &res);
	if (!c)
		return NULL;
	/* (stopping is read unlocked: a stop need not wait for the server) */
	while (c->r.state != ST_READY && c->r.state != ST_DONE &&
	       inv__monotonic_ms() < deadline &&
	       !__atomic_load_n(&p->stopping, __ATOMIC_RELAXED))
		xmpp_run_once(c->ctx, 20);
	if (c->r.state != ST_READY) {
		web__register_close(c);
		return NULL;
	}
	return c;
}

/*
 * The pool's threads: while registrations came in the last POOL_IDLE_MS,
 * they keep up to pool_target() connections ready (several threads, so
 * that registrations that come at once are replaced at once).  After that long
 * without one they close them all, so an idle daemon holds no connection
 * to the server; a connection that waited POOL_AGE_MS is replaced, so
 * that none outlives what a firewall between the two may allow.
 */
static void *
pool_main(void *arg)
{
	struct web_reg_pool *p = arg;
	struct web_reg_conn *c, *old[POOL_MAX];
	int64_t now, wake;
	unsigned i, n_old, target;
	int idle;
	struct timespec ts;

	pthread_mutex_lock(&p->lock);
	while (!p->stopping) {
		now = inv__monotonic_ms();
		idle = !p->wanted_at || now - p->wanted_at >= POOL_IDLE_MS;
		/* the oldest are first */
		for (n_old = 0; n_old < p->n &&
		     (idle || now - p->ready[n_old]->ready_at >= POOL_AGE_MS);
		     n_old++)
			old[n_old] = p->ready[n_old];
		if (n_old) {
			p->n -= n_old;
			memmove(p->ready, p->ready + n_old,
			        p->n * sizeof(p->ready[0]));
			pthread_mutex_unlock(&p->lock);
			for (i = 0; i < n_old; i++)
				web__register_close(old[i]);
			web__log(INVITES_LOG_DEBUG, "XMPP connections for %s "
			         "closed unused: %u (%s)", p->domain, n_old,
			         idle ? "no registration for a while" : "too old");
			pthread_mutex_lock(&p->lock);
			continue;
		}
		target = pool_target(p, now);
		if (!idle && p->n + p->making < target && now >= p->retry_at) {
			p->making++;
			if (p->n + p->making < target)
				pthread_cond_signal(&p->cond); /* another, too */
			pthread_mutex_unlock(&p->lock);
			c = pool_make(p);
			pthread_mutex_lock(&p->lock);
			p->making--;
			if (!c) {
				p->retry_at = inv__monotonic_ms() + POOL_RETRY_MS;
				continue;
			}
			if (p->stopping || p->n == p->size) {
				pthread_mutex_unlock(&p->lock);
				web__register_close(c);
				pthread_mutex_lock(&p->lock);
				continue;
			}
			c->ready_at = inv__monotonic_ms();
			p->ready[p->n++] = c;
			p->made++;
			web__log(INVITES_LOG_DEBUG, "XMPP connection for %s ready "
			         "(%u waiting, %u wanted)", p->domain, p->n,
			         pool_target(p, inv__monotonic_ms()));
			continue;
		}
		/* sleep until the pool is idle, the oldest is too old, a retry
		 * is due, or a take */
		wake = now + POOL_AGE_MS;
		if (p->n) {
			wake = p->wanted_at + POOL_IDLE_MS;
			if (p->ready[0]->ready_at + POOL_AGE_MS < wake)
				wake = p->ready[0]->ready_at + POOL_AGE_MS;
		}
		if (p->n + p->making < target && p->retry_at > now &&
		    p->retry_at < wake)
			wake = p->retry_at;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		wake -= now;
		ts.tv_sec += wake / 1000;
		ts.tv_nsec += (long)(wake % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&p->cond, &p->lock, &ts);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int
web__reg_pool_start(const char *host, unsigned short port, const char *domain,
                    enum web_tls_mode tls, unsigned timeout_ms, unsigned size,
                    struct web_reg_pool **pool_r)
{
	struct web_reg_pool *p;
	pthread_condattr_t ca;

	*pool_r = NULL;
	if (size == 0)
		return 0;
	p = inv__calloc(1, sizeof(*p));
	if (!p)
		return -1;
	p->size = size > POOL_MAX ? POOL_MAX : size;
	p->port = port;
	p->tls = tls;
	p->timeout_ms = timeout_ms ? timeout_ms : 10000;
	p->host = inv__strdup(host);
	p->domain = inv__strdup(domain);
	if (!p->host || !p->domain)
		goto fail;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	for (; p->n_threads < p->size && p->n_threads < POOL_MAKERS;
	     p->n_threads++)
		if (pthread_create(&p->threads[p->n_threads], NULL, pool_main,
		                   p) != 0)
			break;
	if (p->n_threads == 0) {
		pthread_cond_destroy(&p->cond);
		pthread_mutex_destroy(&p->lock);
		goto fail;
	}
	*pool_r = p;
	return 0;
fail:
	free(p->host);
	free(p->domain);
	free(p);
	return -1;
}

void
web__reg_pool_stop(struct web_reg_pool **pool_r)
{
	struct web_reg_pool *p = *pool_r;
	unsigned i;

	if (!p)
		return;
	*pool_r = NULL;
	pthread_mutex_lock(&p->lock);
	__atomic_store_n(&p->stopping, 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	for (i = 0; i < p->n; i++)
		web__register_close(p->ready[i]);
	web__log(INVITES_LOG_NOTICE, "XMPP connections for %s made ready "
	         "ahead: %u, used: %u, found closed: %u; registrations "
	         "without one: %u", p->domain, p->made, p->used, p->dropped,
	         p->missed);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p->host);
	free(p->domain);
	free(p);
}

/* A ready connection to the server req names, or NULL.  Whatever the
 * server sent while it waited is read first: one it closed is dropped. */
static struct web_reg_conn *
pool_take(struct web_reg_pool *p, const struct web_reg_req *req)
{
	struct web_reg_conn *c;
	int ok, first = 1;

	if (!p || p->port != req->port || p->tls != req->tls ||
	    strcmp(p->host, req->host) != 0 || strcmp(p->domain, req->domain) != 0)
		return NULL;
	for (;;) {
		pthread_mutex_lock(&p->lock);
		p->wanted_at = inv__monotonic_ms();
		if (first) {
			(void)pool_target(p, p->wanted_at);
			p->win_cur++;
			first = 0;
		}
		c = p->n ? p->ready[--p->n] : NULL;
		if (!c)
			p->missed++;
		/* (logged under the lock, so that the log has the order) */
		web__log(INVITES_LOG_DEBUG, "XMPP connection for %s %s (%u "
		         "waiting)", p->domain, c ? "taken" : "wanted, none ready",
		         p->n);
		pthread_cond_signal(&p->cond);
		pthread_mutex_unlock(&p->lock);
		if (!c)
			return NULL;
		xmpp_run_once(c->ctx, 0);
		ok = c->r.state == ST_READY && !xmpp_conn_is_disconnected(c->conn);
		pthread_mutex_lock(&p->lock);
		if (ok)
			p->used++;
		else
			p->dropped++;
		pthread_mutex_unlock(&p->lock);
		if (ok)
			return c;
		web__register_close(c);
	}
}

/* ------------------------------------------------------------------ */
/* One registration                                                    */
/* ------------------------------------------------------------------ */

/* One connection's try, until deadline, on a pooled connection when pool
 * has one; *c_r is the connection to close (NULL when none was made). */
static enum web_reg_result
attempt(struct web_reg_pool *pool, const struct web_reg_req *req,
        char *text_r, size_t text_size, int64_t deadline,
        struct web_reg_conn **c_r, int *register_sent)
{
	struct web_reg_conn *c;
	struct reg *r;
	enum web_reg_result res;

	*c_r = NULL;
	*register_sent = 0;
	if (text_r && text_size)
		text_r[0] = '\0';
	c = pool_take(pool, req);
	if (c) {
		c->r.req = req;
		send_preauth(&c->r, c->conn);
	} else {
		c = conn_start(req->host, req->port, req->domain, req->tls, req,
		               &res);
		if (!c)
			return res;
	}
	r = &c->r;
	r->text = text_r;
	r->text_size = text_size;
	while (r->state != ST_DONE && inv__monotonic_ms() < deadline)
		xmpp_run_once(c->ctx, 20);
	if (r->state != ST_DONE) {
		/* time-out: an unfinished registration is unknown */
		r->result = r->state == ST_REGISTER ? WEB_REG_ERROR
						    : WEB_REG_UNAVAILABLE;
		r->state = ST_DONE;
		hang_up(r, c->conn);
	}
	res = r->result;
	*register_sent = r->register_sent;
	/* nothing the caller lent is used from here on */
	r->req = NULL;
	r->text = NULL;
	r->text_size = 0;
	*c_r = c;
	return res;
}

enum web_reg_result
web__register(struct web_reg_pool *pool, const struct web_reg_req *req,
              char *text_r, size_t text_size, struct web_reg_conn **closing_r)
{
	struct web_reg_conn *c;
	enum web_reg_result res;
	int64_t deadline;
	int sent;

	if (closing_r)
		*closing_r = NULL;
	deadline = inv__monotonic_ms() + (req->timeout_ms ? req->timeout_ms : 10000);
	res = attempt(pool, req, text_r, text_size, deadline, &c, &sent);
	/* A connection that failed before the registration went out changed
	 * nothing (pre-auth only checks the token): try once more on a new
	 * one, within the same deadline.  (jabberd2 2.7's c2s, for one, can
	 * hand a closed connection's late "session ended" to the new one
	 * that got its descriptor: see bench/xreg.c.)  The pool's other
	 * connections are as old as the one that failed: a new one it is. */
	if (!sent && (res == WEB_REG_UNAVAILABLE || res == WEB_REG_ERROR) &&
	    inv__monotonic_ms() < deadline) {
		web__register_close(c);
		res = attempt(NULL, req, text_r, text_size, deadline, &c, &sent);
	}
	if (closing_r)
		*closing_r = c;
	else
		web__register_close(c);
	return res;
}
