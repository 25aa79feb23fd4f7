/* SPDX-License-Identifier: MIT */
/*
 * The pages of invites-web: the invite landing page (what the invite is,
 * "open in your app", a QR code drawn on the server, apps for the
 * visitor's platform first), the web registration form and its result,
 * and the error pages.  Every unknown, used, expired or revoked token gets
 * the same 404 page, after the same work.  The form is protected against
 * cross-site posts twice: a token bound to a SameSite=Strict cookie and a
 * check of Origin / Sec-Fetch-Site.  Passwords never appear in a page or
 * a log; tokens never in a log.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "http.h"

#define CSRF_COOKIE "invites_csrf"
#define CSRF_HEX    32

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

/* A bag of strings freed together after rendering. */
struct pool {
	char **v;
	size_t n, cap;
	int oom;
};

static const char *
pool_add(struct pool *p, char *s)
{
	if (!s) {
		p->oom = 1;
		return NULL;
	}
	if (p->n == p->cap) {
		size_t ncap = p->cap ? p->cap * 2 : 32;
		char **v = inv__realloc(p->v, ncap * sizeof(*v));

		if (!v) {
			free(s);
			p->oom = 1;
			return NULL;
		}
		p->v = v;
		p->cap = ncap;
	}
	p->v[p->n++] = s;
	return s;
}

static void
pool_free(struct pool *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		free(p->v[i]);
	free(p->v);
	memset(p, 0, sizeof(*p));
}

#define TV(n_, s_) { (n_), WEB_TV_TEXT, (s_), NULL, 0 }
#define TH(n_, s_) { (n_), WEB_TV_HTML, (s_), NULL, 0 }
#define TL(n_, it_, nit_) { (n_), WEB_TV_LIST, NULL, (it_), (nit_) }

/* Render t with ctx (whose root gets base and site_name) and send. */
static enum MHD_Result
send_page(struct web_req *q, unsigned status, const struct web_tmpl *t,
          struct web_tctx *ctx, unsigned flags, const char *link,
          const char *cookie)
{
	struct web *w = q->w;
	struct web_tvar rootv[] = {
		TV("base", w->base_path),
		TV("site_name", w->site_name),
	};
	struct web_tctx root = { rootv, sizeof(rootv) / sizeof(rootv[0]), NULL };
	struct web_tctx *top = ctx;
	struct web_resp r;
	struct inv__buf b;

	memset(&r, 0, sizeof(r));
	r.status = status;
	r.ctype = "text/html; charset=utf-8";
	r.flags = WEB_H_HTML | flags;
	r.link = link;
	r.set_cookie = cookie;
	while (top->parent)
		top = (struct web_tctx *)top->parent;
	top->parent = &root;
	inv__buf_init(&b);
	web__tmpl_render(t, ctx, &b);
	top->parent = NULL;
	if (b.oom) {
		inv__buf_free(&b);
		return MHD_NO;
	}
	r.len = b.len;
	r.body = inv__buf_steal(&b);
	if (!r.body) {
		r.body = inv__strdup("");
		if (!r.body)
			return MHD_NO;
	}
	return web__send(q, &r);
}

enum MHD_Result
web__page_error(struct web_req *q, unsigned status, const char *title,
                const char *message)
{
	struct web_tvar v[] = {
		TV("title", title),
		TV("message", message),
	};
	struct web_tctx ctx = { v, 2, NULL };

	return send_page(q, status, q->w->t_error, &ctx, WEB_H_NOSTORE, NULL,
	                 NULL);
}

enum MHD_Result
web__page_invalid(struct web_req *q)
{
	struct web_tctx ctx = { NULL, 0, NULL };

	return send_page(q, MHD_HTTP_NOT_FOUND, q->w->t_invalid, &ctx,
	                 WEB_H_NOSTORE, NULL, NULL);
}

