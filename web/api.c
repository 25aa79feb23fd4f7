/* SPDX-License-Identifier: MIT */
/*
 * The JSON API of invites-web for bots and portals (libjansson):
 *
 *   POST   /api/v1/invites          create (scope invites:create) -> 201
 *   GET    /api/v1/invites          list, with filters (invites:read)
 *   GET    /api/v1/invites/{id}     one invite (invites:read)
 *   DELETE /api/v1/invites/{id}     revoke (invites:revoke)
 *   GET    /api/v1/invite/{token}   public: what an invite link is (CORS)
 *
 * Keys come as "Authorization: Bearer KEY" and are checked against their
 * hashes in the invite store.  Errors are JSON {"error", "message"} with
 * the matching status; a refused request changes nothing stored.  The
 * link of a new invite is in the 201 answer and nowhere else.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "http.h"

#define SCOPE_CREATE "invites:create"
#define SCOPE_READ   "invites:read"
#define SCOPE_REVOKE "invites:revoke"
#define API_NOTE_MAX 1024
#define API_LIST_MAX 64   /* roles or groups in one request */

static enum MHD_Result
send_json(struct web_req *q, unsigned status, json_t *j, unsigned flags,
          const char *location, const char *link)
{
	struct web_resp r;
	char *s = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	if (!s)
		return MHD_NO;
	memset(&r, 0, sizeof(r));
	r.status = status;
	r.ctype = "application/json";
	r.flags = WEB_H_NOSTORE | flags;
	r.location = location;
	r.link = link;
	/* jansson allocates with malloc: web__send frees with free */
	r.body = s;
	r.len = strlen(s);
	if (status == MHD_HTTP_UNAUTHORIZED)
		r.www_auth = "Bearer realm=\"invites\"";
	if (status == MHD_HTTP_TOO_MANY_REQUESTS)
		r.retry_after = "600";
	return web__send(q, &r);
}

enum MHD_Result
web__api_error(struct web_req *q, unsigned status, const char *error,
               const char *message)
{
	json_t *j = json_pack("{s:s, s:s}", "error", error, "message", message);

	if (!j)
		return MHD_NO;
	return send_json(q, status, j, 0, NULL, NULL);
}

