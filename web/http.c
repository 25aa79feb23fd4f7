/* SPDX-License-Identifier: MIT */
/*
 * The HTTP side of invites-web on libmicrohttpd: a small pool of epoll
 * threads serves every connection (cheap pages, no thread per visitor); a
 * web registration, which waits on the XMPP server, runs in a worker thread
 * of its own with its connection suspended, so it holds up nobody else.
 * TCP_NODELAY on every socket, bounded request bodies, routing
 * below the public base path, static assets served from memory, and one
 * place (web__send) that puts the security headers on every answer.  The
 * access log names routes and public ids, never a request path, since
 * paths carry tokens.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "http.h"

#define CSP "default-src 'none'; script-src 'self'; style-src 'self'; " \
	"img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; " \
	"base-uri 'none'"

const char *
web__header(struct web_req *q, const char *name)
{
	return MHD_lookup_connection_value(q->c, MHD_HEADER_KIND, name);
}

const char *
web__cookie(struct web_req *q, const char *name)
{
	return MHD_lookup_connection_value(q->c, MHD_COOKIE_KIND, name);
}

const char *
web__query(struct web_req *q, const char *name)
{
	return MHD_lookup_connection_value(q->c, MHD_GET_ARGUMENT_KIND, name);
}

static void
free_body(void *p)
{
	free(p);
}

enum MHD_Result
web__send(struct web_req *q, struct web_resp *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char link[INVITES_TOKEN_MAX * 3 + INVITES_JID_MAX + 64];

	/* A HEAD keeps the body it rendered: libmicrohttpd sends the
	 * Content-Length a GET would get, and no body. */
	if (r->flags & WEB_H_NOBODY) {
		free(r->body);
		r->body = NULL;
		resp = MHD_create_response_from_buffer(0, (void *)"",
		                                       MHD_RESPMEM_PERSISTENT);
	} else {
		resp = MHD_create_response_from_buffer_with_free_callback(
			r->len, r->body ? r->body : (void *)"",
			r->body ? free_body : NULL);
		if (!resp)
			free(r->body);
	}
	r->body = NULL;
	if (!resp)
		return MHD_NO;
	if (r->ctype)
		MHD_add_response_header(resp, "Content-Type", r->ctype);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	if (r->flags & WEB_H_HTML) {
		MHD_add_response_header(resp, "Content-Security-Policy", CSP);
		MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	}
	if (r->flags & WEB_H_NOSTORE)
		MHD_add_response_header(resp, "Cache-Control", "no-store");
	else if (r->flags & WEB_H_CACHE)
		MHD_add_response_header(resp, "Cache-Control",
		                        "public, max-age=86400");
	if (r->flags & WEB_H_CORS) {
		MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
		MHD_add_response_header(resp, "Access-Control-Expose-Headers",
		                        "Link");
	}
	if (r->link) {
		snprintf(link, sizeof(link), "<%s>; rel=\"alternate\"", r->link);
		MHD_add_response_header(resp, "Link", link);
	}
	if (r->location)
		MHD_add_response_header(resp, "Location", r->location);
	if (r->set_cookie)
		MHD_add_response_header(resp, "Set-Cookie", r->set_cookie);
	if (r->allow)
		MHD_add_response_header(resp, "Allow", r->allow);
	if (r->www_auth)
		MHD_add_response_header(resp, "WWW-Authenticate", r->www_auth);
	if (r->retry_after)
		MHD_add_response_header(resp, "Retry-After", r->retry_after);
	if (r->etag)
		MHD_add_response_header(resp, "ETag", r->etag);
	q->status = r->status;
	if (q->deferred) {
		/* a worker thread: the connection queues it when it resumes */
		q->pending = resp;
		q->pending_status = r->status;
		return MHD_YES;
	}
	ret = MHD_queue_response(q->c, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

struct defer_job {
	struct web_req *q;
	void (*fn)(struct web_req *q, void *arg);
	void *arg;
	pthread_t thread;
	struct defer_job *next;   /* on web.finished, once the thread is done */
};

/* One of the two things web__http_stop waits for is over: a worker
 * thread's last call into libmicrohttpd, or its request's completion. */
static void
work_done(struct web *w, unsigned *count)
{
	pthread_mutex_lock(&w->work_lock);
	(*count)--;
	pthread_cond_broadcast(&w->work_cond);
	pthread_mutex_unlock(&w->work_lock);
}

static void *
defer_main(void *p)
{
	struct defer_job *job = p;
	struct web_req *q = job->q;
	struct web *w = q->w;
	struct web_reg_conn *closing;

	q->deferred = 1;
	job->fn(q, job->arg);
	q->deferred = 0;
	q->worked = 1;
	closing = q->reg_closing;
	q->reg_closing = NULL;
	/* q belongs to the connection again (on_completed counts it done);
	 * the thread itself counts until the resume call has returned, since
	 * that call still touches the daemon after the connection may have
	 * completed, and web__http_stop must not free the daemon under it */
	MHD_resume_connection(q->c);
	/* the visitor has the answer: the XMPP connection's clean end
	 * need not delay it */
	web__register_close(closing);
	/* Done with MHD; the thread is joined, not detached.  Its exit still
	 * runs the libraries' thread-local destructors (OpenSSL's among
	 * them), and those must not overlap the process's own exit, where
	 * OpenSSL cleans up at exit: web__http_stop joins every thread. */
	pthread_mutex_lock(&w->work_lock);
	w->workers--;
	job->thread = pthread_self();
	job->next = w->finished;
	w->finished = job;
	pthread_cond_broadcast(&w->work_cond);
	pthread_mutex_unlock(&w->work_lock);
	return NULL;
}

/* Join the worker threads that have finished (each is at its return, or
 * past it). */
static void
reap_finished(struct web *w)
{
	struct defer_job *job, *next;

	pthread_mutex_lock(&w->work_lock);
	job = w->finished;
	w->finished = NULL;
	pthread_mutex_unlock(&w->work_lock);
	for (; job; job = next) {
		next = job->next;
		pthread_join(job->thread, NULL);
		free(job);
	}
}

int
web__defer(struct web_req *q, void (*fn)(struct web_req *q, void *arg),
           void *arg)
{
	struct web *w = q->w;
	struct defer_job *job;
	pthread_t t;
	int r;

	reap_finished(w);
	job = inv__calloc(1, sizeof(*job));
	if (!job)
		return -1;
	job->q = q;
	job->fn = fn;
	job->arg = arg;
	pthread_mutex_lock(&w->work_lock);
	w->workers++;
	w->unanswered++;
	pthread_mutex_unlock(&w->work_lock);
	q->in_work = 1;
	MHD_suspend_connection(q->c);
	r = pthread_create(&t, NULL, defer_main, job);
	if (r != 0) {
		q->in_work = 0;
		MHD_resume_connection(q->c);
		free(job);
		work_done(w, &w->unanswered);
		work_done(w, &w->workers);
		return -1;
	}
	return 0;
}

/* The client's address; from the configured header only when the peer
 * is a loopback reverse proxy. */
static void
client_addr(struct web_req *q)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;
	int loopback = 0;

	strcpy(q->addr, "-");
	ci = MHD_get_connection_info(q->c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ci || !ci->client_addr)
		return;
	sa = ci->client_addr;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, q->addr, sizeof(q->addr));
		loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, q->addr, sizeof(q->addr));
		loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	}
	if (loopback && q->w->real_ip_header) {
		const char *h = web__header(q, q->w->real_ip_header);
		unsigned char buf[sizeof(struct in6_addr)];

		if (h && strlen(h) < sizeof(q->addr) &&
		    (inet_pton(AF_INET, h, buf) == 1 ||
		     inet_pton(AF_INET6, h, buf) == 1))
			strcpy(q->addr, h);
	}
}

