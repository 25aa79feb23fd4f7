/* SPDX-License-Identifier: MIT */
/*
 * mod_invites.so: the sm half of xmpp-invites for Debian's unmodified
 * jabberd2 2.7.
 *
 * A thin translator between the session manager and the protocol engine,
 * reached only through the plugin hook table of plugin/invites_plugin.h
 * (linked in statically).  Chains (see contrib/jabberd2/sm.xml):
 *   pkt-sm (before disco)       IQs to the server JID: XEP-0050 invite
 *                               commands and their disco items/info;
 *   pkt-user (before roster)    subscribe presences to a local user: a
 *                               valid XEP-0379 <preauth/> is approved
 *                               without asking the user;
 *   user-create (after active)  roster pairing and roles for a user that
 *                               registered with an invite;
 *   user-delete                 revoke_on_delete: the deleted user's
 *                               pending invites are revoked.
 * The engine decides; this file carries out its actions the jabberd2 way:
 * roster items are written in mod_roster's storage format *and* in the
 * in-memory roster of a loaded user (items allocated the way mod_roster
 * frees them), pushed to the sessions that fetched their roster, and
 * stanzas are routed with pkt_router.  Layouts: j2abi.h; the module checks
 * the host at load and refuses with one log line when anything is off.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <invites/invites.h>

#include "invites_plugin.h"
#include "j2abi.h"
#include "j2common.h"

/* The entry point jabberd2's sm calls (dlsym "module_init"), declared with
 * the type the sm calls it through. */
INVITES_PLUGIN_EXPORT int module_init(struct j2_mod_instance *mi);

#define NS_COMMANDS "http://jabber.org/protocol/commands"

struct sm_ctx {
	struct j2_sm *sm;
	const struct invites_plugin *plugin;
	struct invites_instance *inst;
	struct invites_host host;
	int roster_index;       /* mod_roster's index, -1 when not loaded */
	/* roster_get results live until the next callback */
	char *rg_name;
	char **rg_groups;
	int rg_ngroups;
};

static void
rg_clear(struct sm_ctx *ctx)
{
	int i;

	free(ctx->rg_name);
	ctx->rg_name = NULL;
	for (i = 0; i < ctx->rg_ngroups; i++)
		free(ctx->rg_groups[i]);
	free(ctx->rg_groups);
	ctx->rg_groups = NULL;
	ctx->rg_ngroups = 0;
}

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

/* Append s to buf (size cap, used *len) with XML escaping; -1 if full. */
static int
put_esc(char *buf, size_t cap, size_t *len, const char *s)
{
	for (; *s != '\0'; s++) {
		const char *r = NULL;
		char one[2] = { *s, '\0' };
		size_t n;

		switch (*s) {
		case '&': r = "&amp;"; break;
		case '<': r = "&lt;"; break;
		case '>': r = "&gt;"; break;
		case '\'': r = "&apos;"; break;
		case '"': r = "&quot;"; break;
		default: r = one; break;
		}
		n = strlen(r);
		if (*len + n >= cap)
			return -1;
		memcpy(buf + *len, r, n);
		*len += n;
	}
	buf[*len] = '\0';
	return 0;
}

static int
put_raw(char *buf, size_t cap, size_t *len, const char *s)
{
	size_t n = strlen(s);

	if (*len + n >= cap)
		return -1;
	memcpy(buf + *len, s, n + 1);
	*len += n;
	return 0;
}

/* Route an engine stanza (it carries to and from). */
static int
route_xml(struct sm_ctx *ctx, const char *xml)
{
	struct j2_nad *nad = j2_route_nad(xml);
	struct j2_pkt *pkt;

	if (nad == NULL) {
		log_write(ctx->sm->log, J2_LOG_ERR,
		          "invites: jabberd2 could not parse an outgoing stanza");
		return INVITES_EINTERNAL;
	}
	pkt = pkt_new(ctx->sm, nad);   /* frees nad on failure */
	if (pkt == NULL) {
		log_write(ctx->sm->log, J2_LOG_ERR,
		          "invites: jabberd2 refused an outgoing stanza");
		return INVITES_EINTERNAL;
	}
	pkt_router(pkt);
	return 0;
}

