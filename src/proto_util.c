/* SPDX-License-Identifier: MIT */
/*
 * Protocol engine, shared pieces: the engine object, outcomes and their
 * actions, stanza errors and replies, XEP-0004 form helpers, JID and
 * configuration helpers used by every handler (src/proto_*.c).
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "internal.h"
#include "proto.h"
#include "xml.h"

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

static int
cfg_bool(const struct invites_config *cfg, const char *key, int dflt)
{
	const char *v = invites_config_get(cfg, key);

	if (v == NULL || *v == '\0')
		return dflt;
	if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0
	    || strcasecmp(v, "on") == 0 || strcmp(v, "1") == 0)
		return 1;
	if (strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0
	    || strcasecmp(v, "off") == 0 || strcmp(v, "0") == 0)
		return 0;
	return dflt;
}

static unsigned
cfg_unsigned(const struct invites_config *cfg, const char *key,
             unsigned dflt)
{
	const char *v = invites_config_get(cfg, key);
	char *end;
	unsigned long n;

	if (v == NULL || *v == '\0')
		return dflt;
	n = strtoul(v, &end, 10);
	if (*end != '\0' || n > 1000000ul)
		return dflt;
	return (unsigned)n;
}

int
inv__proto_new(const struct invites_config *cfg, struct invites_store *st,
               struct inv__proto **p_r)
{
	struct inv__proto *p;

	*p_r = NULL;
	if (cfg == NULL || st == NULL)
		return INVITES_EINVAL;
	p = inv__calloc(1, sizeof(*p));
	if (p == NULL)
		return INVITES_ENOMEM;
	p->cfg = cfg;
	p->st = st;
	p->max_failures = cfg_unsigned(cfg, "preauth_max_failures", 5);
	p->require_tls = cfg_bool(cfg, "require_tls", 1);
	p->user_invites = cfg_bool(cfg, "user_invites", 1);
	p->user_invites_register = cfg_bool(cfg, "user_invites_register", 1);
	*p_r = p;
	return 0;
}

void
inv__proto_free(struct inv__proto **p)
{
	if (p == NULL || *p == NULL)
		return;
	invites_free(*p);
	*p = NULL;
}

int
inv__proto_is_admin(struct inv__proto *p, const char *bare)
{
	const char *list = invites_config_get(p->cfg, "admins");
	char one[INVITES_JID_MAX + 1], norm[INVITES_JID_MAX + 1];
	const char *s, *e;
	size_t n;

	if (list != NULL) {
		for (s = list; *s != '\0'; s = e) {
			while (*s == ',' || isspace((unsigned char)*s))
				s++;
			e = s;
			while (*e != '\0' && *e != ','
			       && !isspace((unsigned char)*e))
				e++;
			n = (size_t)(e - s);
			if (n == 0 || n > INVITES_JID_MAX)
				continue;
			memcpy(one, s, n);
			one[n] = '\0';
			if (invites_jid_bare(one, norm, sizeof(norm)) == 0
			    && strcmp(norm, bare) == 0)
				return 1;
		}
	}
	return invites_has_role(p->st, bare, "admin") == 1;
}

/* ------------------------------------------------------------------ */
/* Outcomes                                                            */
/* ------------------------------------------------------------------ */

void
inv__out_init(struct inv__out *o)
{
	memset(o, 0, sizeof(*o));
	o->result = INV__PASS;
}

static void
secret_free(char **s)
{
	if (*s != NULL) {
		inv__cleanse(*s, strlen(*s));
		invites_free(*s);
		*s = NULL;
	}
}

void
inv__out_drop_acts(struct inv__out *o)
{
	size_t i;

	for (i = 0; i < o->n_acts; i++) {
		struct inv__act *a = &o->acts[i];

		invites_free(a->jid);
		invites_free(a->jid2);
		invites_free(a->text);
		secret_free(&a->secret);
		invites_strv_free(a->groups, a->n_groups);
	}
	o->n_acts = 0;
}

