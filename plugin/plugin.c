/* SPDX-License-Identifier: MIT */
/*
 * invites.so: the host-neutral plugin.  This file is the thin layer
 * between the ABI of plugin/invites_plugin.h and the protocol engine
 * (src/proto.h): it checks the tables a host hands over, opens the
 * configuration and the store, answers the engine's read-only questions
 * through the host's callbacks, and carries out the engine's actions
 * through them in order, rolling a consumed invite back when a critical
 * action (create_user, set_password) fails.  Only invites_plugin_entry is
 * exported (plugin/invites_plugin.map).
 */
#include "config.h"

#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "invites_plugin.h"
#include "internal.h"
#include "proto.h"

struct invites_instance {
	const struct invites_host *host;
	void *ctx;
	struct invites_config *cfg;
	struct invites_store *st;
	struct inv__proto *proto;
};

struct invites_stream {
	struct invites_instance *inst;
	struct inv__pstream *ps;
	void *host_stream;
};

/* Does the host table have callback `f` (inside size, not NULL)? */
#define HOST_HAS(h, f) (INVITES_PLUGIN_HAS((h), struct invites_host, f) \
                        && (h)->f != NULL)

/* ------------------------------------------------------------------ */
/* Logging                                                             */
/* ------------------------------------------------------------------ */

static void
plugin_log(struct invites_instance *inst, int level, const char *msg)
{
	if (inst != NULL && HOST_HAS(inst->host, log))
		inst->host->log(inst->ctx, level, msg);
}

/* libinvites' own log lines (store warnings) go to the last opened host. */
static struct invites_instance *log_inst;

static void
library_log(void *ctx, int level, const char *msg)
{
	(void)ctx;
	plugin_log(log_inst, level, msg);
}

/*
 * A call blocked inside the store behind a process that died there never
 * returns, and this single-threaded server with it: leave, so that the
 * supervisor starts it again (the library has logged why).
 */
static void
hang_exit(void *ctx, const char *msg)
{
	(void)ctx;
	(void)msg;
	_exit(INVITES_EXIT_HANG);
}

/* ------------------------------------------------------------------ */
/* Facts: the engine's read-only questions                             */
/* ------------------------------------------------------------------ */

static int
fact_user_exists(void *ctx, const char *jid)
{
	struct invites_instance *inst = ctx;

	if (!HOST_HAS(inst->host, user_exists))
		return INVITES_EINTERNAL;
	return inst->host->user_exists(inst->ctx, jid);
}

static int
fact_roster_get(void *ctx, const char *owner, const char *contact,
                int *sub_r, int *ask_r)
{
	struct invites_instance *inst = ctx;
	struct invites_roster_item item;
	int rc;

	if (!HOST_HAS(inst->host, roster_get))
		return INVITES_ENOTFOUND;
	memset(&item, 0, sizeof(item));
	item.size = sizeof(item);
	rc = inst->host->roster_get(inst->ctx, owner, contact, &item);
	if (rc < 0)
		return rc;
	if (item.subscription < INVITES_SUB_NONE
	    || item.subscription > INVITES_SUB_BOTH)
		item.subscription = INVITES_SUB_NONE;
	*sub_r = item.subscription;
	*ask_r = item.ask ? 1 : 0;
	return 0;
}

static void
facts_init(struct inv__facts *f, struct invites_instance *inst)
{
	f->ctx = inst;
	f->user_exists = fact_user_exists;
	f->roster_get = fact_roster_get;
}

/* ------------------------------------------------------------------ */
/* Actions                                                             */
/* ------------------------------------------------------------------ */