static enum MHD_Result
send_static(struct web_req *q, const struct web_static *s)
{
	struct web_resp r;
	const char *inm = web__header(q, "If-None-Match");

	memset(&r, 0, sizeof(r));
	r.ctype = s->type;
	r.flags = WEB_H_CACHE;
	r.etag = s->etag;
	if (inm && strcmp(inm, s->etag) == 0) {
		r.status = MHD_HTTP_NOT_MODIFIED;
		r.flags |= WEB_H_NOBODY;
		return web__send(q, &r);
	}
	r.status = MHD_HTTP_OK;
	r.body = inv__malloc(s->len ? s->len : 1);
	if (!r.body)
		return MHD_NO;
	memcpy(r.body, s->data, s->len);
	r.len = s->len;
	return web__send(q, &r);
}

static enum MHD_Result
method_not_allowed(struct web_req *q, const char *allow)
{
	struct web_resp r;
	static const char msg[] = "Method not allowed\n";

	memset(&r, 0, sizeof(r));
	r.status = MHD_HTTP_METHOD_NOT_ALLOWED;
	r.ctype = "text/plain; charset=utf-8";
	r.allow = allow;
	r.body = inv__strdup(msg);
	r.len = r.body ? strlen(r.body) : 0;
	return web__send(q, &r);
}

static int
is(const char *m, const char *want)
{
	return strcmp(m, want) == 0;
}

/* "/prefix/<seg>" with exactly one more segment: the segment, else NULL */
static const char *
segment(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncmp(path, prefix, n) != 0)
		return NULL;
	if (strchr(path + n, '/'))
		return NULL;
	return path + n;
}