static const char *
sub_name(int to, int from)
{
	if (to && from)
		return "both";
	if (to)
		return "to";
	if (from)
		return "from";
	return "none";
}

/* ------------------------------------------------------------------ */
/* Roster: mod_roster's storage format and in-memory items             */
/* ------------------------------------------------------------------ */

static void
roster_filter(char *buf, size_t n, const char *contact)
{
	snprintf(buf, n, "(jid=%zu:%s)", strlen(contact), contact);
}

/* Store one item as mod_roster does (roster-items, roster-groups). */
static int
roster_store(struct sm_ctx *ctx, const char *owner, const char *contact,
             const char *name, int to, int from, int ask,
             const char *const *groups, int ngroups)
{
	char filter[4096];
	j2_os_t os;
	j2_os_object_t o;
	int i, rc;

	roster_filter(filter, sizeof filter, contact);
	os = os_new();
	if (os == NULL)
		return INVITES_ENOMEM;
	o = os_object_new(os);
	os_object_put(o, "jid", contact, J2_OS_STRING);
	if (name != NULL)
		os_object_put(o, "name", name, J2_OS_STRING);
	os_object_put(o, "to", &to, J2_OS_BOOLEAN);
	os_object_put(o, "from", &from, J2_OS_BOOLEAN);
	os_object_put(o, "ask", &ask, J2_OS_INTEGER);
	rc = storage_replace(ctx->sm->st, "roster-items", owner, filter, os);
	os_free(os);
	if (rc != J2_ST_SUCCESS)
		return INVITES_ESTORE;

	if (ngroups == 0) {
		storage_delete(ctx->sm->st, "roster-groups", owner, filter);
		return 0;
	}
	os = os_new();
	if (os == NULL)
		return INVITES_ENOMEM;
	for (i = 0; i < ngroups; i++) {
		o = os_object_new(os);
		os_object_put(o, "jid", contact, J2_OS_STRING);
		os_object_put(o, "group", groups[i], J2_OS_STRING);
	}
	rc = storage_replace(ctx->sm->st, "roster-groups", owner, filter, os);
	os_free(os);
	return rc == J2_ST_SUCCESS ? 0 : INVITES_ESTORE;
}

/* Read an item of a user that is not loaded; 0, or INVITES_ENOTFOUND. */
static int
roster_load_stored(struct sm_ctx *ctx, const char *owner, const char *contact,
                   struct invites_roster_item *it)
{
	char filter[4096];
	j2_os_t os = NULL;
	j2_os_object_t o;
	char *s = NULL;
	int to = 0, from = 0, ask = 0;

	roster_filter(filter, sizeof filter, contact);
	if (storage_get(ctx->sm->st, "roster-items", owner, filter, &os)
	    != J2_ST_SUCCESS)
		return INVITES_ENOTFOUND;
	if (!os_iter_first(os) || (o = os_iter_object(os)) == NULL) {
		os_free(os);
		return INVITES_ENOTFOUND;
	}
	os_object_get_bool(os, o, "to", &to);
	os_object_get_bool(os, o, "from", &from);
	os_object_get_int(os, o, "ask", &ask);
	if (os_object_get_str(os, o, "name", &s) && s != NULL)
		ctx->rg_name = strdup(s);
	os_free(os);

	os = NULL;
	if (storage_get(ctx->sm->st, "roster-groups", owner, filter, &os)
	    == J2_ST_SUCCESS) {
		if (os_iter_first(os)) {
			do {
				char **g;

				o = os_iter_object(os);
				s = NULL;
				if (o == NULL || !os_object_get_str(os, o, "group", &s)
				    || s == NULL)
					continue;
				g = realloc(ctx->rg_groups, sizeof *g * (size_t)(ctx->rg_ngroups + 1));
				if (g == NULL)
					break;
				ctx->rg_groups = g;
				if ((g[ctx->rg_ngroups] = strdup(s)) != NULL)
					ctx->rg_ngroups++;
			} while (os_iter_next(os));
		}
		os_free(os);
	}
	it->name = ctx->rg_name;
	it->subscription = (to ? INVITES_SUB_TO : 0) | (from ? INVITES_SUB_FROM : 0);
	it->ask = ask == 1;
	it->groups = (const char *const *)ctx->rg_groups;
	it->n_groups = (size_t)ctx->rg_ngroups;
	return 0;
}