static int
run_action(struct invites_instance *inst, const struct inv__act *a)
{
	const struct invites_host *h = inst->host;
	struct invites_roster_item item;

	switch (a->type) {
	case INV__ACT_CREATE_USER:
		if (!HOST_HAS(h, create_user))
			return INVITES_EINTERNAL;
		return h->create_user(inst->ctx, a->jid, a->secret);
	case INV__ACT_SET_PASSWORD:
		if (!HOST_HAS(h, set_password))
			return INVITES_EINTERNAL;
		return h->set_password(inst->ctx, a->jid, a->secret);
	case INV__ACT_END_SESSIONS:
		if (!HOST_HAS(h, end_sessions))
			return 0;
		return h->end_sessions(inst->ctx, a->jid);
	case INV__ACT_ROSTER_SET:
		if (!HOST_HAS(h, roster_set))
			return INVITES_EINTERNAL;
		memset(&item, 0, sizeof(item));
		item.size = sizeof(item);
		item.owner = a->jid;
		item.contact = a->jid2;
		item.name = a->text;
		item.subscription = a->sub;
		item.ask = a->ask;
		item.groups = (const char *const *)a->groups;
		item.n_groups = a->n_groups;
		return h->roster_set(inst->ctx, &item);
	case INV__ACT_SEND:
		if (!HOST_HAS(h, send))
			return INVITES_EINTERNAL;
		return h->send(inst->ctx, a->text);
	case INV__ACT_SHARE_PRESENCE:
		if (!HOST_HAS(h, share_presence))
			return 0;
		return h->share_presence(inst->ctx, a->jid, a->jid2);
	case INV__ACT_ROLE_ADD:
		if (!HOST_HAS(h, role_add))
			return 0;
		return h->role_add(inst->ctx, a->jid, a->text);
	case INV__ACT_LOG:
		plugin_log(inst, a->level, a->text);
		return 0;
	}
	return INVITES_EINTERNAL;
}

static const char *
act_name(enum inv__act_type t)
{
	switch (t) {
	case INV__ACT_CREATE_USER: return "create_user";
	case INV__ACT_SET_PASSWORD: return "set_password";
	case INV__ACT_END_SESSIONS: return "end_sessions";
	case INV__ACT_ROSTER_SET: return "roster_set";
	case INV__ACT_SEND: return "send";
	case INV__ACT_SHARE_PRESENCE: return "share_presence";
	case INV__ACT_ROLE_ADD: return "role_add";
	case INV__ACT_LOG: return "log";
	}
	return "?";
}

/*
 * Carry out o's actions in order.  A failed critical action stops the run
 * and is undone by the engine; a failed ordinary one is logged and the run
 * goes on (the protocol step it belongs to is best effort).
 */
static void
run_actions(struct invites_instance *inst, struct inv__out *o)
{
	size_t i;
	int rc;

	for (i = 0; i < o->n_acts; i++) {
		rc = run_action(inst, &o->acts[i]);
		if (rc >= 0)
			continue;
		{
			char *msg = inv__asprintf("invites: host callback %s "
			                          "failed: %s",
			                          act_name(o->acts[i].type),
			                          invites_strerror(rc));
			plugin_log(inst, INVITES_LOG_ERR,
			           msg ? msg : "invites: host callback failed");
			invites_free(msg);
		}
		if (o->acts[i].critical) {
			inv__proto_undo(inst->proto, o, rc);
			return;
		}
	}
}

/* Copy the engine's outcome into the host's struct (fields inside size). */
static int
finish(struct invites_instance *inst, struct inv__out *o,
       struct invites_outcome *out)
{
	int result;

	run_actions(inst, o);
	result = o->result;
	if (out != NULL) {
#define SET(field, value)                                                  \
	do {                                                               \
		if (INVITES_PLUGIN_HAS(out, struct invites_outcome, field)) \
			out->field = (value);                              \
	} while (0)
		SET(result, result);
		if (INVITES_PLUGIN_HAS(out, struct invites_outcome, reply)) {
			out->reply = o->reply;
			o->reply = NULL;
		}
		SET(error_type, o->err_type);
		SET(error_condition, o->err_cond);
		SET(error_text, o->err_text);
		SET(flags, o->flags);
		SET(stream_error, o->stream_error);
#undef SET
	}
	inv__out_clear(o);
	return result;
}

/* A REJECT for a plugin-side failure before the engine ran. */
static int
fail(struct invites_outcome *out, int err)
{
	struct inv__out o;

	inv__out_init(&o);
	o.result = INV__REJECT;
	o.err_type = invites_err_type(err);
	o.err_cond = invites_err_condition(err);
	if (out != NULL) {
		if (INVITES_PLUGIN_HAS(out, struct invites_outcome, result))
			out->result = o.result;
		if (INVITES_PLUGIN_HAS(out, struct invites_outcome, error_type))
			out->error_type = o.err_type;
		if (INVITES_PLUGIN_HAS(out, struct invites_outcome,
		                       error_condition))
			out->error_condition = o.err_cond;
	}
	return INV__REJECT;
}