void
inv__out_clear(struct inv__out *o)
{
	inv__out_drop_acts(o);
	invites_free(o->acts);
	invites_free(o->reply);
	secret_free(&o->undo_token);
	invites_free(o->undo_invitee);
	invites_free(o->iq_id);
	invites_free(o->iq_from);
	invites_free(o->iq_to);
	inv__out_init(o);
}

struct inv__act *
inv__out_act(struct inv__out *o, enum inv__act_type type)
{
	struct inv__act *a;

	if (o->n_acts == o->cap_acts) {
		size_t cap = o->cap_acts ? o->cap_acts * 2 : 8;
		void *n = inv__realloc(o->acts, cap * sizeof(*o->acts));

		if (n == NULL)
			return NULL;
		o->acts = n;
		o->cap_acts = cap;
	}
	a = &o->acts[o->n_acts++];
	memset(a, 0, sizeof(*a));
	a->type = type;
	return a;
}

int
inv__out_log(struct inv__out *o, int level, const char *fmt, ...)
{
	struct inv__act *a;
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = inv__vasprintf(fmt, ap);
	va_end(ap);
	if (msg == NULL)
		return INVITES_ENOMEM;
	a = inv__out_act(o, INV__ACT_LOG);
	if (a == NULL) {
		invites_free(msg);
		return INVITES_ENOMEM;
	}
	a->level = level;
	a->text = msg;
	return 0;
}

int
inv__out_send(struct inv__out *o, const struct inv__xml *stanza)
{
	struct inv__act *a;
	char *s;
	int rc;

	rc = inv__xml_write(stanza, INV_XML_NS_CLIENT, &s, NULL);
	if (rc < 0)
		return INVITES_ENOMEM;
	a = inv__out_act(o, INV__ACT_SEND);
	if (a == NULL) {
		invites_free(s);
		return INVITES_ENOMEM;
	}
	a->text = s;
	return 0;
}

int
inv__out_roster(struct inv__out *o, const char *owner, const char *contact,
                int sub, int ask, char *const *groups, size_t n_groups)
{
	struct inv__act *a = inv__out_act(o, INV__ACT_ROSTER_SET);

	if (a == NULL)
		return INVITES_ENOMEM;
	a->sub = sub;
	a->ask = ask;
	a->jid = inv__strdup(owner);
	a->jid2 = inv__strdup(contact);
	if (n_groups > 0) {
		a->groups = inv__strv_dup((const char *const *)groups,
		                          n_groups);
		if (a->groups != NULL)
			a->n_groups = n_groups;
	}
	if (a->jid == NULL || a->jid2 == NULL
	    || (n_groups > 0 && a->groups == NULL))
		return INVITES_ENOMEM;
	return 0;
}

int
inv__out_reply(struct inv__out *o, int result, struct inv__xml **reply)
{
	char *s = NULL;
	int rc;

	rc = inv__xml_write(*reply, INV_XML_NS_CLIENT, &s, NULL);
	inv__xml_free(reply);
	if (rc < 0) {
		o->result = INV__REJECT;
		o->err_type = "wait";
		o->err_cond = "resource-constraint";
		o->err_text = NULL;
		return INVITES_ENOMEM;
	}
	invites_free(o->reply);
	o->reply = s;
	o->result = result;
	return 0;
}

struct inv__xml *
inv__b_new(const char *ns, const char *name, int *err)
{
	struct inv__xml *e = NULL;
	int rc;

	if (*err != 0)
		return NULL;
	rc = inv__xml_new(ns, name, &e);
	if (rc < 0)
		*err = rc;
	return e;
}

struct inv__xml *
inv__b_el(struct inv__xml *parent, const char *ns, const char *name,
          int *err)
{
	struct inv__xml *e = NULL;
	int rc;

	if (*err != 0 || parent == NULL)
		return NULL;
	rc = inv__xml_add_new(parent, ns, name, &e);
	if (rc < 0) {
		*err = rc;
		return NULL;
	}
	return e;
}

void
inv__b_attr(struct inv__xml *e, const char *name, const char *value,
            int *err)
{
	int rc;

	if (*err != 0 || e == NULL || value == NULL)
		return;
	rc = inv__xml_set_attr(e, name, value);
	if (rc < 0)
		*err = rc;
}