static int
host_roster_get(void *vctx, const char *owner, const char *contact,
                struct invites_roster_item *it)
{
	struct sm_ctx *ctx = vctx;
	struct j2_user *u = xhash_get(ctx->sm->users, owner);
	struct j2_item *item;

	rg_clear(ctx);
	it->owner = owner;
	it->contact = contact;
	if (u == NULL || u->roster == NULL)
		return roster_load_stored(ctx, owner, contact, it);
	item = xhash_get(u->roster, contact);
	if (item == NULL)
		return INVITES_ENOTFOUND;
	it->name = item->name;
	it->subscription = (item->to ? INVITES_SUB_TO : 0)
	                   | (item->from ? INVITES_SUB_FROM : 0);
	it->ask = item->ask == 1;
	it->groups = (const char *const *)item->groups;
	it->n_groups = item->ngroups > 0 ? (size_t)item->ngroups : 0;
	return 0;
}

/* Push the item to every session of u that fetched its roster. */
static void
roster_push(struct sm_ctx *ctx, struct j2_user *u, const char *contact,
            const char *name, int to, int from, int ask,
            const char *const *groups, int ngroups)
{
	char xml[8192];
	size_t len = 0;
	struct j2_sm_sess *sess;
	int i, bad = 0;

	bad |= put_raw(xml, sizeof xml, &len,
	               "<iq type='set' id='invites-push'><query xmlns='jabber:iq:roster'><item jid='");
	bad |= put_esc(xml, sizeof xml, &len, contact);
	bad |= put_raw(xml, sizeof xml, &len, "' subscription='");
	bad |= put_raw(xml, sizeof xml, &len, sub_name(to, from));
	bad |= put_raw(xml, sizeof xml, &len, "'");
	if (ask == 1)
		bad |= put_raw(xml, sizeof xml, &len, " ask='subscribe'");
	if (name != NULL) {
		bad |= put_raw(xml, sizeof xml, &len, " name='");
		bad |= put_esc(xml, sizeof xml, &len, name);
		bad |= put_raw(xml, sizeof xml, &len, "'");
	}
	bad |= put_raw(xml, sizeof xml, &len, ">");
	for (i = 0; i < ngroups; i++) {
		bad |= put_raw(xml, sizeof xml, &len, "<group>");
		bad |= put_esc(xml, sizeof xml, &len, groups[i]);
		bad |= put_raw(xml, sizeof xml, &len, "</group>");
	}
	bad |= put_raw(xml, sizeof xml, &len, "</item></query></iq>");
	if (bad) {
		log_write(ctx->sm->log, J2_LOG_WARNING,
		          "invites: roster push for %s too large, not sent", contact);
		return;
	}
	for (sess = u->sessions; sess != NULL; sess = sess->next) {
		struct j2_nad *nad;
		struct j2_pkt *pkt;

		if (ctx->roster_index >= 0 && sess->module_data != NULL
		    && sess->module_data[ctx->roster_index] == NULL)
			continue;
		nad = j2_route_nad(xml);
		if (nad == NULL || (pkt = pkt_new(ctx->sm, nad)) == NULL)
			return;
		pkt_sess(pkt_dup(pkt, jid_full(sess->jid), NULL), sess);
		pkt_free(pkt);
	}
}

/* Replace an in-memory item's groups (malloc'd, as mod_roster frees them). */
static int
item_set_groups(struct j2_item *item, const char *const *groups, size_t n)
{
	const char **g = NULL;
	size_t i;

	if (n > 0) {
		g = calloc(n, sizeof *g);
		if (g == NULL)
			return INVITES_ENOMEM;
		for (i = 0; i < n; i++) {
			if ((g[i] = strdup(groups[i])) == NULL) {
				while (i-- > 0)
					free((void *)g[i]);
				free(g);
				return INVITES_ENOMEM;
			}
		}
	}
	for (i = 0; i < (size_t)item->ngroups; i++)
		free((void *)item->groups[i]);
	free(item->groups);
	item->groups = g;
	item->ngroups = (int)n;
	return 0;
}

