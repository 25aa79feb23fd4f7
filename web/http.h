/* SPDX-License-Identifier: MIT */
/*
 * invites-web: one HTTP request as the page and API handlers see it, and
 * the response helpers that put the security headers on every answer.
 */
#ifndef INVITES_WEB_HTTP_H
#define INVITES_WEB_HTTP_H

#include <microhttpd.h>

#include "web.h"

struct web_req {
	struct web *w;
	struct MHD_Connection *c;
	const char *method;
	int head;              /* HEAD: headers only, nothing rendered */
	const char *path;      /* below base_path */
	char addr[64];         /* the client's address (for limits, logs) */
	int64_t now;

	/* request body (POST, DELETE) */
	struct inv__buf body;
	size_t body_max;
	int body_too_big;
	int started;

	/* a web registration runs in a worker thread while the connection
	 * is suspended; its answer waits here until the connection resumes */
	int deferred;
	int worked;            /* a worker ran for this request */
	int in_work;           /* counted in web.unanswered until completed */
	struct web_reg_conn *reg_closing; /* the worker closes it after */
	struct MHD_Response *pending;
	unsigned pending_status;
	char *token;           /* copy, for the worker */

	/* for the access log: never the token */
	const char *route;
	char logid[INVITES_ID_LEN + 1];
	unsigned status;
};

/* Response header flags. */
#define WEB_H_HTML     0x01u /* HTML page: CSP, frame denial */
#define WEB_H_NOSTORE  0x02u /* Cache-Control: no-store */
#define WEB_H_CORS     0x04u /* Access-Control-Allow-Origin: * (+ Expose Link) */
#define WEB_H_CACHE    0x08u /* static asset: cacheable */
#define WEB_H_NOBODY   0x10u /* HEAD: send no body */

struct web_resp {
	unsigned status;
	const char *ctype;
	char *body;            /* owned; freed after sending */
	size_t len;
	unsigned flags;
	const char *link;      /* Link: <...>; rel="alternate" */
	const char *location;
	const char *set_cookie;
	const char *allow;
	const char *www_auth;
	const char *retry_after;
	const char *etag;
};

/* Queue r; takes the body.  Returns MHD_YES / MHD_NO. */
enum MHD_Result web__send(struct web_req *q, struct web_resp *r);
/* A header of the request, or NULL. */
const char *web__header(struct web_req *q, const char *name);
const char *web__cookie(struct web_req *q, const char *name);
const char *web__query(struct web_req *q, const char *name);

/* http.c: run fn(q, arg) in a worker thread with the connection
 * suspended; fn answers with web__send as usual.  0, or -1 when no thread
 * could be started (then nothing was suspended). */
int web__defer(struct web_req *q, void (*fn)(struct web_req *q, void *arg),
               void *arg);

/* pages.c */
enum MHD_Result web__page_landing(struct web_req *q, const char *token);
enum MHD_Result web__page_register(struct web_req *q, const char *token);
enum MHD_Result web__page_error(struct web_req *q, unsigned status,
                                const char *title, const char *message);
enum MHD_Result web__page_invalid(struct web_req *q);
enum MHD_Result web__page_limited(struct web_req *q);
enum MHD_Result web__page_index(struct web_req *q);
/* Look token up and check it for purpose now (404 material on failure,
 * which also counts one failure for the address); q->logid is set. */
int web__invite_lookup(struct web_req *q, const char *token,
                       enum invites_purpose purpose,
                       struct invites_invite **inv_r);
/* 1 for errors of the store itself (answer 503, count nothing). */
int web__store_failure(int r);

/* keys.c: API keys.  0 and the key's name (to free) and scopes, or
 * INVITES_ENOTFOUND (unknown, expired or revoked key) or a store error. */
int web__key_check(struct web *w, const char *key, char **name_r,
                   char ***scopes_r, size_t *n_scopes_r);

/* api.c */
enum MHD_Result web__api(struct web_req *q, const char *rest);
enum MHD_Result web__api_error(struct web_req *q, unsigned status,
                               const char *error, const char *message);

#endif /* INVITES_WEB_HTTP_H */