/* ------------------------------------------------------------------ */
/* Hooks                                                               */
/* ------------------------------------------------------------------ */

static void
plugin_free(void *p)
{
	invites_free(p);
}

static int
plugin_open(const struct invites_host *host, void *host_ctx,
            const char *config_path, struct invites_instance **inst_r,
            char **errmsg_r)
{
	struct invites_instance *inst;
	int rc;

	if (errmsg_r != NULL)
		*errmsg_r = NULL;
	if (inst_r == NULL)
		return INVITES_EINVAL;
	*inst_r = NULL;
	if (host == NULL || host->abi != INVITES_PLUGIN_ABI
	    || !HOST_HAS(host, log) || !HOST_HAS(host, user_exists)) {
		if (errmsg_r != NULL)
			*errmsg_r = inv__strdup("invites: the host table is "
			                        "incomplete or of another ABI");
		return INVITES_EINVAL;
	}
	inst = inv__calloc(1, sizeof(*inst));
	if (inst == NULL)
		return INVITES_ENOMEM;
	inst->host = host;
	inst->ctx = host_ctx;
	if (config_path == NULL)
		config_path = invites_config_default_path();
	rc = invites_config_load(config_path, &inst->cfg, errmsg_r);
	if (rc < 0)
		goto out;
	/* The store's own messages (recovery, errors) go to this host. */
	log_inst = inst;
	invites_set_log(library_log, NULL);
	invites_set_hang_handler(hang_exit, NULL);
	rc = invites_store_open(inst->cfg,
	                        INVITES_OPEN_CREATE | INVITES_OPEN_DAEMON |
	                        INVITES_OPEN_RETRY,
	                        &inst->st);
	if (rc < 0) {
		if (errmsg_r != NULL)
			*errmsg_r = inv__asprintf("invites: cannot open the store "
			                          "%s: %s",
			                          invites_config_store(inst->cfg),
			                          invites_strerror(rc));
		goto out;
	}
	rc = inv__proto_new(inst->cfg, inst->st, &inst->proto);
	if (rc < 0)
		goto out;
	*inst_r = inst;
	return 0;
out:
	if (log_inst == inst) {
		invites_set_log(NULL, NULL);
		log_inst = NULL;
	}
	invites_store_close(&inst->st);
	invites_config_free(&inst->cfg);
	inv__proto_free(&inst->proto);
	invites_free(inst);
	return rc;
}

static void
plugin_close(struct invites_instance **instp)
{
	struct invites_instance *inst;

	if (instp == NULL || *instp == NULL)
		return;
	inst = *instp;
	if (log_inst == inst) {
		invites_set_log(NULL, NULL);
		log_inst = NULL;
	}
	inv__proto_free(&inst->proto);
	invites_store_close(&inst->st);
	invites_config_free(&inst->cfg);
	invites_free(inst);
	*instp = NULL;
}

static int
plugin_stream_new(struct invites_instance *inst,
                  const struct invites_stream_info *info,
                  struct invites_stream **st_r)
{
	struct invites_stream *s;
	int rc;

	if (st_r == NULL)
		return INVITES_EINVAL;
	*st_r = NULL;
	if (inst == NULL || info == NULL
	    || !INVITES_PLUGIN_HAS(info, struct invites_stream_info, flags)
	    || info->domain == NULL)
		return INVITES_EINVAL;
	s = inv__calloc(1, sizeof(*s));
	if (s == NULL)
		return INVITES_ENOMEM;
	s->inst = inst;
	if (INVITES_PLUGIN_HAS(info, struct invites_stream_info, host_stream))
		s->host_stream = info->host_stream;
	rc = inv__pstream_new(inst->proto, info->domain, info->flags, &s->ps);
	if (rc < 0) {
		invites_free(s);
		return rc;
	}
	*st_r = s;
	return 0;
}

static void
plugin_stream_update(struct invites_stream *s, unsigned flags)
{
	if (s != NULL)
		inv__pstream_set_flags(s->ps, flags);
}

static void
plugin_stream_free(struct invites_stream **sp)
{
	if (sp == NULL || *sp == NULL)
		return;
	inv__pstream_free(&(*sp)->ps);
	invites_free(*sp);
	*sp = NULL;
}