enum MHD_Result
web__page_limited(struct web_req *q)
{
	struct web_tvar v[] = {
		TV("title", "Too many attempts"),
		TV("message", "Too many invalid attempts came from your address. "
		   "Please wait a few minutes and try again."),
	};
	struct web_tctx ctx = { v, 2, NULL };
	struct web_resp r;
	struct inv__buf b;
	struct web_tvar rootv[] = {
		TV("base", q->w->base_path),
		TV("site_name", q->w->site_name),
	};
	struct web_tctx root = { rootv, 2, NULL };

	memset(&r, 0, sizeof(r));
	r.status = MHD_HTTP_TOO_MANY_REQUESTS;
	r.ctype = "text/html; charset=utf-8";
	r.flags = WEB_H_HTML | WEB_H_NOSTORE;
	r.retry_after = "600";
	ctx.parent = &root;
	inv__buf_init(&b);
	web__tmpl_render(q->w->t_error, &ctx, &b);
	if (b.oom) {
		inv__buf_free(&b);
		return MHD_NO;
	}
	r.len = b.len;
	r.body = inv__buf_steal(&b);
	return web__send(q, &r);
}

enum MHD_Result
web__page_index(struct web_req *q)
{
	return web__page_error(q, MHD_HTTP_OK, "Invites",
	                       "New accounts here are by invitation. If someone "
	                       "sent you an invite link, open that link.");
}

/*
 * Look the token up and check that it can be used for purpose now.  On
 * failure counts one failure for the address.  q->logid gets the public id.
 */
int
web__invite_lookup(struct web_req *q, const char *token,
                   enum invites_purpose purpose, struct invites_invite **inv_r)
{
	struct web *w = q->w;
	struct invites_invite *inv = NULL;
	int r;

	*inv_r = NULL;
	web__token_id(token, q->logid);
	if (!invites_token_plausible(token)) {
		r = INVITES_ETOKEN;
	} else {
		web__store_lock(w);
		r = invites_get_by_token(w->st, token, &inv);
		web__store_unlock(w);
	}
	if (r == 0) {
		if (!invites_config_serves(w->cfg, inv->domain))
			r = INVITES_EDOMAIN;
		else
			r = invites_invite_validate(inv, inv->domain, purpose,
			                            NULL, q->now, 1);
	}
	if (r != 0) {
		invites_invite_free(&inv);
		if (!web__store_failure(r))
			web__limiter_fail(w->limiter, q->addr, q->now);
		else
			web__log(INVITES_LOG_ERR, "store: %s", invites_strerror(r));
		return r;
	}
	*inv_r = inv;
	return 0;
}

int
web__store_failure(int r)
{
	/* (a full disk, a read-only or missing store, its permissions: the
	 * server's trouble, never the visitor's) */
	return r == INVITES_ENOMEM || r == INVITES_ESTORE ||
	       r == INVITES_EBUSY || r == INVITES_ERECOVER ||
	       r == INVITES_ECORRUPT || r == INVITES_EINTERNAL ||
	       r == INVITES_ENOSPC || r == INVITES_EACCES ||
	       r == INVITES_ENOSTORE || r == INVITES_EVERSION;
}

static enum MHD_Result
page_unavailable(struct web_req *q)
{
	return web__page_error(q, MHD_HTTP_SERVICE_UNAVAILABLE,
	                       "Temporarily unavailable",
	                       "This page cannot be shown right now. Please try "
	                       "again in a minute.");
}

static char *
landing_url(const struct web *w, const char *token)
{
	return inv__asprintf("%s/invite/%s", w->base_url, token);
}

static int
can_register(const struct invites_invite *inv)
{
	return inv->kind == INVITES_KIND_ACCOUNT ||
	       inv->kind == INVITES_KIND_RESET ||
	       (inv->kind == INVITES_KIND_CONTACT &&
	        (inv->flags & INVITES_F_REGISTER));
}

/* ------------------------------------------------------------------ */
/* Apps                                                                */
/* ------------------------------------------------------------------ */

#define APP_VARS 9

struct app_lists {
	struct web_tvar *vars;     /* APP_VARS per app */
	struct web_tctx *all;      /* one context per app */
	struct web_tctx *primary;  /* apps for the visitor's platform */
	size_t n_primary;
	struct web_tvar *pvars;    /* 2 per other platform */
	struct web_tctx *others;   /* one context per other platform */
	size_t n_others;
	struct web_tctx *plists;   /* apps per other platform, back to back */
};

static void
app_lists_free(struct app_lists *l)
{
	free(l->vars);
	free(l->all);
	free(l->primary);
	free(l->pvars);
	free(l->others);
	free(l->plists);
	memset(l, 0, sizeof(*l));
}

/* Build the app contexts for a page; uri (may be NULL) goes into the Play
 * Store referrer so the app continues the invite after install. */