static int
host_roster_set(void *vctx, const struct invites_roster_item *it)
{
	struct sm_ctx *ctx = vctx;
	struct j2_user *u = xhash_get(ctx->sm->users, it->owner);
	int to = (it->subscription & INVITES_SUB_TO) != 0;
	int from = (it->subscription & INVITES_SUB_FROM) != 0;
	int ask = it->ask ? 1 : 0;

	if (u != NULL && u->roster != NULL) {
		struct j2_item *item = xhash_get(u->roster, it->contact);
		int err;

		if (item == NULL) {
			item = calloc(1, sizeof *item);
			if (item == NULL)
				return INVITES_ENOMEM;
			item->jid = jid_new(it->contact, -1);
			if (item->jid == NULL) {
				free(item);
				return INVITES_EJID;
			}
			xhash_put(u->roster, jid_full(item->jid), item);
		}
		if (it->name != NULL) {
			char *n = strdup(it->name);

			if (n == NULL)
				return INVITES_ENOMEM;
			free((void *)item->name);
			item->name = n;
		}
		if (it->n_groups > 0
		    && (err = item_set_groups(item, it->groups, it->n_groups)) != 0)
			return err;
		item->to = to;
		item->from = from;
		item->ask = ask;
		err = roster_store(ctx, it->owner, it->contact, item->name, to,
		                   from, ask, (const char *const *)item->groups,
		                   item->ngroups);
		roster_push(ctx, u, it->contact, item->name, to, from, ask,
		            (const char *const *)item->groups, item->ngroups);
		return err;
	}

	/* Not loaded: storage only, keeping name and groups unless given. */
	{
		struct invites_roster_item cur;
		const char *name = it->name;
		const char *const *groups = it->groups;
		int ngroups = (int)it->n_groups;

		memset(&cur, 0, sizeof cur);
		cur.size = sizeof cur;
		rg_clear(ctx);
		if (roster_load_stored(ctx, it->owner, it->contact, &cur) == 0) {
			if (name == NULL)
				name = cur.name;
			if (ngroups == 0) {
				groups = cur.groups;
				ngroups = (int)cur.n_groups;
			}
		}
		return roster_store(ctx, it->owner, it->contact, name, to, from,
		                    ask, groups, ngroups);
	}
}

static int
host_send(void *vctx, const char *xml)
{
	return route_xml(vctx, xml);
}

/* Send owner's current presence (each available resource) to `to`, or
 * unavailable when owner is offline. */
static int
host_share_presence(void *vctx, const char *owner, const char *to)
{
	struct sm_ctx *ctx = vctx;
	struct j2_user *u = xhash_get(ctx->sm->users, owner);
	struct j2_sm_sess *sess;
	int sent = 0;

	if (u != NULL) {
		for (sess = u->sessions; sess != NULL; sess = sess->next) {
			if (!sess->available || sess->pres == NULL)
				continue;
			pkt_router(pkt_dup(sess->pres, to, jid_full(sess->jid)));
			sent++;
		}
	}
	if (sent == 0) {
		struct j2_pkt *p = pkt_create(ctx->sm, "presence", "unavailable",
		                              to, owner);

		if (p != NULL)
			pkt_router(p);
	}
	return 0;
}

static int
host_user_exists(void *vctx, const char *jid)
{
	struct sm_ctx *ctx = vctx;
	j2_os_t os = NULL;

	if (xhash_get(ctx->sm->users, jid) != NULL)
		return 1;
	if (storage_get(ctx->sm->st, "active", jid, NULL, &os) == J2_ST_SUCCESS) {
		os_free(os);
		return 1;
	}
	return 0;
}

static void
host_log(void *vctx, int level, const char *msg)
{
	struct sm_ctx *ctx = vctx;

	/* the engine's lines already start with "invites:" */
	log_write(ctx->sm->log, level, "%s", msg);
}

/* ------------------------------------------------------------------ */
/* Chain handlers                                                      */
/* ------------------------------------------------------------------ */