static enum MHD_Result
dispatch(struct web_req *q, const char *url)
{
	struct web *w = q->w;
	const char *path = url, *tok;
	int get = is(q->method, "GET") || q->head;
	size_t i, bl = strlen(w->base_path);

	if (strlen(url) > WEB_URL_MAX) {
		q->route = "(long)";
		return web__page_error(q, MHD_HTTP_URI_TOO_LONG, "Address too long",
		                       "The address of this page is too long.");
	}
	if (bl) {
		if (strncmp(url, w->base_path, bl) != 0 ||
		    (url[bl] != '/' && url[bl] != '\0')) {
			q->route = "(other)";
			return web__page_error(q, MHD_HTTP_NOT_FOUND, "Not found",
			                       "There is no page at this address.");
		}
		path = url + bl;
		if (!*path)
			path = "/";
	}
	q->path = path;

	if ((tok = segment(path, "/invite/"))) {
		q->route = "/invite/-";
		if (!get)
			return method_not_allowed(q, "GET, HEAD");
		return web__page_landing(q, tok);
	}
	if ((tok = segment(path, "/register/")) || strcmp(path, "/register") == 0) {
		q->route = "/register/-";
		if (!get && !is(q->method, "POST"))
			return method_not_allowed(q, "GET, HEAD, POST");
		return web__page_register(q, tok ? tok : "");
	}
	if (strncmp(path, "/api/", 5) == 0) {
		q->route = "/api";
		return web__api(q, path + 4);
	}
	for (i = 0; i < w->n_statics; i++) {
		if (strcmp(path, w->statics[i].path) == 0) {
			q->route = w->statics[i].path;
			if (!get)
				return method_not_allowed(q, "GET, HEAD");
			return send_static(q, &w->statics[i]);
		}
	}
	if (strcmp(path, "/") == 0) {
		q->route = "/";
		if (!get)
			return method_not_allowed(q, "GET, HEAD");
		return web__page_index(q);
	}
	q->route = "(other)";
	return web__page_error(q, MHD_HTTP_NOT_FOUND, "Not found",
	                       "There is no page at this address.");
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
           const char *method, const char *version, const char *upload,
           size_t *upload_size, void **con_cls)
{
	struct web *w = cls;
	struct web_req *q = *con_cls;

	(void)version;
	if (!q) {
		const char *cl;

		q = inv__calloc(1, sizeof(*q));
		if (!q)
			return MHD_NO;
		*con_cls = q;
		q->w = w;
		q->c = c;
		q->method = method;
		q->head = strcmp(method, "HEAD") == 0;
		q->now = inv__now();
		q->route = "-";
		strcpy(q->logid, "-");
		inv__buf_init(&q->body);
		client_addr(q);
		q->body_max = strstr(url, "/api/") ? WEB_API_BODY_MAX
						   : WEB_FORM_MAX;
		cl = web__header(q, "Content-Length");
		if (cl) {
			char *end;
			unsigned long long n;

			errno = 0;
			n = strtoull(cl, &end, 10);
			if (errno || *end || n > q->body_max) {
				q->body_too_big = 1;
				q->route = "(body)";
				if (strstr(url, "/api/"))
					return web__api_error(q,
						MHD_HTTP_CONTENT_TOO_LARGE,
						"too-large",
						"The request body is too large.");
				return web__page_error(q, MHD_HTTP_CONTENT_TOO_LARGE,
					"Too much data",
					"The form sent too much data.");
			}
		}
		return MHD_YES;
	}
	if (*upload_size) {
		if (q->body_too_big || q->body.len + *upload_size > q->body_max) {
			q->body_too_big = 1;
			inv__buf_free(&q->body);
		} else {
			inv__buf_append(&q->body, upload, *upload_size);
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (q->pending) { /* a worker's answer, now that we are resumed */
		enum MHD_Result ret = MHD_queue_response(c, q->pending_status,
		                                         q->pending);

		MHD_destroy_response(q->pending);
		q->pending = NULL;
		return ret;
	}
	if (q->worked) /* the worker could not answer: close */
		return MHD_NO;
	if (q->status) /* already answered (413 before the body) */
		return MHD_YES;
	if (q->body_too_big) {
		q->route = "(body)";
		if (strstr(url, "/api/"))
			return web__api_error(q, MHD_HTTP_CONTENT_TOO_LARGE,
			                      "too-large",
			                      "The request body is too large.");
		return web__page_error(q, MHD_HTTP_CONTENT_TOO_LARGE,
		                       "Too much data", "The form sent too much data.");
	}
	if (q->body.oom)
		return MHD_NO;
	return dispatch(q, url);
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
	struct web_req *q = *con_cls;

	(void)cls;
	(void)c;
	if (!q)
		return;
	if (q->status)
		web__log(INVITES_LOG_INFO, "%s %s %s %u id=%s%s", q->addr,
		         q->method, q->route, q->status, q->logid,
		         toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? ""
							    : " (aborted)");
	if (q->body.p)
		inv__cleanse(q->body.p, q->body.len);
	inv__buf_free(&q->body);
	if (q->pending)
		MHD_destroy_response(q->pending);
	if (q->in_work)
		work_done(q->w, &q->w->unanswered);
	free(q->token);
	free(q);
	*con_cls = NULL;
}

static void
on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
              enum MHD_ConnectionNotificationCode toe)
{
	const union MHD_ConnectionInfo *ci;
	int one = 1;

	(void)cls;
	(void)socket_ctx;
	if (toe != MHD_CONNECTION_NOTIFY_STARTED)
		return;
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci)
		setsockopt(ci->connect_fd, IPPROTO_TCP, TCP_NODELAY, &one,
		           sizeof(one));
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	/* web__log redacts anything shaped like a token */
	web__log(INVITES_LOG_DEBUG, "libmicrohttpd: %s", line);
}