static int
app_lists_build(struct web_req *q, const char *uri, const char *register_url,
                enum web_platform plat, struct pool *pool, struct app_lists *l)
{
	const struct web_apps *apps = q->w->apps;
	size_t i, n = apps ? apps->n : 0;
	int p;

	memset(l, 0, sizeof(*l));
	if (!n)
		return 0;
	l->vars = inv__calloc(n * APP_VARS, sizeof(*l->vars));
	l->all = inv__calloc(n, sizeof(*l->all));
	l->primary = inv__calloc(n, sizeof(*l->primary));
	l->pvars = inv__calloc(WEB_PLATFORM_COUNT * 2, sizeof(*l->pvars));
	l->others = inv__calloc(WEB_PLATFORM_COUNT, sizeof(*l->others));
	l->plists = inv__calloc(n * WEB_PLATFORM_COUNT, sizeof(*l->plists));
	if (!l->vars || !l->all || !l->primary || !l->pvars || !l->others ||
	    !l->plists) {
		app_lists_free(l);
		return INVITES_ENOMEM;
	}
	for (i = 0; i < n; i++) {
		const struct web_app *a = &apps->v[i];
		struct web_tvar *v = &l->vars[i * APP_VARS];
		const char *play = NULL, *fdroid = NULL;

		if (a->play) {
			struct inv__buf b;

			inv__buf_init(&b);
			inv__buf_puts(&b, "https://play.google.com/store/apps/details?id=");
			inv__buf_puts(&b, a->play);
			if (uri) {
				inv__buf_puts(&b, "&referrer=");
				inv__buf_pct(&b, uri, "");
			}
			play = pool_add(pool, inv__buf_steal(&b));
		}
		if (a->fdroid)
			fdroid = pool_add(pool, inv__asprintf(
				"https://f-droid.org/packages/%s/", a->fdroid));
		v[0] = (struct web_tvar)TV("app_id", a->id);
		v[1] = (struct web_tvar)TV("app_name", a->name);
		v[2] = (struct web_tvar)TV("app_text", a->text);
		v[3] = (struct web_tvar)TV("play_url", play);
		v[4] = (struct web_tvar)TV("fdroid_url", fdroid);
		v[5] = (struct web_tvar)TV("appstore_url", a->appstore);
		v[6] = (struct web_tvar)TV("home_url", a->url);
		v[7] = (struct web_tvar)TV("app_invites", a->invites ? "1" : NULL);
		v[8] = (struct web_tvar)TV("app_register_url",
		                           a->invites ? NULL : register_url);
		l->all[i].v = v;
		l->all[i].n = APP_VARS;
		if (plat != WEB_PLATFORM_UNKNOWN && (a->platforms & (1u << plat)))
			l->primary[l->n_primary++] = l->all[i];
	}
	for (p = 1; p < WEB_PLATFORM_COUNT; p++) {
		struct web_tctx *list = &l->plists[(size_t)p * n];
		size_t k = 0;

		if ((enum web_platform)p == plat)
			continue;
		for (i = 0; i < n; i++)
			if (apps->v[i].platforms & (1u << p))
				list[k++] = l->all[i];
		if (!k)
			continue;
		l->pvars[l->n_others * 2] = (struct web_tvar)TV("platform",
			web__platform_name((enum web_platform)p));
		l->pvars[l->n_others * 2 + 1] = (struct web_tvar)TL("apps", list, k);
		l->others[l->n_others].v = &l->pvars[l->n_others * 2];
		l->others[l->n_others].n = 2;
		l->n_others++;
	}
	return pool->oom ? INVITES_ENOMEM : 0;
}

/* ------------------------------------------------------------------ */
/* Landing page                                                        */
/* ------------------------------------------------------------------ */