static json_t *
strv_json(char *const *v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	if (!a)
		return NULL;
	for (i = 0; i < n; i++)
		if (json_array_append_new(a, json_string(v[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static const char *
status_of(const struct invites_invite *inv, int64_t now)
{
	if (inv->revoked || (inv->flags & INVITES_F_REVOKED))
		return "revoked";
	if (inv->max_uses && inv->uses >= inv->max_uses)
		return "used";
	if (inv->expires && inv->expires <= now)
		return "expired";
	return "pending";
}

static json_t *
opt_str(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *
time_json(int64_t t)
{
	char iso[64];

	if (!t)
		return json_null();
	web__fmt_iso(t, iso, sizeof(iso));
	return json_string(iso);
}

static json_t *
invite_json(const struct invites_invite *inv, int64_t now)
{
	json_t *j = json_object();

	if (!j)
		return NULL;
	if (json_object_set_new(j, "id", json_string(inv->id)) ||
	    json_object_set_new(j, "kind", json_string(invites_kind_name(inv->kind))) ||
	    json_object_set_new(j, "status", json_string(status_of(inv, now))) ||
	    json_object_set_new(j, "domain", json_string(inv->domain)) ||
	    json_object_set_new(j, "username", opt_str(inv->username)) ||
	    json_object_set_new(j, "inviter", opt_str(inv->inviter)) ||
	    json_object_set_new(j, "register", json_boolean(
		inv->kind != INVITES_KIND_CONTACT ||
		(inv->flags & INVITES_F_REGISTER))) ||
	    json_object_set_new(j, "created_by", opt_str(inv->created_by)) ||
	    json_object_set_new(j, "note", opt_str(inv->note)) ||
	    json_object_set_new(j, "roles", strv_json(inv->roles, inv->n_roles)) ||
	    json_object_set_new(j, "groups", strv_json(inv->groups, inv->n_groups)) ||
	    json_object_set_new(j, "created", time_json(inv->created)) ||
	    json_object_set_new(j, "expires", time_json(inv->expires)) ||
	    json_object_set_new(j, "revoked", time_json(inv->revoked)) ||
	    json_object_set_new(j, "uses", json_integer(inv->uses)) ||
	    json_object_set_new(j, "max_uses", json_integer(inv->max_uses)) ||
	    json_object_set_new(j, "last_used_by", opt_str(inv->last_used_by))) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* The error answer for a libinvites error code. */
static enum MHD_Result
lib_error(struct web_req *q, int r)
{
	unsigned status;
	const char *code;

	switch (r) {
	case INVITES_ENOTFOUND:
		status = MHD_HTTP_NOT_FOUND;
		code = "not-found";
		break;
	case INVITES_EINVAL: case INVITES_EJID: case INVITES_EDOMAIN:
	case INVITES_EKIND: case INVITES_ETOKEN: case INVITES_EAMBIG:
	case INVITES_EUSERNAME:
		status = MHD_HTTP_BAD_REQUEST;
		code = "bad-request";
		break;
	case INVITES_EEXIST: case INVITES_ERESERVED: case INVITES_EREVOKED:
	case INVITES_ELIMIT: case INVITES_EUSED: case INVITES_EEXPIRED:
		status = MHD_HTTP_CONFLICT;
		code = "conflict";
		break;
	case INVITES_EFORBIDDEN:
		/* (EACCES is the store's files: a server failure, 503) */
		status = MHD_HTTP_FORBIDDEN;
		code = "forbidden";
		break;
	default:
		web__log(INVITES_LOG_ERR, "api: store: %s", invites_strerror(r));
		status = MHD_HTTP_SERVICE_UNAVAILABLE;
		code = "unavailable";
		break;
	}
	return web__api_error(q, status, code, invites_strerror(r));
}

/* ------------------------------------------------------------------ */
/* Authentication                                                      */
/* ------------------------------------------------------------------ */

struct auth {
	char *name;
	char **scopes;
	size_t n_scopes;
};

static void
auth_clear(struct auth *a)
{
	free(a->name);
	invites_strv_free(a->scopes, a->n_scopes);
	memset(a, 0, sizeof(*a));
}

/* 0 when authorised for scope; otherwise the answer was queued in *ret. */
static int
authorise(struct web_req *q, const char *scope, struct auth *a,
          enum MHD_Result *ret)
{
	const char *h = web__header(q, "Authorization");
	const char *key;
	size_t i;
	int r;

	memset(a, 0, sizeof(*a));
	if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
		*ret = web__api_error(q, MHD_HTTP_UNAUTHORIZED, "unauthorized",
		                      "An API key is needed: Authorization: "
		                      "Bearer KEY.");
		return -1;
	}
	key = h + 7;
	while (*key == ' ')
		key++;
	r = web__key_check(q->w, key, &a->name, &a->scopes, &a->n_scopes);
	if (r != 0) {
		if (web__store_failure(r)) {
			*ret = lib_error(q, r);
			return -1;
		}
		web__limiter_fail(q->w->limiter, q->addr, q->now);
		web__log(INVITES_LOG_NOTICE, "api: refused key from %s", q->addr);
		*ret = web__api_error(q, MHD_HTTP_UNAUTHORIZED, "unauthorized",
		                      "The API key is not valid.");
		return -1;
	}
	for (i = 0; i < a->n_scopes; i++)
		if (strcmp(a->scopes[i], scope) == 0 ||
		    strcmp(a->scopes[i], "invites:*") == 0)
			return 0;
	*ret = web__api_error(q, MHD_HTTP_FORBIDDEN, "forbidden",
	                      "The API key lacks the scope for this request.");
	auth_clear(a);
	return -1;
}

/* ------------------------------------------------------------------ */
/* Create                                                              */
/* ------------------------------------------------------------------ */

/* Strings of a JSON array into v (borrowed from the JSON); -1 on error. */
static int
json_strv(json_t *a, const char **v, size_t *n)
{
	size_t i;
	json_t *e;

	*n = 0;
	if (!json_is_array(a) || json_array_size(a) > API_LIST_MAX)
		return -1;
	json_array_foreach(a, i, e) {
		const char *s = json_string_value(e);

		if (!s || !*s || strlen(s) > 256 || !web__utf8_check(s, NULL))
			return -1;
		v[(*n)++] = s;
	}
	return 0;
}

static enum MHD_Result
api_create(struct web_req *q, const struct auth *a)
{
	struct web *w = q->w;
	struct invites_spec spec;
	const char *roles[API_LIST_MAX], *groups[API_LIST_MAX];
	char token[INVITES_TOKEN_MAX + 1];
	char created_by[160];
	const char *ctype = web__header(q, "Content-Type");
	struct invites_invite *inv = NULL;
	json_error_t jerr;
	json_t *body, *v, *out;
	const char *key;
	char *uri = NULL, *link = NULL, *location = NULL, *reg = NULL;
	char msg[300];
	enum MHD_Result ret;
	int r;

	if (!ctype || strncmp(ctype, "application/json", 16) != 0)
		return web__api_error(q, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
		                      "unsupported-media-type",
		                      "Send the invite as application/json.");
	body = json_loadb(q->body.p ? q->body.p : "", q->body.len,
	                  JSON_REJECT_DUPLICATES, &jerr);
	if (!body) {
		snprintf(msg, sizeof(msg), "Malformed JSON: %s (line %d).",
		         jerr.text, jerr.line);
		return web__api_error(q, MHD_HTTP_BAD_REQUEST, "bad-request", msg);
	}
	if (!json_is_object(body)) {
		json_decref(body);
		return web__api_error(q, MHD_HTTP_BAD_REQUEST, "bad-request",
		                      "The body must be a JSON object.");
	}
	memset(&spec, 0, sizeof(spec));
	spec.kind = INVITES_KIND_ACCOUNT;
	spec.domain = invites_config_domain(w->cfg, 0);
	msg[0] = '\0';
	json_object_foreach(body, key, v) {
		if (strcmp(key, "kind") == 0) {
			if (!json_is_string(v) ||
			    invites_kind_parse(json_string_value(v), &spec.kind) != 0)
				snprintf(msg, sizeof(msg), "kind: account, contact "
				         "or reset.");
		} else if (strcmp(key, "domain") == 0) {
			if (!json_is_string(v))
				snprintf(msg, sizeof(msg), "domain: a string.");
			else
				spec.domain = json_string_value(v);
		} else if (strcmp(key, "username") == 0) {
			if (!json_is_string(v) && !json_is_null(v))
				snprintf(msg, sizeof(msg), "username: a string.");
			else
				spec.username = json_string_value(v);
		} else if (strcmp(key, "inviter") == 0) {
			if (!json_is_string(v) && !json_is_null(v))
				snprintf(msg, sizeof(msg), "inviter: a bare JID.");
			else
				spec.inviter = json_string_value(v);
		} else if (strcmp(key, "register") == 0) {
			if (!json_is_boolean(v))
				snprintf(msg, sizeof(msg), "register: true or false.");
			else if (json_is_true(v))
				spec.flags |= INVITES_F_REGISTER;
		} else if (strcmp(key, "note") == 0) {
			if ((!json_is_string(v) && !json_is_null(v)) ||
			    (json_is_string(v) &&
			     (json_string_length(v) > API_NOTE_MAX ||
			      !web__utf8_check(json_string_value(v), NULL))))
				snprintf(msg, sizeof(msg), "note: a string of at "
				         "most %d bytes.", API_NOTE_MAX);
			else
				spec.note = json_string_value(v);
		} else if (strcmp(key, "roles") == 0) {
			if (json_strv(v, roles, &spec.n_roles) != 0)
				snprintf(msg, sizeof(msg), "roles: an array of at "
				         "most %d strings.", API_LIST_MAX);
			spec.roles = roles;
		} else if (strcmp(key, "groups") == 0) {
			if (json_strv(v, groups, &spec.n_groups) != 0)
				snprintf(msg, sizeof(msg), "groups: an array of at "
				         "most %d strings.", API_LIST_MAX);
			spec.groups = groups;
		} else if (strcmp(key, "uses") == 0) {
			json_int_t n = json_integer_value(v);

			if (!json_is_integer(v) || n < 1 || n > 1000000)
				snprintf(msg, sizeof(msg), "uses: an integer from 1 "
				         "to 1000000.");
			else
				spec.max_uses = (uint32_t)n;
		} else if (strcmp(key, "expiry") == 0) {
			int64_t secs = 0;

			if (json_is_integer(v))
				secs = json_integer_value(v);
			else if (!json_is_string(v) ||
			         invites_parse_duration(json_string_value(v),
			                                &secs) != 0)
				secs = -1;
			if (secs <= 0 || secs > 366 * 86400)
				snprintf(msg, sizeof(msg), "expiry: seconds, or a "
				         "duration such as \"7d\", up to 366 days.");
			else
				spec.expires = q->now + secs;
		} else {
			snprintf(msg, sizeof(msg), "Unknown field \"%.64s\".", key);
		}
		if (msg[0])
			break;
	}
	if (msg[0]) {
		json_decref(body);
		return web__api_error(q, MHD_HTTP_BAD_REQUEST, "bad-request", msg);
	}
	snprintf(created_by, sizeof(created_by), "api:%s", a->name);
	spec.created_by = created_by;

	web__store_lock(w);
	r = invites_create(w->st, w->cfg, &spec, token, sizeof(token), &inv);
	web__store_unlock(w);
	json_decref(body);
	if (r != 0)
		return lib_error(q, r);
	strcpy(q->logid, inv->id);
	web__log(INVITES_LOG_NOTICE, "api: key %s created invite id=%s (%s)",
	         a->name, inv->id, invites_kind_name(inv->kind));

	r = invites_uri_build(inv, token, &uri);
	if (r == 0) {
		const char *tmpl = invites_config_landing_url(w->cfg);

		if (tmpl)
			r = invites_landing_url(tmpl, inv, token, &link);
		else if (!(link = inv__asprintf("%s/invite/%s", w->base_url, token)))
			r = INVITES_ENOMEM;
	}
	location = inv__asprintf("%s/api/v1/invites/%s", w->base_url, inv->id);
	if (inv->kind != INVITES_KIND_CONTACT || (inv->flags & INVITES_F_REGISTER))
		reg = inv__asprintf("%s/register/%s", w->base_url, token);
	out = invite_json(inv, q->now);
	inv__cleanse(token, sizeof(token));
	if (r != 0 || !location || !out ||
	    json_object_set_new(out, "uri", json_string(uri)) ||
	    json_object_set_new(out, "link", json_string(link)) ||
	    json_object_set_new(out, "register_url", opt_str(reg))) {
		json_decref(out);
		ret = MHD_NO;
	} else {
		ret = send_json(q, MHD_HTTP_CREATED, out, 0, location, NULL);
	}
	invites_free(uri);
	invites_free(link);
	free(location);
	free(reg);
	invites_invite_free(&inv);
	return ret;
}

/* ------------------------------------------------------------------ */
/* List, show, revoke                                                  */
/* ------------------------------------------------------------------ */

struct list_ctx {
	json_t *a;
	int64_t now;
	int oom;
};

static int
list_one(void *ctx, const struct invites_invite *inv)
{
	struct list_ctx *l = ctx;
	json_t *j = invite_json(inv, l->now);

	if (!j || json_array_append_new(l->a, j) != 0) {
		l->oom = 1;
		return 1;
	}
	return 0;
}

static enum MHD_Result
api_list(struct web_req *q)
{
	struct web *w = q->w;
	struct invites_filter f;
	struct list_ctx l;
	const char *kind = web__query(q, "kind");
	const char *status = web__query(q, "status");
	json_t *out;
	int r;

	memset(&f, 0, sizeof(f));
	f.domain = web__query(q, "domain");
	f.inviter = web__query(q, "inviter");
	f.now = q->now;
	if (kind && invites_kind_parse(kind, &f.kind) != 0)
		return web__api_error(q, MHD_HTTP_BAD_REQUEST, "bad-request",
		                      "kind: account, contact or reset.");
	if (status && strcmp(status, "all") == 0)
		f.all = 1;
	else if (status && strcmp(status, "pending") != 0)
		return web__api_error(q, MHD_HTTP_BAD_REQUEST, "bad-request",
		                      "status: pending or all.");
	memset(&l, 0, sizeof(l));
	l.a = json_array();
	l.now = q->now;
	if (!l.a)
		return MHD_NO;
	web__store_lock(w);
	r = invites_list(w->st, &f, list_one, &l);
	web__store_unlock(w);
	if (l.oom) {
		json_decref(l.a);
		return MHD_NO;
	}
	if (r < 0) {
		json_decref(l.a);
		return lib_error(q, r);
	}
	out = json_pack("{s:o}", "invites", l.a);
	if (!out)
		return MHD_NO;
	return send_json(q, MHD_HTTP_OK, out, 0, NULL, NULL);
}

static int
id_ok(const char *id)
{
	size_t n = strlen(id), i;

	if (n < 4 || n > INVITES_ID_LEN)
		return 0;
	for (i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return 1;
}

static enum MHD_Result
api_one(struct web_req *q, const char *id, const struct auth *a, int revoke)
{
	struct web *w = q->w;
	struct invites_invite *inv = NULL;
	char actor[160];
	json_t *j;
	int r;

	if (!id_ok(id))
		return web__api_error(q, MHD_HTTP_NOT_FOUND, "not-found",
		                      "No such invite.");
	web__store_lock(w);
	if (revoke) {
		snprintf(actor, sizeof(actor), "api:%s", a->name);
		r = invites_revoke(w->st, id, actor, &inv);
	} else {
		r = invites_get_by_id(w->st, id, &inv);
	}
	web__store_unlock(w);
	if (r != 0)
		return lib_error(q, r);
	strcpy(q->logid, inv->id);
	if (revoke)
		web__log(INVITES_LOG_NOTICE, "api: key %s revoked invite id=%s",
		         a->name, inv->id);
	j = invite_json(inv, q->now);
	invites_invite_free(&inv);
	if (!j)
		return MHD_NO;
	return send_json(q, MHD_HTTP_OK, j, 0, NULL, NULL);
}

/* ------------------------------------------------------------------ */
/* Public: what an invite link is                                      */
/* ------------------------------------------------------------------ */

static enum MHD_Result
api_public(struct web_req *q, const char *token)
{
	struct web *w = q->w;
	struct invites_invite *inv = NULL;
	char *uri = NULL, *url = NULL, *reg = NULL, *jid = NULL;
	json_t *j;
	enum MHD_Result ret;
	int r;

	r = web__invite_lookup(q, token, INVITES_FOR_ANY, &inv);
	if (r != 0) {
		if (web__store_failure(r))
			return lib_error(q, r);
		j = json_pack("{s:s, s:s}", "error", "not-found", "message",
		              "This invite link is not valid: it may have expired "
		              "or been used.");
		return j ? send_json(q, MHD_HTTP_NOT_FOUND, j, WEB_H_CORS, NULL,
		                     NULL) : MHD_NO;
	}
	strcpy(q->logid, inv->id);
	r = invites_uri_build(inv, token, &uri);
	url = inv__asprintf("%s/invite/%s", w->base_url, token);
	if (inv->kind != INVITES_KIND_CONTACT || (inv->flags & INVITES_F_REGISTER))
		reg = inv__asprintf("%s/register/%s", w->base_url, token);
	if (inv->username)
		jid = inv__asprintf("%s@%s", inv->username, inv->domain);
	j = json_object();
	if (r != 0 || !url || !j ||
	    json_object_set_new(j, "kind", json_string(invites_kind_name(inv->kind))) ||
	    json_object_set_new(j, "domain", json_string(inv->domain)) ||
	    json_object_set_new(j, "inviter", opt_str(inv->inviter)) ||
	    json_object_set_new(j, "jid", opt_str(jid)) ||
	    json_object_set_new(j, "expires", time_json(inv->expires)) ||
	    json_object_set_new(j, "uri", json_string(uri)) ||
	    json_object_set_new(j, "landing_url", json_string(url)) ||
	    json_object_set_new(j, "register_url", opt_str(reg))) {
		json_decref(j);
		ret = MHD_NO;
	} else {
		ret = send_json(q, MHD_HTTP_OK, j, WEB_H_CORS, NULL, uri);
	}
	invites_free(uri);
	free(url);
	free(reg);
	free(jid);
	invites_invite_free(&inv);
	return ret;
}

static enum MHD_Result
not_allowed(struct web_req *q, const char *allow)
{
	json_t *j = json_pack("{s:s, s:s}", "error", "method-not-allowed",
	                      "message", "Method not allowed here.");
	struct web_resp r;
	char *s;

	if (!j)
		return MHD_NO;
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!s)
		return MHD_NO;
	memset(&r, 0, sizeof(r));
	r.status = MHD_HTTP_METHOD_NOT_ALLOWED;
	r.ctype = "application/json";
	r.flags = WEB_H_NOSTORE;
	r.allow = allow;
	r.body = s;
	r.len = strlen(s);
	return web__send(q, &r);
}

enum MHD_Result
web__api(struct web_req *q, const char *rest)
{
	const char *m = q->method;
	int get = strcmp(m, "GET") == 0 || q->head;
	struct auth a;
	enum MHD_Result ret;

	if (web__limiter_blocked(q->w->limiter, q->addr, q->now))
		return web__api_error(q, MHD_HTTP_TOO_MANY_REQUESTS,
		                      "too-many-requests",
		                      "Too many failed attempts from this address; "
		                      "try again later.");
	if (strncmp(rest, "/v1/invite/", 11) == 0 && !strchr(rest + 11, '/')) {
		q->route = "/api/v1/invite/-";
		if (strcmp(m, "OPTIONS") == 0) {
			struct web_resp r;

			memset(&r, 0, sizeof(r));
			r.status = MHD_HTTP_NO_CONTENT;
			r.flags = WEB_H_CORS | WEB_H_NOBODY;
			r.allow = "GET, HEAD, OPTIONS";
			return web__send(q, &r);
		}
		if (!get)
			return not_allowed(q, "GET, HEAD, OPTIONS");
		return api_public(q, rest + 11);
	}
	if (strcmp(rest, "/v1/invites") == 0) {
		q->route = "/api/v1/invites";
		if (strcmp(m, "POST") == 0) {
			if (authorise(q, SCOPE_CREATE, &a, &ret) != 0)
				return ret;
			ret = api_create(q, &a);
			auth_clear(&a);
			return ret;
		}
		if (!get)
			return not_allowed(q, "GET, HEAD, POST");
		if (authorise(q, SCOPE_READ, &a, &ret) != 0)
			return ret;
		ret = api_list(q);
		auth_clear(&a);
		return ret;
	}
	if (strncmp(rest, "/v1/invites/", 12) == 0 && !strchr(rest + 12, '/')) {
		int del = strcmp(m, "DELETE") == 0;

		q->route = "/api/v1/invites/ID";
		if (!get && !del)
			return not_allowed(q, "GET, HEAD, DELETE");
		if (authorise(q, del ? SCOPE_REVOKE : SCOPE_READ, &a, &ret) != 0)
			return ret;
		ret = api_one(q, rest + 12, &a, del);
		auth_clear(&a);
		return ret;
	}
	q->route = "/api/-";
	return web__api_error(q, MHD_HTTP_NOT_FOUND, "not-found",
	                      "No such API resource.");
}
