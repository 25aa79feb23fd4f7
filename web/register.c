/* SPDX-License-Identifier: MIT */
/*
 * Web registration through the XMPP server, the way a client does it, so
 * that there is one registration path (roles, groups, roster pairing,
 * single use and the audit all happen in the server's engine) and any
 * XMPP server works: connect over loopback with libstrophe in raw mode,
 * STARTTLS when offered (or required), the XEP-0445 pre-auth IQ, then the
 * XEP-0077 registration set; the server's stanza errors are mapped to
 * results the form turns into messages.  One libstrophe context per call
 * (the calling HTTP thread owns it); libstrophe's logging is off (no
 * logger at all), since its debug output would carry the token and the
 * password.
 */
#include "config.h"

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
	ST_PREAUTH,    /* pre-auth IQ sent */
	ST_REGISTER,   /* registration set sent */
	ST_DONE
};

struct reg {
	const struct web_reg_req *req;
	enum reg_state state;
	enum web_reg_result result;
	char *text;
	size_t text_size;
	int register_sent;    /* the XEP-0077 set went out: no retry */
};

static void
finish(struct reg *r, xmpp_conn_t *conn, enum web_reg_result res)
{
	if (r->state == ST_DONE)
		return;
	r->state = ST_DONE;
	r->result = res;
	xmpp_disconnect(conn);
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
		if (r->req->tls != WEB_TLS_OPTIONAL) {
			finish(r, conn, WEB_REG_UNAVAILABLE);
			return 0;
		}
	}
	send_preauth(r, conn);
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

/* A connection being closed, and the state its handlers still see. */
struct web_reg_conn {
	xmpp_ctx_t *ctx;
	xmpp_conn_t *conn;
	struct reg r;
};

void
web__register_close(struct web_reg_conn *c)
{
	int64_t deadline;

	if (!c)
		return;
	/* let the closing </stream:stream> go out, briefly */
	deadline = inv__monotonic_ms() + 200;
	while (!xmpp_conn_is_disconnected(c->conn) && inv__monotonic_ms() < deadline)
		xmpp_run_once(c->ctx, 10);
	xmpp_conn_release(c->conn);
	xmpp_ctx_free(c->ctx);
	free(c);
}

/* One connection's try, until deadline; *c_r is the connection to close
 * (NULL when none was made). */
static enum web_reg_result
attempt(const struct web_reg_req *req, char *text_r, size_t text_size,
        int64_t deadline, struct web_reg_conn **c_r, int *register_sent)
{
	struct web_reg_conn *c;
	struct reg *r;
	enum web_reg_result res;
	long flags;

	*c_r = NULL;
	*register_sent = 0;
	if (text_r && text_size)
		text_r[0] = '\0';
	/* (on the heap: the handlers run until the connection is closed) */
	c = inv__calloc(1, sizeof(*c));
	if (!c)
		return WEB_REG_ERROR;
	r = &c->r;
	r->req = req;
	r->result = WEB_REG_UNAVAILABLE;
	r->text = text_r;
	r->text_size = text_size;

	/* no logger: libstrophe then formats no message at all (a handler that
	 * drops them would still have every sent stanza, the password
	 * included, printed into a buffer first) */
	c->ctx = xmpp_ctx_new(NULL, NULL);
	c->conn = c->ctx ? xmpp_conn_new(c->ctx) : NULL;
	if (!c->conn) {
		res = WEB_REG_ERROR;
		goto unmade;
	}
	flags = XMPP_CONN_FLAG_DISABLE_SM;
	if (req->tls != WEB_TLS_VERIFY)
		flags |= XMPP_CONN_FLAG_TRUST_TLS;
	xmpp_conn_set_flags(c->conn, flags);
	/* raw mode takes the stream's 'to' from the JID's domain */
	xmpp_conn_set_jid(c->conn, req->domain);
	if (xmpp_connect_raw(c->conn, req->host, req->port, on_conn, r) !=
	    XMPP_EOK) {
		res = WEB_REG_UNAVAILABLE;
		goto unmade;
	}
	while (r->state != ST_DONE && inv__monotonic_ms() < deadline)
		xmpp_run_once(c->ctx, 20);
	if (r->state != ST_DONE) {
		/* time-out: an unfinished registration is unknown */
		r->result = r->state == ST_REGISTER ? WEB_REG_ERROR
						    : WEB_REG_UNAVAILABLE;
		r->state = ST_DONE;
		xmpp_disconnect(c->conn);
	}
	res = r->result;
	*register_sent = r->register_sent;
	/* nothing the caller lent is used from here on */
	r->req = NULL;
	r->text = NULL;
	r->text_size = 0;
	*c_r = c;
	return res;

unmade:
	/* no connection was made: nothing to close */
	if (c->conn)
		xmpp_conn_release(c->conn);
	if (c->ctx)
		xmpp_ctx_free(c->ctx);
	free(c);
	return res;
}

enum web_reg_result
web__register(const struct web_reg_req *req, char *text_r, size_t text_size,
              struct web_reg_conn **closing_r)
{
	struct web_reg_conn *c;
	enum web_reg_result res;
	int64_t deadline;
	int sent;

	if (closing_r)
		*closing_r = NULL;
	deadline = inv__monotonic_ms() + (req->timeout_ms ? req->timeout_ms : 10000);
	res = attempt(req, text_r, text_size, deadline, &c, &sent);
	/* A connection that failed before the registration went out changed
	 * nothing (pre-auth only checks the token): try once more on a new
	 * one, within the same deadline.  (jabberd2 2.7's c2s, for one, can
	 * hand a closed connection's late "session ended" to the new one
	 * that got its descriptor: see bench/xreg.c.) */
	if (!sent && (res == WEB_REG_UNAVAILABLE || res == WEB_REG_ERROR) &&
	    inv__monotonic_ms() < deadline) {
		web__register_close(c);
		res = attempt(req, text_r, text_size, deadline, &c, &sent);
	}
	if (closing_r)
		*closing_r = c;
	else
		web__register_close(c);
	return res;
}