enum MHD_Result
web__page_landing(struct web_req *q, const char *token)
{
	struct web *w = q->w;
	struct invites_invite *inv = NULL;
	char *uri = NULL;
	struct pool pool = { 0 };
	struct app_lists apps;
	enum MHD_Result ret;
	int r;

	if (web__limiter_blocked(w->limiter, q->addr, q->now))
		return web__page_limited(q);
	r = web__invite_lookup(q, token, INVITES_FOR_ANY, &inv);
	if (r != 0)
		return web__store_failure(r) ? page_unavailable(q) : web__page_invalid(q);
	strcpy(q->logid, inv->id);
	r = invites_uri_build(inv, token, &uri);
	if (r != 0) {
		invites_invite_free(&inv);
		return page_unavailable(q);
	}
	{
		enum web_platform plat = web__platform_detect(
			web__header(q, "User-Agent"));
		char exp[64], exp_iso[64];
		const char *url = pool_add(&pool, landing_url(w, token));
		const char *reg = can_register(inv) ? pool_add(&pool,
			inv__asprintf("%s/register/%s", w->base_path, token)) : NULL;
		const char *jid = inv->username ? pool_add(&pool,
			inv__asprintf("%s@%s", inv->username, inv->domain)) : NULL;
		const char *qr = url ? pool_add(&pool, web__qr_svg_cached(url,
			"QR code of this invite link")) : NULL;
		const char *other_label = plat == WEB_PLATFORM_UNKNOWN
			? "Apps for every platform" : "Apps for other platforms";
		int k = inv->kind;

		web__fmt_time(inv->expires, exp, sizeof(exp));
		web__fmt_iso(inv->expires, exp_iso, sizeof(exp_iso));
		r = pool.oom ? INVITES_ENOMEM
			     : app_lists_build(q, uri, reg, plat, &pool, &apps);
		if (r != 0) {
			ret = MHD_NO;
		} else {
			struct web_tvar v[] = {
				TV("kind", invites_kind_name(inv->kind)),
				TV("is_account", k == INVITES_KIND_ACCOUNT ? "1" : NULL),
				TV("is_contact", k == INVITES_KIND_CONTACT ? "1" : NULL),
				TV("is_reset", k == INVITES_KIND_RESET ? "1" : NULL),
				TV("contact_register",
				   k == INVITES_KIND_CONTACT && reg ? "1" : NULL),
				TV("inviter", inv->inviter),
				TV("jid", jid),
				TV("domain", inv->domain),
				TV("expires", exp),
				TV("expires_iso", exp_iso),
				TV("uri", uri),
				TV("landing_url", url),
				TV("register_url", reg),
				TH("qr", qr),
				TV("platform", plat == WEB_PLATFORM_UNKNOWN ? NULL
					: web__platform_name(plat)),
				TL("apps_primary", apps.primary, apps.n_primary),
				TL("other_platforms", apps.others, apps.n_others),
				TV("other_label", other_label),
			};
			struct web_tctx ctx = { v, sizeof(v) / sizeof(v[0]), NULL };

			ret = send_page(q, MHD_HTTP_OK, w->t_landing, &ctx,
			                WEB_H_NOSTORE | WEB_H_CORS, uri, NULL);
			app_lists_free(&apps);
		}
	}
	pool_free(&pool);
	invites_free(uri);
	invites_invite_free(&inv);
	return ret;
}

/* ------------------------------------------------------------------ */
/* CSRF                                                                */
/* ------------------------------------------------------------------ */

