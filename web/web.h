/* SPDX-License-Identifier: MIT */
/*
 * invites-web: the daemon's private declarations.  The daemon serves
 * invite landing pages, web registration and a JSON API over plain HTTP on
 * loopback (behind a TLS reverse proxy), on libinvites and the same
 * invites.conf as invitectl and the server modules.  Internal functions
 * are named web__<verb>.
 */
#ifndef INVITES_WEB_H
#define INVITES_WEB_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <invites/invites.h>

#include "internal.h"

/* ------------------------------------------------------------------ */
/* Limits                                                              */
/* ------------------------------------------------------------------ */

#define WEB_FORM_MAX      8192  /* bytes of an urlencoded form body */
#define WEB_API_BODY_MAX  16384 /* bytes of a JSON request body */
#define WEB_FIELD_MAX     1024  /* bytes of one form field (decoded) */
#define WEB_USERNAME_MAX  256   /* bytes of a username typed in the form */
#define WEB_PASSWORD_MAX  256   /* bytes of a password */
#define WEB_URL_MAX       2048  /* bytes of a request path */
#define WEB_TMPL_DEPTH    8     /* nested partials / sections */
#define WEB_HTTP_THREADS  2     /* epoll threads serving connections */
/* open connections at once: beyond it libmicrohttpd stops accepting, and
 * new visitors wait in the listen queue until one closes */
#define WEB_HTTP_CONNS    512

/* ------------------------------------------------------------------ */
/* Templates (tmpl.c)                                                  */
/* ------------------------------------------------------------------ */

/*
 * A small logic-less template language, parsed once at start:
 *   {{name}}            a value; text is HTML-escaped, values the daemon
 *                       built as HTML (QR code) are inserted as they are
 *   {{#name}}..{{/name}} the block when name is set and non-empty, once per
 *                       item for a list
 *   {{^name}}..{{/name}} the block when name is unset or empty
 *   {{>file}}           another template file of the same directory
 *   {{! comment }}
 * Which values are HTML is decided by the daemon, never by the template.
 */
enum web_tv_type {
	WEB_TV_TEXT = 0, /* escaped on output */
	WEB_TV_HTML = 1, /* trusted markup built by the daemon */
	WEB_TV_LIST = 2  /* items: a list of contexts */
};

struct web_tctx;

struct web_tvar {
	const char *name;
	enum web_tv_type type;
	const char *s;                /* TEXT / HTML; NULL or "" is "unset" */
	const struct web_tctx *items; /* LIST */
	size_t n_items;
};

struct web_tctx {
	const struct web_tvar *v;
	size_t n;
	const struct web_tctx *parent; /* looked up when a name is not here */
};

struct web_tmpl;

/* Load `name` from dir (or, when absent there, from fallback_dir). */
int web__tmpl_load(const char *dir, const char *fallback_dir,
                   const char *name, struct web_tmpl **t_r, char **errmsg_r);
void web__tmpl_free(struct web_tmpl **t);
/* Render into b (check b->oom afterwards). */
void web__tmpl_render(const struct web_tmpl *t, const struct web_tctx *ctx,
                      struct inv__buf *b);

/* Escaping helpers (util.c of the daemon). */
void web__html_escape(struct inv__buf *b, const char *s);
void web__xml_escape(struct inv__buf *b, const char *s);

/* ------------------------------------------------------------------ */
/* QR codes (qr.c)                                                     */
/* ------------------------------------------------------------------ */

/* An inline <svg> of text (byte mode, level M), NULL on failure. */
char *web__qr_svg(const char *text, const char *title);
/* The same through a small LRU cache (thread-safe); clear it at exit. */
char *web__qr_svg_cached(const char *text, const char *title);
void web__qr_cache_clear(void);

/* ------------------------------------------------------------------ */
/* Client apps (apps.c)                                                */
/* ------------------------------------------------------------------ */

enum web_platform {
	WEB_PLATFORM_UNKNOWN = 0,
	WEB_PLATFORM_ANDROID,
	WEB_PLATFORM_IOS,
	WEB_PLATFORM_MACOS,
	WEB_PLATFORM_WINDOWS,
	WEB_PLATFORM_LINUX,
	WEB_PLATFORM_COUNT
};

struct web_app {
	char *id;
	char *name;
	char *text;          /* one line about it; may be NULL */
	unsigned platforms;  /* bit (1 << enum web_platform) */
	char *play;          /* Play Store package id */
	char *fdroid;        /* F-Droid package id */
	char *appstore;      /* App Store URL */
	char *url;           /* home page / download page */
	int invites;         /* 1: opens xmpp: invite URIs (pre-auth) */
};

struct web_apps {
	struct web_app *v;
	size_t n;
};

int web__apps_load(const char *path, struct web_apps **apps_r,
                   char **errmsg_r);
void web__apps_free(struct web_apps **apps);
enum web_platform web__platform_detect(const char *user_agent);
const char *web__platform_name(enum web_platform p);
const char *web__platform_key(enum web_platform p);

/* ------------------------------------------------------------------ */
/* Failure counting per address (limit.c)                              */
/* ------------------------------------------------------------------ */

struct web_limiter;

int web__limiter_new(unsigned max_failures, int64_t window,
                     struct web_limiter **l_r);
void web__limiter_free(struct web_limiter **l);
/* 1 when addr has used up its failures in the current window. */
int web__limiter_blocked(struct web_limiter *l, const char *addr,
                         int64_t now);