void
inv__b_text(struct inv__xml *e, const char *text, int *err)
{
	int rc;

	if (*err != 0 || e == NULL || text == NULL || *text == '\0')
		return;
	rc = inv__xml_add_text(e, text);
	if (rc < 0)
		*err = rc;
}

struct inv__xml *
inv__b_text_el(struct inv__xml *parent, const char *ns, const char *name,
               const char *text, int *err)
{
	struct inv__xml *e = inv__b_el(parent, ns, name, err);

	inv__b_text(e, text, err);
	return e;
}

struct inv__xml *
inv__b_iq(const struct inv__xml *req, const char *type, const char *from,
          const char *to, int *err)
{
	struct inv__xml *iq = inv__b_new(INV_XML_NS_CLIENT, "iq", err);

	inv__b_attr(iq, "type", type, err);
	if (req != NULL)
		inv__b_attr(iq, "id", inv__xml_attr(req, "id"), err);
	inv__b_attr(iq, "from", from, err);
	inv__b_attr(iq, "to", to, err);
	return iq;
}

int
inv__out_iq_error(struct inv__out *o, const struct inv__xml *req,
                  const char *from, const char *to, const char *type,
                  const char *cond, const char *text)
{
	struct inv__xml *iq, *error;
	int err = 0;

	o->result = INV__REJECT;
	o->err_type = type;
	o->err_cond = cond;
	o->err_text = text;
	invites_free(o->reply);
	o->reply = NULL;
	if (req == NULL)
		return INV__REJECT;
	iq = inv__b_iq(req, "error", from, to, &err);
	error = inv__b_el(iq, INV_XML_NS_CLIENT, "error", &err);
	inv__b_attr(error, "type", type, &err);
	inv__b_el(error, INV__NS_STANZAS, cond, &err);
	if (text != NULL)
		inv__b_text_el(error, INV__NS_STANZAS, "text", text, &err);
	if (err != 0) {
		inv__xml_free(&iq);
		return INV__REJECT;
	}
	inv__out_reply(o, INV__REJECT, &iq);
	return INV__REJECT;
}

int
inv__out_iq_errcode(struct inv__out *o, const struct inv__xml *req,
                    const char *from, const char *to, int errcode,
                    const char *text)
{
	return inv__out_iq_error(o, req, from, to, invites_err_type(errcode),
	                         invites_err_condition(errcode), text);
}

int
inv__out_keep_iq(struct inv__out *o, const struct inv__xml *req,
                 const char *from, const char *to)
{
	const char *id = inv__xml_attr(req, "id");

	invites_free(o->iq_id);
	invites_free(o->iq_from);
	invites_free(o->iq_to);
	o->iq_id = inv__strdup(id ? id : "");
	o->iq_from = inv__strdup(from);
	o->iq_to = inv__strdup(to);
	if (o->iq_id == NULL || (from != NULL && o->iq_from == NULL)
	    || (to != NULL && o->iq_to == NULL))
		return INVITES_ENOMEM;
	return 0;
}

void
inv__proto_undo(struct inv__proto *p, struct inv__out *o, int errcode)
{
	struct inv__xml *req = NULL;
	int err = 0;

	if (o->undo_token != NULL && o->undo_invitee != NULL)
		invites_unconsume(p->st, o->undo_token, o->undo_invitee);
	/* Drop every action after the failed one; keep nothing to run. */
	inv__out_drop_acts(o);
	if (o->iq_id != NULL) {
		req = inv__b_new(INV_XML_NS_CLIENT, "iq", &err);
		inv__b_attr(req, "id", o->iq_id, &err);
	}
	if (errcode == INVITES_EEXIST)
		inv__out_iq_error(o, err == 0 ? req : NULL, o->iq_from,
		                  o->iq_to, "cancel", "conflict",
		                  "The requested username already exists");
	else
		inv__out_iq_error(o, err == 0 ? req : NULL, o->iq_from,
		                  o->iq_to, "wait", "internal-server-error",
		                  NULL);
	inv__xml_free(&req);
}