/* hex(HMAC-SHA256(key, cookie "|" invite id))[:32] */
static void
csrf_value(const struct web *w, const char *cookie, const char *id,
           char out[CSRF_HEX + 1])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char msg[INVITES_TOKEN_MAX + INVITES_ID_LEN + 4];
	int i;

	snprintf(msg, sizeof(msg), "%s|%s", cookie, id);
	if (!HMAC(EVP_sha256(), w->csrf_key, sizeof(w->csrf_key),
	          (const unsigned char *)msg, strlen(msg), mac, &maclen) ||
	    maclen < CSRF_HEX / 2) {
		memset(out, 'x', CSRF_HEX); /* matches nothing a client sends */
		out[CSRF_HEX] = '\0';
		return;
	}
	for (i = 0; i < CSRF_HEX / 2; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

/* The origin (scheme://host[:port]) of base_url. */
static size_t
origin_len(const char *url)
{
	const char *p = strstr(url, "://");

	if (!p)
		return 0;
	p += 3;
	while (*p && *p != '/')
		p++;
	return (size_t)(p - url);
}

/* 1 when the request comes from our own pages (or a same-origin client). */
static int
same_origin(struct web_req *q)
{
	const char *site = web__header(q, "Sec-Fetch-Site");
	const char *origin = web__header(q, "Origin");

	if (site && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0)
		return 0;
	/* Under Referrer-Policy: no-referrer browsers send "Origin: null" on
	 * their own form posts; then Sec-Fetch-Site (above) and the token
	 * bound to the SameSite=Strict cookie decide. */
	if (origin && strcmp(origin, "null") != 0) {
		size_t n = origin_len(q->w->base_url);
		const char *host = web__header(q, "Host");

		if (n && strlen(origin) == n &&
		    strncmp(origin, q->w->base_url, n) == 0)
			return 1;
		/* direct access without the proxy: the Host it was reached at */
		if (host && strncmp(origin, "http://", 7) == 0 &&
		    strcmp(origin + 7, host) == 0 &&
		    strncmp(q->w->base_url, "http://", 7) == 0)
			return 1;
		return 0;
	}
	return 1;
}

/* ------------------------------------------------------------------ */
/* Registration form                                                   */
/* ------------------------------------------------------------------ */

struct form {
	char *csrf, *username, *password, *password2;
	int dup;       /* a field given twice */
	int bad;       /* bad encoding */
	int too_long;  /* a field over WEB_FIELD_MAX */
};

static void
form_free(struct form *f)
{
	if (f->password)
		inv__cleanse(f->password, strlen(f->password));
	if (f->password2)
		inv__cleanse(f->password2, strlen(f->password2));
	free(f->csrf);
	free(f->username);
	free(f->password);
	free(f->password2);
	memset(f, 0, sizeof(*f));
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode one x-www-form-urlencoded component; NULL on bad input. */
static char *
form_decode(const char *s, size_t n, int *bad, int *too_long)
{
	char *out = inv__malloc(n + 1), *o = out;
	size_t i;

	if (!out)
		return NULL;
	for (i = 0; i < n; i++) {
		if (s[i] == '+') {
			*o++ = ' ';
		} else if (s[i] == '%') {
			int hi, lo;

			if (i + 2 >= n) {
				*bad = 1;
				break;
			}
			hi = hexval(s[i + 1]);
			lo = hi < 0 ? -1 : hexval(s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				*bad = 1;
				break;
			}
			*o++ = (char)(hi * 16 + lo);
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	if (*bad) {
		free(out);
		return NULL;
	}
	if ((size_t)(o - out) > WEB_FIELD_MAX)
		*too_long = 1;
	return out;
}

static int
form_parse(const char *body, size_t len, struct form *f)
{
	size_t i = 0;

	memset(f, 0, sizeof(*f));
	if (memchr(body, '\0', len)) {
		f->bad = 1;
		return 0;
	}
	while (i < len) {
		size_t end = i, eq;
		char **slot = NULL;
		char *name;

		while (end < len && body[end] != '&')
			end++;
		for (eq = i; eq < end && body[eq] != '='; eq++)
			;
		name = form_decode(body + i, eq - i, &f->bad, &f->too_long);
		if (!name) {
			if (f->bad)
				return 0;
			return INVITES_ENOMEM;
		}
		if (strcmp(name, "csrf") == 0)
			slot = &f->csrf;
		else if (strcmp(name, "username") == 0)
			slot = &f->username;
		else if (strcmp(name, "password") == 0)
			slot = &f->password;
		else if (strcmp(name, "password2") == 0)
			slot = &f->password2;
		free(name);
		if (slot) {
			char *val = form_decode(body + (eq < end ? eq + 1 : end),
			                        eq < end ? end - eq - 1 : 0,
			                        &f->bad, &f->too_long);

			if (!val) {
				if (f->bad)
					return 0;
				return INVITES_ENOMEM;
			}
			if (*slot) {
				f->dup = 1;
				free(val);
			} else {
				*slot = val;
			}
		}
		i = end + 1;
	}
	return 0;
}

struct form_view {
	const char *error;
	const char *username;   /* to show again (never the password) */
	const char *cookie;     /* Set-Cookie value, when a new one is set */
	const char *csrf;
};

static enum MHD_Result
send_form(struct web_req *q, unsigned status, const struct invites_invite *inv,
          const char *token, const struct form_view *fv)
{
	struct web *w = q->w;
	struct pool pool = { 0 };
	enum MHD_Result ret;
	int k = inv->kind;
	int fixed = inv->username != NULL;
	char minpw[16];
	const char *jid = fixed ? pool_add(&pool, inv__asprintf("%s@%s",
		inv->username, inv->domain)) : NULL;
	const char *action = pool_add(&pool, inv__asprintf("%s/register/%s",
		w->base_path, token));
	const char *back = pool_add(&pool, inv__asprintf("%s/invite/%s",
		w->base_path, token));

	snprintf(minpw, sizeof(minpw), "%u", w->min_password);
	if (pool.oom) {
		pool_free(&pool);
		return MHD_NO;
	}
	{
		struct web_tvar v[] = {
			TV("is_reset", k == INVITES_KIND_RESET ? "1" : NULL),
			TV("is_contact", k == INVITES_KIND_CONTACT ? "1" : NULL),
			TV("preset", fixed && k != INVITES_KIND_RESET ? "1" : NULL),
			TV("choose", fixed ? NULL : "1"),
			TV("jid", jid),
			TV("fixed_username", inv->username),
			TV("inviter", inv->inviter),
			TV("domain", inv->domain),
			TV("username", fv->username),
			TV("error", fv->error),
			TV("csrf", fv->csrf),
			TV("action", action),
			TV("landing", back),
			TV("min_password", minpw),
		};
		struct web_tctx ctx = { v, sizeof(v) / sizeof(v[0]), NULL };

		ret = send_page(q, status, w->t_register, &ctx, WEB_H_NOSTORE,
		                NULL, fv->cookie);
	}
	pool_free(&pool);
	return ret;
}

static char *
new_cookie(const struct web *w, char value[INVITES_TOKEN_MAX + 1])
{
	if (invites_token_new(value, INVITES_TOKEN_MAX + 1) != 0)
		return NULL;
	return inv__asprintf(CSRF_COOKIE "=%s; Path=%s/register/; HttpOnly; "
	                     "SameSite=Strict%s", value, w->base_path,
	                     strncmp(w->base_url, "https://", 8) == 0
	                     ? "; Secure" : "");
}

static enum MHD_Result
form_get(struct web_req *q, const struct invites_invite *inv, const char *token)
{
	const char *have = web__cookie(q, CSRF_COOKIE);
	char value[INVITES_TOKEN_MAX + 1];
	char csrf[CSRF_HEX + 1];
	char *cookie = NULL;
	struct form_view fv;
	enum MHD_Result ret;

	memset(&fv, 0, sizeof(fv));
	if (have && invites_token_plausible(have)) {
		snprintf(value, sizeof(value), "%s", have);
	} else {
		cookie = new_cookie(q->w, value);
		if (!cookie)
			return MHD_NO;
		fv.cookie = cookie;
	}
	csrf_value(q->w, value, inv->id, csrf);
	fv.csrf = csrf;
	if (inv->username)
		fv.username = inv->username;
	ret = send_form(q, MHD_HTTP_OK, inv, token, &fv);
	free(cookie);
	return ret;
}

static enum MHD_Result
registered(struct web_req *q, const struct invites_invite *inv,
           const char *username)
{
	struct pool pool = { 0 };
	struct app_lists apps;
	enum web_platform plat = web__platform_detect(web__header(q, "User-Agent"));
	const char *jid = pool_add(&pool, inv__asprintf("%s@%s", username,
		inv->domain));
	enum MHD_Result ret;

	if (pool.oom || app_lists_build(q, NULL, NULL, plat, &pool, &apps) != 0) {
		pool_free(&pool);
		return MHD_NO;
	}
	{
		struct web_tvar v[] = {
			TV("jid", jid),
			TV("domain", inv->domain),
			TV("is_reset", inv->kind == INVITES_KIND_RESET ? "1" : NULL),
			TV("inviter", inv->inviter),
			TV("platform", plat == WEB_PLATFORM_UNKNOWN ? NULL
				: web__platform_name(plat)),
			TL("apps_primary", apps.primary, apps.n_primary),
			TL("other_platforms", apps.others, apps.n_others),
			TV("other_label", plat == WEB_PLATFORM_UNKNOWN
				? "Apps for every platform" : "Apps for other platforms"),
		};
		struct web_tctx ctx = { v, sizeof(v) / sizeof(v[0]), NULL };

		ret = send_page(q, MHD_HTTP_OK, q->w->t_registered, &ctx,
		                WEB_H_NOSTORE, NULL, NULL);
	}
	app_lists_free(&apps);
	pool_free(&pool);
	return ret;
}

/* The pool of ready XMPP connections for domain, if any. */
static struct web_reg_pool *
reg_pool(const struct web *w, const char *domain)
{
	size_t i;

	for (i = 0; i < w->n_reg_pools; i++)
		if (strcmp(invites_config_domain(w->cfg, i), domain) == 0)
			return w->reg_pools[i];
	return NULL;
}

static enum MHD_Result
form_post(struct web_req *q, const struct invites_invite *inv, const char *token)
{
	struct web *w = q->w;
	struct form f;
	struct form_view fv;
	const char *cookie = web__cookie(q, CSRF_COOKIE);
	const char *ctype = web__header(q, "Content-Type");
	char csrf[CSRF_HEX + 1];
	char username[WEB_USERNAME_MAX * 4 + 1];
	char text[256];
	size_t pwchars = 0;
	unsigned status = MHD_HTTP_UNPROCESSABLE_CONTENT;
	enum MHD_Result ret;
	int r;

	memset(&fv, 0, sizeof(fv));
	if (!ctype || strncmp(ctype, "application/x-www-form-urlencoded", 33) != 0)
		return web__page_error(q, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
		                       "Unsupported form",
		                       "The form was sent in an unexpected format.");
	r = form_parse(q->body.p ? q->body.p : "", q->body.len, &f);
	if (r != 0)
		return MHD_NO;
	if (f.bad || f.dup) {
		form_free(&f);
		return web__page_error(q, MHD_HTTP_BAD_REQUEST, "Bad form",
		                       "The form data could not be read.");
	}

	/* CSRF: our cookie, the token bound to it, and a same-origin post */
	if (cookie && invites_token_plausible(cookie))
		csrf_value(w, cookie, inv->id, csrf);
	if (!cookie || !invites_token_plausible(cookie) || !f.csrf ||
	    strlen(f.csrf) != CSRF_HEX ||
	    !web__ct_equal(f.csrf, csrf, CSRF_HEX) || !same_origin(q)) {
		web__log(INVITES_LOG_NOTICE, "register id=%s: form refused "
		         "(CSRF check: %s) from %s", inv->id,
		         !cookie ? "no cookie"
		         : !invites_token_plausible(cookie) ? "bad cookie"
		         : !f.csrf ? "no form token"
		         : !same_origin(q) ? "cross-site request"
		         : "form token mismatch", q->addr);
		form_free(&f);
		web__limiter_fail(w->limiter, q->addr, q->now);
		return web__page_error(q, MHD_HTTP_FORBIDDEN, "Form expired",
		                       "This form has expired or was sent from "
		                       "another site. Go back, reload the page and "
		                       "try again.");
	}
	fv.csrf = f.csrf;

	/* username */
	if (inv->username) {
		snprintf(username, sizeof(username), "%s", inv->username);
		fv.username = inv->username;
		if (f.username && *f.username) {
			char norm[WEB_USERNAME_MAX * 4 + 1];

			if (strlen(f.username) > WEB_USERNAME_MAX ||
			    invites_nodeprep(f.username, norm, sizeof(norm)) != 0 ||
			    strcmp(norm, inv->username) != 0) {
				fv.error = "This invite is for a fixed username; "
					   "it cannot be changed.";
				goto refuse;
			}
		}
	} else {
		fv.username = f.username;
		if (!f.username || !*f.username) {
			fv.error = "Please choose a username.";
			goto refuse;
		}
		if (strlen(f.username) > WEB_USERNAME_MAX || f.too_long) {
			fv.username = NULL;
			fv.error = "That username is too long.";
			goto refuse;
		}
		if (!web__utf8_check(f.username, NULL) ||
		    invites_nodeprep(f.username, username, sizeof(username)) != 0 ||
		    strlen(username) > WEB_USERNAME_MAX) {
			fv.error = "That username is not allowed: it may not contain "
				   "spaces or any of \" & ' / : < > @.";
			goto refuse;
		}
	}

	/* password */
	if (!f.password || !*f.password) {
		fv.error = "Please choose a password.";
		goto refuse;
	}
	if (f.too_long || strlen(f.password) > WEB_PASSWORD_MAX) {
		fv.error = "That password is too long (at most 256 bytes).";
		goto refuse;
	}
	if (!web__utf8_check(f.password, &pwchars)) {
		fv.error = "The password may not contain control characters.";
		goto refuse;
	}
	if (!f.password2 || strcmp(f.password, f.password2) != 0) {
		fv.error = "The two passwords do not match.";
		goto refuse;
	}
	if (pwchars < w->min_password) {
		snprintf(text, sizeof(text), "That password is too short: use at "
		         "least %u characters.", w->min_password);
		fv.error = text;
		goto refuse;
	}

	/* the server creates the account (or sets the password) */
	{
		struct web_reg_req rq;
		enum web_reg_result res;
		char srvtext[200];

		memset(&rq, 0, sizeof(rq));
		rq.host = w->xmpp_host;
		rq.port = w->xmpp_port;
		rq.domain = inv->domain;
		rq.token = token;
		rq.username = username;
		rq.password = f.password;
		rq.tls = w->xmpp_tls;
		rq.timeout_ms = w->reg_timeout_ms;
		/* (in a worker, the connection ends after the answer) */
		res = web__register(reg_pool(w, inv->domain), &rq, srvtext,
		                    sizeof(srvtext),
		                    q->deferred ? &q->reg_closing : NULL);
		web__log(INVITES_LOG_NOTICE, "register id=%s %s@%s: %s", inv->id,
		         username, inv->domain,
		         res == WEB_REG_OK ? "done" : "refused");
		switch (res) {
		case WEB_REG_OK:
			form_free(&f);
			return registered(q, inv, username);
		case WEB_REG_TOKEN:
			form_free(&f);
			return web__page_invalid(q);
		case WEB_REG_CONFLICT:
			status = MHD_HTTP_CONFLICT;
			fv.error = "That username is already taken. Please choose "
				   "another one.";
			break;
		case WEB_REG_USERNAME:
			snprintf(text, sizeof(text), "The server did not accept that "
			         "username%s%s", *srvtext ? ": " : ".", srvtext);
			fv.error = text;
			break;
		case WEB_REG_PASSWORD:
			snprintf(text, sizeof(text), "The server did not accept that "
			         "password%s%s", *srvtext ? ": " : ".", srvtext);
			fv.error = text;
			break;
		case WEB_REG_NOT_ALLOWED:
			status = MHD_HTTP_FORBIDDEN;
			snprintf(text, sizeof(text), "The server refused the "
			         "registration%s%s", *srvtext ? ": " : ".", srvtext);
			fv.error = text;
			break;
		case WEB_REG_LIMIT:
			status = MHD_HTTP_TOO_MANY_REQUESTS;
			fv.error = "Too many registrations right now. Please try "
				   "again in a few minutes.";
			break;
		case WEB_REG_UNAVAILABLE:
			status = MHD_HTTP_SERVICE_UNAVAILABLE;
			fv.error = "The chat server cannot be reached right now. "
				   "Please try again in a minute.";
			break;
		default:
			status = MHD_HTTP_BAD_GATEWAY;
			fv.error = "The registration did not complete. Please try "
				   "again.";
			break;
		}
	}
refuse:
	ret = send_form(q, status, inv, token, &fv);
	form_free(&f);
	return ret;
}

static void
post_worker(struct web_req *q, void *arg)
{
	struct invites_invite *inv = arg;

	if (form_post(q, inv, q->token) != MHD_YES && !q->pending)
		web__log(INVITES_LOG_ERR, "register id=%s: no answer could be "
		         "made (out of memory)", inv->id);
	invites_invite_free(&inv);
}

enum MHD_Result
web__page_register(struct web_req *q, const char *token)
{
	struct web *w = q->w;
	struct invites_invite *inv = NULL;
	enum MHD_Result ret;
	int r;

	if (web__limiter_blocked(w->limiter, q->addr, q->now))
		return web__page_limited(q);
	if (!*token) {
		web__limiter_fail(w->limiter, q->addr, q->now);
		return web__page_error(q, MHD_HTTP_BAD_REQUEST,
		                       "Incomplete invite link",
		                       "The invite link is incomplete: open the "
		                       "whole link you were sent.");
	}
	r = web__invite_lookup(q, token, INVITES_FOR_PREAUTH, &inv);
	if (r != 0)
		return web__store_failure(r) ? page_unavailable(q) : web__page_invalid(q);
	strcpy(q->logid, inv->id);
	if (strcmp(q->method, "POST") == 0) {
		/* the registration waits on the XMPP server: in a worker, with
		 * this connection suspended (the worker owns inv from here) */
		q->token = inv__strdup(token);
		if (q->token && web__defer(q, post_worker, inv) == 0)
			return MHD_YES;
		ret = form_post(q, inv, token);
	} else {
		ret = form_get(q, inv, token);
	}
	invites_invite_free(&inv);
	return ret;
}