void web__limiter_fail(struct web_limiter *l, const char *addr, int64_t now);

/* ------------------------------------------------------------------ */
/* Registration through the XMPP server (register.c)                   */
/* ------------------------------------------------------------------ */

enum web_reg_result {
	WEB_REG_OK = 0,
	WEB_REG_TOKEN,      /* the server refused the token (used, expired) */
	WEB_REG_CONFLICT,   /* username taken or reserved */
	WEB_REG_USERNAME,   /* username refused as malformed */
	WEB_REG_PASSWORD,   /* password refused by the server's policy */
	WEB_REG_NOT_ALLOWED,/* refused (wrong name for the invite, ...) */
	WEB_REG_LIMIT,      /* throttled by the server */
	WEB_REG_UNAVAILABLE,/* server unreachable, TLS failure, time-out */
	WEB_REG_ERROR       /* anything else */
};

enum web_tls_mode {
	WEB_TLS_OPTIONAL = 0, /* STARTTLS when offered, certificate trusted */
	WEB_TLS_REQUIRED,     /* STARTTLS must be offered, certificate trusted */
	WEB_TLS_VERIFY        /* STARTTLS must be offered, certificate verified */
};

struct web_reg_req {
	const char *host;     /* server address to connect to */
	unsigned short port;
	const char *domain;   /* stream 'to' */
	const char *token;
	const char *username; /* normalised */
	const char *password;
	enum web_tls_mode tls;
	unsigned timeout_ms;
};

/* Message text from the server, when it sent one (<text/>), into text_r.
 * With closing_r, the connection's clean end (the closing stream tags,
 * TLS close) is left to web__register_close(*closing_r), so that the
 * visitor's answer need not wait for it; *closing_r may be NULL. */
struct web_reg_conn;
struct web_reg_pool;
enum web_reg_result web__register(struct web_reg_pool *pool,
                                  const struct web_reg_req *req,
                                  char *text_r, size_t text_size,
                                  struct web_reg_conn **closing_r);
void web__register_close(struct web_reg_conn *c);

/* Up to size connections to host:port for domain kept ready (connected,
 * STARTTLS done) while registrations come in; web__register takes one
 * when its request matches.  size 0: no pool (*pool_r NULL). */
int web__reg_pool_start(const char *host, unsigned short port,
                        const char *domain, enum web_tls_mode tls,
                        unsigned timeout_ms, unsigned size,
                        struct web_reg_pool **pool_r);
void web__reg_pool_stop(struct web_reg_pool **pool_r);
int web__register_init(void);
void web__register_shutdown(void);

/* ------------------------------------------------------------------ */
/* The daemon                                                          */
/* ------------------------------------------------------------------ */

struct web_static {
	char *path;          /* URL path, e.g. "/static/invite.css" */
	char *type;          /* Content-Type */
	char *data;
	size_t len;
	char etag[24];
};

struct web {
	struct invites_config *cfg;
	struct invites_store *st;
	pthread_mutex_t store_lock; /* the store handle: one thread at a time */

	/* settings */
	char *site_name;
	char *base_url;       /* no trailing slash */
	char *base_path;      /* path part of base_url: "" or "/prefix" */
	char *xmpp_host;
	unsigned short xmpp_port;
	enum web_tls_mode xmpp_tls;
	unsigned reg_timeout_ms;
	unsigned xmpp_pool;   /* connections kept ready per domain */
	unsigned min_password;
	char *real_ip_header; /* trusted only from a loopback peer */
	char *datadir;

	/* loaded once */
	struct web_tmpl *t_landing, *t_invalid, *t_register, *t_registered,
		*t_error;
	struct web_apps *apps;
	struct web_static *statics;
	size_t n_statics;
	unsigned char csrf_key[32];
	struct web_limiter *limiter;

	/* connections kept ready for registrations, one pool per served
	 * domain, in the configuration's order (NULL entries: none) */
	struct web_reg_pool **reg_pools;
	size_t n_reg_pools;

	/* registrations running in worker threads (see web__defer) */
	pthread_mutex_t work_lock;
	pthread_cond_t work_cond;
	unsigned workers;     /* worker threads not yet done with MHD */
	unsigned unanswered;  /* their requests, until completed */
	struct defer_job *finished;  /* threads done, to be joined */
};

/* http.c: start and stop the HTTP server. */
struct MHD_Daemon;
int web__http_start(struct web *w, const char *listen, const char *ready_file,
                    struct MHD_Daemon **d_r);
int web__http_stop(struct web *w, struct MHD_Daemon **d);

/* main.c: logging (tokens are redacted from every line). */
void web__log(int level, const char *fmt, ...) INVITES_PRINTF(2, 3);

/* Store calls under the lock. */
void web__store_lock(struct web *w);
void web__store_unlock(struct web *w);

/* Public id of a token's hash (for logs), or "-" for a malformed token. */
void web__token_id(const char *token, char id[INVITES_ID_LEN + 1]);

/* UTC time as "2026-01-02 15:04 UTC" and ISO 8601 "2026-01-02T15:04:05Z". */
void web__fmt_time(int64_t t, char *out, size_t outsz);
void web__fmt_iso(int64_t t, char *out, size_t outsz);

/* Constant-time comparison of n bytes. */
int web__ct_equal(const void *a, const void *b, size_t n);

/* 1 when s is valid UTF-8 without control characters; count in *chars. */
int web__utf8_check(const char *s, size_t *chars_r);

#endif /* INVITES_WEB_H */