/* ------------------------------------------------------------------ */
/* Forms (XEP-0004)                                                    */
/* ------------------------------------------------------------------ */

struct inv__xml *
inv__form_new(struct inv__xml *parent, const char *type, const char *title,
              const char *form_type, int *err)
{
	struct inv__xml *x = inv__b_el(parent, INV__NS_XDATA, "x", err);

	inv__b_attr(x, "type", type, err);
	if (title != NULL)
		inv__b_text_el(x, INV__NS_XDATA, "title", title, err);
	if (form_type != NULL)
		inv__form_field(x, "FORM_TYPE", "hidden", NULL, form_type, 0,
		                err);
	return x;
}

struct inv__xml *
inv__form_field(struct inv__xml *form, const char *var, const char *type,
                const char *label, const char *value, int required,
                int *err)
{
	struct inv__xml *f = inv__b_el(form, INV__NS_XDATA, "field", err);

	inv__b_attr(f, "var", var, err);
	inv__b_attr(f, "type", type, err);
	inv__b_attr(f, "label", label, err);
	if (required)
		inv__b_el(f, INV__NS_XDATA, "required", err);
	if (value != NULL)
		inv__b_text_el(f, INV__NS_XDATA, "value", value, err);
	return f;
}

void
inv__form_option(struct inv__xml *field, const char *label,
                 const char *value, int *err)
{
	struct inv__xml *o = inv__b_el(field, INV__NS_XDATA, "option", err);

	inv__b_attr(o, "label", label, err);
	inv__b_text_el(o, INV__NS_XDATA, "value", value, err);
}

struct inv__xml *
inv__form_find(const struct inv__xml *e)
{
	return inv__xml_child(e, INV__NS_XDATA, "x");
}

static struct inv__xml *
form_field(const struct inv__xml *form, const char *var)
{
	struct inv__xml *f;

	if (form == NULL)
		return NULL;
	for (f = inv__xml_child(form, INV__NS_XDATA, "field"); f != NULL;
	     f = inv__xml_next_named(f, INV__NS_XDATA, "field")) {
		const char *v = inv__xml_attr(f, "var");

		if (v != NULL && strcmp(v, var) == 0)
			return f;
	}
	return NULL;
}

const char *
inv__form_value(const struct inv__xml *form, const char *var)
{
	struct inv__xml *f = form_field(form, var);
	const char *v;

	if (f == NULL)
		return NULL;
	v = inv__xml_child_text(f, INV__NS_XDATA, "value");
	return v != NULL ? v : "";
}

int
inv__form_has(const struct inv__xml *form, const char *var)
{
	return form_field(form, var) != NULL;
}

/* ------------------------------------------------------------------ */
/* Stanzas and JIDs                                                    */
/* ------------------------------------------------------------------ */

int
inv__proto_parse(const char *xml, size_t len, struct inv__xml **root_r)
{
	*root_r = NULL;
	if (xml == NULL)
		return INV_XML_EMALFORMED;
	return inv__xml_parse(xml, len, INV_XML_NS_CLIENT, NULL, root_r);
}

int
inv__proto_is_stanza(const struct inv__xml *e, const char *name)
{
	return inv__xml_is(e, INV_XML_NS_CLIENT, name)
	       || inv__xml_is(e, INV_XML_NS_SERVER, name);
}

int
inv__proto_bare(const char *jid, char *out, size_t *domain_off_r)
{
	const char *at;
	int rc;

	if (jid == NULL || *jid == '\0')
		return INVITES_EJID;
	rc = invites_jid_bare(jid, out, INVITES_JID_MAX + 1);
	if (rc < 0)
		return INVITES_EJID;
	if (domain_off_r != NULL) {
		at = strchr(out, '@');
		*domain_off_r = at != NULL ? (size_t)(at - out) + 1 : 0;
	}
	return 0;
}

void
inv__proto_time(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL
	    || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		strcpy(out, "1970-01-01T00:00:00Z");
}