/* Carry out a hook's outcome for a packet; HANDLED or PASS. */
static j2_mod_ret
finish(struct sm_ctx *ctx, struct j2_pkt *pkt, int r,
       struct invites_outcome *out)
{
	if (r == INVITES_HOOK_PASS) {
		ctx->plugin->free(out->reply);
		return J2_MOD_PASS;
	}
	if (out->reply != NULL) {
		route_xml(ctx, out->reply);
		ctx->plugin->free(out->reply);
	} else if (r == INVITES_HOOK_REJECT && (pkt->type & J2_PKT_IQ)
	           && pkt->type != J2_PKT_IQ_RESULT) {
		return -J2_STANZA_INTERNAL_SERVER_ERROR;
	}
	pkt_free(pkt);
	return J2_MOD_HANDLED;
}

static j2_mod_ret
mi_pkt_sm(struct j2_mod_instance *mi, struct j2_pkt *pkt)
{
	struct sm_ctx *ctx = mi->mod->private_;
	struct invites_outcome out;
	const char *xml;
	int len, r;

	if (pkt->type != J2_PKT_IQ && pkt->type != J2_PKT_IQ_SET)
		return J2_MOD_PASS;
	if (pkt->nad == NULL || pkt->nad->ecur < 2 || pkt->from == NULL)
		return J2_MOD_PASS;
	nad_print(pkt->nad, 1, &xml, &len);
	if (xml == NULL || len <= 0)
		return J2_MOD_PASS;
	memset(&out, 0, sizeof out);
	out.size = sizeof out;
	r = ctx->plugin->server_iq(ctx->inst, xml, (size_t)len, &out);
	rg_clear(ctx);
	return finish(ctx, pkt, r, &out);
}

static j2_mod_ret
mi_pkt_user(struct j2_mod_instance *mi, struct j2_user *user, struct j2_pkt *pkt)
{
	struct sm_ctx *ctx = mi->mod->private_;
	struct invites_outcome out;
	const char *xml;
	int len, r;

	(void)user;
	if (pkt->type != J2_PKT_S10N || pkt->nad == NULL || pkt->nad->ecur < 2
	    || pkt->from == NULL || pkt->to == NULL)
		return J2_MOD_PASS;
	/* cheap filter: only subscribes that carry a <preauth/> */
	if (nad_find_elem(pkt->nad, 1, -1, "preauth", 1) < 0)
		return J2_MOD_PASS;
	nad_print(pkt->nad, 1, &xml, &len);
	if (xml == NULL || len <= 0)
		return J2_MOD_PASS;
	memset(&out, 0, sizeof out);
	out.size = sizeof out;
	r = ctx->plugin->presence(ctx->inst, xml, (size_t)len, &out);
	rg_clear(ctx);
	if (r == INVITES_HOOK_REJECT)
		r = INVITES_HOOK_PASS; /* XEP-0379: fall back to a normal request */
	return finish(ctx, pkt, r, &out);
}

static int
mi_user_create(struct j2_mod_instance *mi, struct j2_jid *jid)
{
	struct sm_ctx *ctx = mi->mod->private_;
	struct invites_outcome out;
	int r;

	memset(&out, 0, sizeof out);
	out.size = sizeof out;
	r = ctx->plugin->user_created(ctx->inst, jid_user(jid), &out);
	rg_clear(ctx);
	ctx->plugin->free(out.reply);
	if (r == INVITES_HOOK_REJECT)
		log_write(ctx->sm->log, J2_LOG_ERR,
		          "invites: post-registration work for %s failed (%s); "
		          "the account stays", jid_user(jid),
		          out.error_condition != NULL ? out.error_condition : "?");
	/* Never fail the creation: the account exists in c2s already. */
	return 0;
}

/* user-delete: revoke_on_delete (the deletion goes on in any case). */
static void
mi_user_delete(struct j2_mod_instance *mi, struct j2_jid *jid)
{
	struct sm_ctx *ctx = mi->mod->private_;
	struct invites_outcome out;

	memset(&out, 0, sizeof out);
	out.size = sizeof out;
	(void)ctx->plugin->user_deleted(ctx->inst, jid_user(jid), &out);
	rg_clear(ctx);
	ctx->plugin->free(out.reply);
}

static void
mi_free(struct j2_module *mod)
{
	struct sm_ctx *ctx = mod->private_;

	if (ctx == NULL)
		return;
	feature_unregister(ctx->sm, NS_COMMANDS);
	rg_clear(ctx);
	if (ctx->inst != NULL)
		ctx->plugin->close(&ctx->inst);
	free(ctx);
	mod->private_ = NULL;
}