/* "127.0.0.1:5380", "[::1]:5380", "localhost:5380" */
static int
parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[256];
	const char *colon, *h = listen;
	size_t hl;
	struct addrinfo hints, *res = NULL;

	if (*h == '[') {
		const char *e = strchr(h, ']');

		if (!e || e[1] != ':')
			return -1;
		hl = (size_t)(e - h - 1);
		h++;
		colon = e + 1;
	} else {
		colon = strrchr(h, ':');
		if (!colon)
			return -1;
		hl = (size_t)(colon - h);
	}
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || !res)
		return -1;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int
web__http_start(struct web *w, const char *listen, const char *ready_file,
                struct MHD_Daemon **d_r)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct MHD_Daemon *d;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD |
		MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *di;

	*d_r = NULL;
	memset(&ss, 0, sizeof(ss));
	if (parse_listen(listen, &ss, &sl) != 0) {
		web__log(INVITES_LOG_ERR, "web_listen: cannot use '%s' "
		         "(expected HOST:PORT, e.g. 127.0.0.1:5380)", listen);
		return INVITES_ECONFIG;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, w,
	                     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	                     MHD_OPTION_NOTIFY_COMPLETED, on_completed, w,
	                     MHD_OPTION_NOTIFY_CONNECTION, on_connection, w,
	                     MHD_OPTION_EXTERNAL_LOGGER, mhd_log, w,
	                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)4,
	                     MHD_OPTION_CONNECTION_LIMIT, (unsigned)WEB_HTTP_CONNS,
	                     MHD_OPTION_THREAD_POOL_SIZE, (unsigned)WEB_HTTP_THREADS,
	                     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536,
	                     MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)4,
	                     MHD_OPTION_END);
	if (!d) {
		web__log(INVITES_LOG_ERR, "cannot listen on %s: %s", listen,
		         strerror(errno));
		return INVITES_EINTERNAL;
	}
	di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	web__log(INVITES_LOG_NOTICE, "listening on %s (port %u)", listen,
	         di ? (unsigned)di->port : 0);
	if (ready_file) {
		FILE *f = fopen(ready_file, "w");

		if (!f || fprintf(f, "%u\n", di ? (unsigned)di->port : 0) < 0 ||
		    fclose(f) != 0) {
			web__log(INVITES_LOG_ERR, "%s: %s", ready_file,
			         strerror(errno));
			MHD_stop_daemon(d);
			return INVITES_EINTERNAL;
		}
	}
	*d_r = d;
	return 0;
}

int
web__http_stop(struct web *w, struct MHD_Daemon **d)
{
	struct timespec until;
	unsigned left;

	if (!d || !*d)
		return 0;
	/* no new connections; let running registrations finish (each is
	 * bounded by web_register_timeout) and resume their connections */
	MHD_quiesce_daemon(*d);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 30 + (time_t)(w->reg_timeout_ms / 1000);
	pthread_mutex_lock(&w->work_lock);
	while (w->workers || w->unanswered)
		if (pthread_cond_timedwait(&w->work_cond, &w->work_lock,
		                           &until) != 0)
			break;
	left = w->workers;
	pthread_mutex_unlock(&w->work_lock);
	if (left) {
		/* stopping the daemon now would free what those threads
		 * use (and libmicrohttpd aborts on a suspended connection) */
		web__log(INVITES_LOG_ERR, "%u registration%s still running "
		         "past its time-out; exiting without waiting", left,
		         left == 1 ? " is" : "s are");
		return -1;
	}
	reap_finished(w);
	/* (when time ran out with an answer unsent, this closes it) */
	MHD_stop_daemon(*d);
	*d = NULL;
	return 0;
}