static int
plugin_features(struct invites_stream *s, int with_iq_register, char **xml_r)
{
	if (xml_r == NULL)
		return INVITES_HOOK_PASS;
	*xml_r = NULL;
	if (s == NULL)
		return INVITES_HOOK_PASS;
	return inv__proto_features(s->inst->proto, s->ps, with_iq_register,
	                           xml_r);
}

static int
plugin_stream_iq(struct invites_stream *s, const char *xml, size_t len,
                 struct invites_outcome *out)
{
	struct inv__facts f;
	struct inv__out o;

	if (s == NULL)
		return fail(out, INVITES_EINVAL);
	facts_init(&f, s->inst);
	inv__out_init(&o);
	inv__proto_stream_iq(s->inst->proto, s->ps, xml, len, &f, &o);
	return finish(s->inst, &o, out);
}

static int
plugin_register_check(struct invites_stream *s, const char *username,
                      struct invites_outcome *out)
{
	struct inv__facts f;
	struct inv__out o;

	if (s == NULL)
		return fail(out, INVITES_EINVAL);
	facts_init(&f, s->inst);
	inv__out_init(&o);
	inv__proto_register_check(s->inst->proto, s->ps, username, &f, &o);
	return finish(s->inst, &o, out);
}

static int
plugin_register_commit(struct invites_stream *s, const char *username,
                       struct invites_outcome *out)
{
	struct inv__out o;

	if (s == NULL)
		return fail(out, INVITES_EINVAL);
	inv__out_init(&o);
	inv__proto_register_commit(s->inst->proto, s->ps, username, &o);
	return finish(s->inst, &o, out);
}

static void
plugin_register_rollback(struct invites_stream *s, const char *username)
{
	if (s != NULL)
		inv__proto_register_rollback(s->inst->proto, s->ps, username);
}

static int
plugin_presence(struct invites_instance *inst, const char *xml, size_t len,
                struct invites_outcome *out)
{
	struct inv__facts f;
	struct inv__out o;

	if (inst == NULL)
		return fail(out, INVITES_EINVAL);
	facts_init(&f, inst);
	inv__out_init(&o);
	inv__proto_presence(inst->proto, xml, len, &f, &o);
	return finish(inst, &o, out);
}

static int
plugin_server_iq(struct invites_instance *inst, const char *xml, size_t len,
                 struct invites_outcome *out)
{
	struct inv__facts f;
	struct inv__out o;

	if (inst == NULL)
		return fail(out, INVITES_EINVAL);
	facts_init(&f, inst);
	inv__out_init(&o);
	inv__proto_server_iq(inst->proto, xml, len, &f, &o);
	return finish(inst, &o, out);
}

static int
plugin_user_created(struct invites_instance *inst, const char *jid,
                    struct invites_outcome *out)
{
	struct inv__out o;

	if (inst == NULL)
		return fail(out, INVITES_EINVAL);
	inv__out_init(&o);
	inv__proto_user_created(inst->proto, jid, &o);
	return finish(inst, &o, out);
}

static int
plugin_user_deleted(struct invites_instance *inst, const char *jid,
                    struct invites_outcome *out)
{
	struct inv__out o;

	if (inst == NULL)
		return fail(out, INVITES_EINVAL);
	inv__out_init(&o);
	inv__proto_user_deleted(inst->proto, jid, &o);
	return finish(inst, &o, out);
}

static const struct invites_plugin plugin_table = {
	.abi = INVITES_PLUGIN_ABI,
	.size = sizeof(struct invites_plugin),
	.version = PACKAGE_VERSION,
	.free = plugin_free,
	.open = plugin_open,
	.close = plugin_close,
	.stream_new = plugin_stream_new,
	.stream_update = plugin_stream_update,
	.stream_free = plugin_stream_free,
	.features = plugin_features,
	.stream_iq = plugin_stream_iq,
	.register_check = plugin_register_check,
	.register_commit = plugin_register_commit,
	.register_rollback = plugin_register_rollback,
	.presence = plugin_presence,
	.server_iq = plugin_server_iq,
	.user_created = plugin_user_created,
	.user_deleted = plugin_user_deleted,
};

int
invites_plugin_entry(uint32_t host_abi, const struct invites_plugin **plugin_r)
{
	if (plugin_r == NULL)
		return INVITES_EINVAL;
	*plugin_r = NULL;
	if (host_abi != INVITES_PLUGIN_ABI)
		return INVITES_EVERSION;
	*plugin_r = &plugin_table;
	return 0;
}