/* ------------------------------------------------------------------ */
/* Load                                                                */
/* ------------------------------------------------------------------ */

static const char *
check_host(struct j2_mod_instance *mi)
{
	struct j2_sm *sm = mi->sm;
	struct j2_module *mod = mi->mod;
	const char *id;

	if (sm == NULL || mod == NULL || mod->mm == NULL)
		return "module instance fields are not where expected";
	/* sm->mm is assigned only after every module is loaded */
	if (mod->mm->sm != sm || (sm->mm != NULL && sm->mm != mod->mm))
		return "the module manager does not point back to the sm";
	/* (sm->users and sm->sessions are made after the modules load) */
	if (sm->config == NULL || sm->log == NULL || sm->st == NULL
	    || mod->mm->modules == NULL)
		return "sm fields are not where expected";
	id = config_get_one(sm->config, "id", 0);
	if (sm->id == NULL || (id != NULL && strcmp(id, sm->id) != 0))
		return "sm id does not match its configuration";
	if (mod->name == NULL || strcmp(mod->name, "invites") != 0)
		return "the module name is not where expected";
	if (xhash_get(mod->mm->modules, "invites") != mod)
		return "the module table does not hold this module";
	if (mi->chain < J2_CHAIN_SESS_START || mi->chain > J2_CHAIN_DISCO_EXTEND)
		return "the chain id is out of range";
	return NULL;
}

int
module_init(struct j2_mod_instance *mi)
{
	struct j2_module *mod = mi->mod;
	struct j2_sm *sm = mi->sm;
	struct j2_module *roster;
	struct sm_ctx *ctx;
	const char *why, *cpath;
	char *errmsg = NULL;
	int err;

	if (mod->init)
		return 0;   /* already set up from an earlier chain */
	if ((why = check_host(mi)) != NULL) {
		if (sm != NULL && sm->log != NULL)
			log_write(sm->log, J2_LOG_ERR,
			          "invites: mod_invites refuses to load: %s "
			          "(built for jabberd2 2.4-2.7, x86_64)", why);
		return 1;
	}
	cpath = config_get_one(sm->config, "invites.config", 0);

	ctx = calloc(1, sizeof *ctx);
	if (ctx == NULL) {
		log_write(sm->log, J2_LOG_ERR, "invites: out of memory");
		return 1;
	}
	ctx->sm = sm;
	roster = xhash_get(mod->mm->modules, "roster");
	ctx->roster_index = roster != NULL ? roster->index : -1;
	if (roster == NULL)
		log_write(sm->log, J2_LOG_WARNING,
		          "invites: mod_roster is not loaded before mod_invites; "
		          "roster pushes go to every session");

	if (invites_plugin_entry(INVITES_PLUGIN_ABI, &ctx->plugin) != 0) {
		log_write(sm->log, J2_LOG_ERR,
		          "invites: the engine refused ABI %u", INVITES_PLUGIN_ABI);
		free(ctx);
		return 1;
	}
	ctx->host.abi = INVITES_PLUGIN_ABI;
	ctx->host.size = sizeof ctx->host;
	ctx->host.log = host_log;
	ctx->host.user_exists = host_user_exists;
	ctx->host.roster_get = host_roster_get;
	ctx->host.roster_set = host_roster_set;
	ctx->host.send = host_send;
	ctx->host.share_presence = host_share_presence;
	err = ctx->plugin->open(&ctx->host, ctx, cpath, &ctx->inst, &errmsg);
	if (err != 0) {
		log_write(sm->log, J2_LOG_ERR,
		          "invites: mod_invites cannot open %s: %s",
		          cpath != NULL ? cpath : "the default configuration",
		          errmsg != NULL ? errmsg : invites_strerror(err));
		ctx->plugin->free(errmsg);
		free(ctx);
		return 1;
	}

	mod->private_ = ctx;
	mod->pkt_sm = mi_pkt_sm;
	mod->pkt_user = mi_pkt_user;
	mod->user_create = mi_user_create;
	mod->user_delete = mi_user_delete;
	mod->free = mi_free;
	feature_register(sm, NS_COMMANDS);
	log_write(sm->log, J2_LOG_NOTICE, "invites: mod_invites %s ready",
	          ctx->plugin->version);
	return 0;
}
