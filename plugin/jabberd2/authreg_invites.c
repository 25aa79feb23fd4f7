/* SPDX-License-Identifier: MIT */
/*
 * authreg_invites.so: the c2s half of xmpp-invites for Debian's unmodified
 * jabberd2 2.7.
 *
 * A thin translator between c2s and the protocol engine, which it reaches
 * only through the plugin hook table of plugin/invites_plugin.h (linked in
 * statically).  It is loaded per host (authreg-module='invites' on a c2s
 * <id>) and:
 *   - wraps a real authreg backend (e.g. db, named in <authreg><invites>
 *     <backend>), which keeps the users; every callback but create_user
 *     goes straight to it, and c2s still sees exactly the backend's set of
 *     callbacks, because it picks SASL mechanisms from which are non-NULL;
 *   - registers an sx plugin: per stream it sets TCP_NODELAY on the client
 *     socket (c2s never does; tcp_nodelay, default on), adds the engine's
 *     stream features before authentication, and hands every pre-auth IQ
 *     to the engine first (XEP-0445 pre-auth, XEP-0077 get/set checks,
 *     password resets through the backend's set_password).  That hook runs
 *     before c2s's own STARTTLS-required check and stanza limits, so the
 *     engine is told when the host requires TLS and closes streams that
 *     keep failing pre-auth;
 *   - gates create_user: an account is created only when the engine
 *     consumes the stream's invite atomically (and gives it back when the
 *     backend then fails).
 * The jabberd2 layouts it relies on are in j2abi.h; at load it checks the
 * host at run time and refuses, with one log line, when anything does not
 * match or the configuration cannot work.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <invites/invites.h>

#include "invites_plugin.h"
#include "j2abi.h"
#include "j2common.h"

/* The entry point jabberd2's c2s calls (dlsym "ar_init"). */
INVITES_PLUGIN_EXPORT int ar_init(struct j2_authreg *ar);

#define STREAM_MAGIC 0x1d5c2e77u

struct ar_ctx {
	int refs;                       /* authreg + sx plugin */
	struct j2_c2s *c2s;
	struct j2_authreg *ar;          /* ours */
	struct j2_authreg *backend;     /* the real user store */
	const struct invites_plugin *plugin;
	struct invites_instance *inst;
	struct invites_host host;
	struct j2_sx_plugin *sxp;
	int tcp_nodelay;
	struct j2_c2s_sess *cur_sess;   /* the session of the current call */
};

struct ar_stream {
	unsigned magic;
	struct ar_ctx *ctx;
	struct j2_c2s_sess *sess;
	struct invites_stream *st;      /* made at the first features */
	unsigned flags;
};

static void
ctx_unref(struct ar_ctx *ctx)
{
	if (ctx == NULL || --ctx->refs > 0)
		return;
	if (ctx->inst != NULL)
		ctx->plugin->close(&ctx->inst);
	free(ctx);
}

/* ------------------------------------------------------------------ */
/* Host callbacks for the engine (c2s side)                            */
/* ------------------------------------------------------------------ */

static void
host_log(void *vctx, int level, const char *msg)
{
	struct ar_ctx *ctx = vctx;

	/* the engine's lines already start with "invites:" */
	log_write(ctx->c2s->log, level, "%s", msg);
}

/* Split bare JID "user@domain" into user and the realm c2s keeps it in. */
static int
split_jid(struct ar_ctx *ctx, const char *jid, char *user, size_t usz,
          const char **realm_r)
{
	const char *at = strchr(jid, '@');
	struct j2_c2s_host *h;
	size_t n;

	if (at == NULL || at == jid)
		return INVITES_EJID;
	n = (size_t)(at - jid);
	if (n >= usz)
		return INVITES_EJID;
	memcpy(user, jid, n);
	user[n] = '\0';
	h = xhash_get(ctx->c2s->hosts, at + 1);
	if (h == NULL || h->ar != ctx->ar)
		return INVITES_EJID;
	*realm_r = h->realm != NULL ? h->realm : at + 1;
	return 0;
}

static int
host_user_exists(void *vctx, const char *jid)
{
	struct ar_ctx *ctx = vctx;
	char user[1024];
	const char *realm;
	int err = split_jid(ctx, jid, user, sizeof user, &realm);

	if (err != 0)
		return err;
	return ctx->backend->user_exists(ctx->backend, ctx->cur_sess, user,
	                                 realm) ? 1 : 0;
}

static int
host_set_password(void *vctx, const char *jid, const char *password)
{
	struct ar_ctx *ctx = vctx;
	char user[1024], pw[J2_PASSWORD_SIZE];
	const char *realm;
	size_t n = strlen(password);
	int err = split_jid(ctx, jid, user, sizeof user, &realm);

	if (err != 0)
		return err;
	if (ctx->backend->set_password == NULL)
		return INVITES_EFORBIDDEN;
	if (n >= sizeof pw)
		return INVITES_EINVAL;
	memcpy(pw, password, n + 1);
	err = ctx->backend->set_password(ctx->backend, ctx->cur_sess, user,
	                                 realm, pw);
	j2_wipe(pw, sizeof pw);
	if (err != 0) {
		log_write(ctx->c2s->log, J2_LOG_ERR,
		          "invites: the authreg backend could not set the password of %s",
		          jid);
		return INVITES_ESTORE;
	}
	return 0;
}

/* End every session of a user (after a password reset). */
struct end_walk {
	const char *jid;
	struct j2_c2s_sess *found[64];
	int n;
	int more;
};

static void
end_walker(const char *key, int keylen, void *val, void *arg)
{
	struct end_walk *w = arg;
	struct j2_c2s_sess *sess = val;
	struct j2_bres *b;

	(void)key;
	(void)keylen;
	if (sess == NULL || sess->s == NULL)
		return;
	for (b = sess->resources; b != NULL; b = b->next) {
		if (b->jid == NULL || strcmp(jid_user(b->jid), w->jid) != 0)
			continue;
		if (w->n < (int)(sizeof w->found / sizeof w->found[0]))
			w->found[w->n++] = sess;
		else
			w->more = 1;
		return;
	}
}

static int
host_end_sessions(void *vctx, const char *jid)
{
	struct ar_ctx *ctx = vctx;
	struct end_walk w;
	int i;

	memset(&w, 0, sizeof w);
	w.jid = jid;
	/* Collect first: closing a stream may change the session table. */
	xhash_walk(ctx->c2s->sessions, end_walker, &w);
	for (i = 0; i < w.n; i++) {
		if (w.found[i] == ctx->cur_sess)
			continue;
		log_write(ctx->c2s->log, J2_LOG_NOTICE,
		          "[%d] invites: ending a session of %s after a password reset",
		          w.found[i]->s->tag, jid);
		sx_error(w.found[i]->s, J2_STREAM_ERR_NOT_AUTHORIZED,
		         "the password of this account was reset");
		sx_close(w.found[i]->s);
	}
	if (w.more)
		log_write(ctx->c2s->log, J2_LOG_WARNING,
		          "invites: %s has more sessions than were ended", jid);
	return 0;
}

/* ------------------------------------------------------------------ */
/* The sx plugin                                                       */
/* ------------------------------------------------------------------ */

static struct ar_stream *
stream_of(struct ar_ctx *ctx, struct j2_sx *s)
{
	struct ar_stream *as;

	if (s == NULL || s->plugin_data == NULL || ctx->sxp == NULL)
		return NULL;
	as = s->plugin_data[ctx->sxp->index];
	if (as == NULL || as->magic != STREAM_MAGIC || as->ctx != ctx)
		return NULL;
	return as;
}

/* Is this a client stream of a host whose authreg is ours? */
static int
stream_is_ours(struct ar_stream *as, struct j2_sx *s)
{
	return s->type == J2_SX_TYPE_SERVER && as->sess != NULL
	       && as->sess->s == s && as->sess->host != NULL
	       && as->sess->host->ar == as->ctx->ar;
}

static unsigned
stream_flags(struct ar_stream *as, struct j2_sx *s)
{
	unsigned f = INVITES_STREAM_HOST_REGISTERS;

	if (s->ssf > 0)
		f |= INVITES_STREAM_SECURE;
	if (s->state >= J2_SX_STATE_OPEN || s->auth_id != NULL
	    || as->sess->active || as->sess->sasl_authd)
		f |= INVITES_STREAM_AUTHENTICATED;
	if ((s->flags & J2_SX_SSL_STARTTLS_REQUIRE)
	    || as->sess->host->host_require_starttls)
		f |= INVITES_STREAM_REQUIRE_TLS;
	return f;
}

/* Make the engine's stream on first use; keep its flags current. */
static int
stream_sync(struct ar_stream *as, struct j2_sx *s)
{
	struct ar_ctx *ctx = as->ctx;
	unsigned f;

	if (!stream_is_ours(as, s))
		return -1;
	f = stream_flags(as, s);
	if (as->st == NULL) {
		struct invites_stream_info info;

		if (s->req_to == NULL)
			return -1;
		memset(&info, 0, sizeof info);
		info.size = sizeof info;
		info.domain = s->req_to;
		info.flags = f;
		info.remote = as->sess->ip;
		info.host_stream = as;
		if (ctx->plugin->stream_new(ctx->inst, &info, &as->st) != 0) {
			log_write(ctx->c2s->log, J2_LOG_ERR,
			          "[%d] invites: cannot set up the stream", s->tag);
			as->st = NULL;
			return -1;
		}
		as->flags = f;
	} else if (f != as->flags) {
		ctx->plugin->stream_update(as->st, f);
		as->flags = f;
	}
	return 0;
}

static void
sxp_new(struct j2_sx *s, struct j2_sx_plugin *p)
{
	struct ar_ctx *ctx = p->private_;
	struct j2_c2s_sess *sess = s->cb_arg;
	struct ar_stream *as;

	/* Client streams carry their c2s session; the router stream carries
	 * c2s itself. */
	if (sess == NULL || (void *)sess == (void *)ctx->c2s || sess->c2s != ctx->c2s)
		return;
	if (ctx->tcp_nodelay && sess->fd != NULL && sess->fd->fd == s->tag) {
		int one = 1;

		if (setsockopt(s->tag, IPPROTO_TCP, TCP_NODELAY, &one,
		               sizeof one) != 0 && errno != EOPNOTSUPP
		    && errno != ENOTSOCK)
			log_write(ctx->c2s->log, J2_LOG_WARNING,
			          "[%d] invites: TCP_NODELAY: %s", s->tag,
			          strerror(errno));
	}
	as = calloc(1, sizeof *as);
	if (as == NULL)
		return; /* the stream then simply gets no invite features */
	as->magic = STREAM_MAGIC;
	as->ctx = ctx;
	as->sess = sess;
	s->plugin_data[p->index] = as;
}

static void
sxp_free(struct j2_sx *s, struct j2_sx_plugin *p)
{
	struct ar_ctx *ctx = p->private_;
	struct ar_stream *as = stream_of(ctx, s);

	if (as == NULL)
		return;
	if (as->st != NULL)
		ctx->plugin->stream_free(&as->st);
	as->magic = 0;
	free(as);
	s->plugin_data[p->index] = NULL;
}

static void
sxp_features(struct j2_sx *s, struct j2_sx_plugin *p, struct j2_nad *nad)
{
	struct ar_ctx *ctx = p->private_;
	struct ar_stream *as = stream_of(ctx, s);
	char *xml = NULL;

	if (as == NULL || stream_sync(as, s) != 0)
		return;
	if (ctx->plugin->features(as->st, 0, &xml) == INVITES_HOOK_ACCEPT
	    && xml != NULL) {
		if (j2_nad_append_fragment(nad, xml, 1) != 0)
			log_write(ctx->c2s->log, J2_LOG_ERR,
			          "[%d] invites: bad stream features from the engine",
			          s->tag);
	}
	ctx->plugin->free(xml);
}

static int
stream_error_code(const char *cond)
{
	if (cond != NULL && strcmp(cond, "not-authorized") == 0)
		return J2_STREAM_ERR_NOT_AUTHORIZED;
	return J2_STREAM_ERR_POLICY_VIOLATION;
}

/* Send an engine reply (XML text) on the stream. */
static int
write_reply(struct ar_ctx *ctx, struct j2_sx *s, const char *xml)
{
	struct j2_nad *r = nad_parse(xml, (int)strlen(xml));

	if (r == NULL) {
		log_write(ctx->c2s->log, J2_LOG_ERR,
		          "[%d] invites: jabberd2 could not parse a reply", s->tag);
		return -1;
	}
	sx_nad_write_elem(s, r, 0);
	return 0;
}

static int
sxp_process(struct j2_sx *s, struct j2_sx_plugin *p, struct j2_nad *nad)
{
	struct ar_ctx *ctx = p->private_;
	struct ar_stream *as = stream_of(ctx, s);
	struct invites_outcome out;
	const char *xml;
	int len, r;

	if (as == NULL || s->type != J2_SX_TYPE_SERVER
	    || s->state >= J2_SX_STATE_OPEN || nad == NULL || nad->ecur < 1
	    || J2_NAD_ENAME_L(nad, 0) != 2
	    || strncmp(J2_NAD_ENAME(nad, 0), "iq", 2) != 0)
		return 1;
	if (stream_sync(as, s) != 0)
		return 1;

	nad_print(nad, 0, &xml, &len);
	if (xml == NULL || len <= 0)
		return 1;
	memset(&out, 0, sizeof out);
	out.size = sizeof out;
	ctx->cur_sess = as->sess;
	r = ctx->plugin->stream_iq(as->st, xml, (size_t)len, &out);
	ctx->cur_sess = NULL;
	if (r == INVITES_HOOK_PASS) {
		ctx->plugin->free(out.reply);
		return 1;
	}

	if (out.reply == NULL || write_reply(ctx, s, out.reply) != 0) {
		/* A stanza error the engine did not spell out. */
		sx_nad_write_elem(s, stanza_tofrom(stanza_error(nad,
		                  0, J2_STANZA_INTERNAL_SERVER_ERROR), 0), 0);
		nad = NULL;
	}
	ctx->plugin->free(out.reply);
	if (out.flags & INVITES_OUTCOME_CLOSE) {
		log_write(ctx->c2s->log, J2_LOG_NOTICE,
		          "[%d] [%s] invites: closing the stream (%s)", s->tag,
		          as->sess->ip != NULL ? as->sess->ip : "?",
		          out.error_condition != NULL ? out.error_condition : "policy");
		sx_error(s, stream_error_code(out.stream_error), out.error_text);
		sx_close(s);
	}
	if (nad != NULL)
		nad_free(nad);
	return 0;
}

static void
sxp_unload(struct j2_sx_plugin *p)
{
	struct ar_ctx *ctx = p->private_;

	ctx->sxp = NULL;
	ctx_unref(ctx);
}

static int
sxp_init(struct j2_sx_env *env, struct j2_sx_plugin *p, va_list args)
{
	struct ar_ctx *ctx = va_arg(args, struct ar_ctx *);

	(void)env;
	p->private_ = ctx;
	p->new_ = sxp_new;
	p->free = sxp_free;
	p->features = sxp_features;
	p->process = sxp_process;
	p->unload = sxp_unload;
	return 0;
}

/* ------------------------------------------------------------------ */
/* The authreg wrapper                                                 */
/* ------------------------------------------------------------------ */

#define BACKEND(ar) (((struct ar_ctx *)(ar)->private_)->backend)

static int
w_user_exists(struct j2_authreg *ar, struct j2_c2s_sess *sess,
              const char *username, const char *realm)
{
	struct j2_authreg *b = BACKEND(ar);

	return b->user_exists(b, sess, username, realm);
}

static int
w_get_password(struct j2_authreg *ar, struct j2_c2s_sess *sess,
               const char *username, const char *realm,
               char password[J2_PASSWORD_SIZE])
{
	struct j2_authreg *b = BACKEND(ar);

	return b->get_password(b, sess, username, realm, password);
}

static int
w_check_password(struct j2_authreg *ar, struct j2_c2s_sess *sess,
                 const char *username, const char *realm,
                 char password[J2_PASSWORD_SIZE])
{
	struct j2_authreg *b = BACKEND(ar);

	return b->check_password(b, sess, username, realm, password);
}

static int
w_set_password(struct j2_authreg *ar, struct j2_c2s_sess *sess,
               const char *username, const char *realm,
               char password[J2_PASSWORD_SIZE])
{
	struct j2_authreg *b = BACKEND(ar);

	return b->set_password(b, sess, username, realm, password);
}

/*
 * c2s's registration path: user_exists, create_user, set_password, then
 * the sm creates the user.  Here the engine consumes the stream's invite
 * (atomically: of racing streams exactly one wins) before the backend
 * creates the account.
 */
static int
w_create_user(struct j2_authreg *ar, struct j2_c2s_sess *sess,
              const char *username, const char *realm)
{
	struct ar_ctx *ctx = ar->private_;
	struct ar_stream *as = sess != NULL ? stream_of(ctx, sess->s) : NULL;
	struct invites_outcome out;
	int r, rc;

	if (as == NULL || sess->s == NULL || stream_sync(as, sess->s) != 0) {
		log_write(ctx->c2s->log, J2_LOG_NOTICE,
		          "invites: refused to create %s: the stream has no invite state",
		          username);
		return 1;
	}
	memset(&out, 0, sizeof out);
	out.size = sizeof out;
	ctx->cur_sess = sess;
	r = ctx->plugin->register_commit(as->st, username, &out);
	ctx->cur_sess = NULL;
	ctx->plugin->free(out.reply);
	if (r == INVITES_HOOK_REJECT) {
		log_write(ctx->c2s->log, J2_LOG_NOTICE,
		          "[%d] invites: registration of %s refused (%s)",
		          sess->s->tag, username,
		          out.error_condition != NULL ? out.error_condition : "?");
		return 1;
	}
	rc = ctx->backend->create_user(ctx->backend, sess, username, realm);
	if (rc != 0 && r == INVITES_HOOK_ACCEPT) {
		ctx->cur_sess = sess;
		ctx->plugin->register_rollback(as->st, username);
		ctx->cur_sess = NULL;
	}
	return rc;
}

static int
w_delete_user(struct j2_authreg *ar, struct j2_c2s_sess *sess,
              const char *username, const char *realm)
{
	struct j2_authreg *b = BACKEND(ar);

	return b->delete_user(b, sess, username, realm);
}

static void
w_sess_end(struct j2_authreg *ar, struct j2_c2s_sess *sess)
{
	struct j2_authreg *b = BACKEND(ar);

	b->sess_end(b, sess);
}

static int
w_user_authz_allowed(struct j2_authreg *ar, struct j2_c2s_sess *sess,
                     const char *username, const char *realm,
                     const char *requested_user)
{
	struct j2_authreg *b = BACKEND(ar);

	return b->user_authz_allowed(b, sess, username, realm, requested_user);
}

static int
w_create_challenge(struct j2_authreg *ar, struct j2_c2s_sess *sess,
                   const char *username, const char *realm, char *challenge,
                   int maxlen)
{
	struct j2_authreg *b = BACKEND(ar);

	return b->create_challenge(b, sess, username, realm, challenge, maxlen);
}

static int
w_check_response(struct j2_authreg *ar, struct j2_c2s_sess *sess,
                 const char *username, const char *realm,
                 const char *challenge, const char *response)
{
	struct j2_authreg *b = BACKEND(ar);

	return b->check_response(b, sess, username, realm, challenge, response);
}

/* c2s frees the backend itself (it owns every entry of ar_modules). */
static void
w_free(struct j2_authreg *ar)
{
	struct ar_ctx *ctx = ar->private_;

	ar->private_ = NULL;
	ctx_unref(ctx);
}

/* ------------------------------------------------------------------ */
/* Load                                                                */
/* ------------------------------------------------------------------ */

/* Run-time checks that the host is the jabberd2 j2abi.h describes. */
static const char *
check_host(struct j2_authreg *ar)
{
	struct j2_c2s *c2s = ar->c2s;
	const char *id;
	int i;

	if (c2s->config == NULL || c2s->log == NULL || c2s->hosts == NULL
	    || c2s->ar_modules == NULL)
		return "c2s fields are not where expected";
	id = config_get_one(c2s->config, "id", 0);
	if (c2s->id == NULL || (id != NULL && strcmp(id, c2s->id) != 0))
		return "c2s id does not match its configuration";
	if (c2s->sx_env->nplugins < 1 || c2s->sx_env->nplugins > 64
	    || c2s->sx_env->plugins == NULL)
		return "the sx environment looks wrong";
	for (i = 0; i < c2s->sx_env->nplugins; i++) {
		struct j2_sx_plugin *p = c2s->sx_env->plugins[i];

		if (p == NULL || p->env != c2s->sx_env || p->index != i)
			return "an sx plugin does not point back to its environment";
	}
	if (ar->handle == NULL)
		return "the authreg handle is not where expected";
	return NULL;
}

static int
config_bool(const char *v, int dflt)
{
	if (v == NULL || *v == '\0')
		return dflt;
	if (strcmp(v, "0") == 0 || strcmp(v, "no") == 0
	    || strcmp(v, "false") == 0 || strcmp(v, "off") == 0)
		return 0;
	return 1;
}

/* TCP_NODELAY: <authreg><invites><tcp_nodelay> in c2s.xml when given,
 * else tcp_nodelay in invites.conf, else on. */
static int
want_tcp_nodelay(struct j2_c2s *c2s, const char *cpath)
{
	const char *v = config_get_one(c2s->config, "authreg.invites.tcp_nodelay", 0);
	struct invites_config *cfg = NULL;
	int on;

	if (v != NULL && *v != '\0')
		return config_bool(v, 1);
	if (invites_config_load(cpath != NULL ? cpath : invites_config_default_path(),
	                        &cfg, NULL) != 0)
		return 1;   /* open() below reports a bad configuration */
	on = config_bool(invites_config_get(cfg, "tcp_nodelay"), 1);
	invites_config_free(&cfg);
	return on;
}

static int
ar_setup(struct j2_authreg *ar)
{
	struct j2_c2s *c2s = ar != NULL ? ar->c2s : NULL;
	const char *why, *bname, *cpath;
	struct ar_ctx *ctx;
	char *errmsg = NULL;
	int err;

	if (c2s == NULL || c2s->log == NULL)
		return 1;
	if (c2s->sx_env == NULL
	    || (c2s->ar_module_name != NULL
	        && strcmp(c2s->ar_module_name, "invites") == 0)) {
		log_write(c2s->log, J2_LOG_ERR,
		          "invites: authreg_invites refuses to load as the default "
		          "<authreg><module>: keep a real backend there (e.g. db) and "
		          "put authreg-module='invites' on each invite-only <local><id>");
		return 1;
	}
	if ((why = check_host(ar)) != NULL) {
		log_write(c2s->log, J2_LOG_ERR,
		          "invites: authreg_invites refuses to load: %s "
		          "(built for jabberd2 2.4-2.7, x86_64, with SSL)", why);
		return 1;
	}
	bname = config_get_one(c2s->config, "authreg.invites.backend", 0);
	if (bname == NULL || *bname == '\0' || strcmp(bname, "invites") == 0) {
		log_write(c2s->log, J2_LOG_ERR,
		          "invites: authreg_invites needs <authreg><invites><backend> "
		          "naming the authreg module that keeps the users (e.g. db)");
		return 1;
	}
	cpath = config_get_one(c2s->config, "authreg.invites.config", 0);

	ctx = calloc(1, sizeof *ctx);
	if (ctx == NULL) {
		log_write(c2s->log, J2_LOG_ERR, "invites: out of memory");
		return 1;
	}
	ctx->c2s = c2s;
	ctx->ar = ar;
	ctx->tcp_nodelay = want_tcp_nodelay(c2s, cpath);

	ctx->backend = authreg_init((void *)c2s, bname);
	if (ctx->backend == NULL || ctx->backend->user_exists == NULL) {
		log_write(c2s->log, J2_LOG_ERR,
		          "invites: authreg_invites could not load its backend '%s'",
		          bname);
		free(ctx);
		return 1;
	}
	if (invites_plugin_entry(INVITES_PLUGIN_ABI, &ctx->plugin) != 0) {
		log_write(c2s->log, J2_LOG_ERR,
		          "invites: the engine refused ABI %u", INVITES_PLUGIN_ABI);
		free(ctx);
		return 1;
	}
	ctx->host.abi = INVITES_PLUGIN_ABI;
	ctx->host.size = sizeof ctx->host;
	ctx->host.log = host_log;
	ctx->host.user_exists = host_user_exists;
	ctx->host.set_password = host_set_password;
	ctx->host.end_sessions = host_end_sessions;
	err = ctx->plugin->open(&ctx->host, ctx, cpath, &ctx->inst, &errmsg);
	if (err != 0) {
		log_write(c2s->log, J2_LOG_ERR,
		          "invites: authreg_invites cannot open %s: %s",
		          cpath != NULL ? cpath : "the default configuration",
		          errmsg != NULL ? errmsg : invites_strerror(err));
		ctx->plugin->free(errmsg);
		free(ctx);
		return 1;
	}

	ctx->refs = 1;
	ctx->sxp = sx_env_plugin(c2s->sx_env, sxp_init, ctx);
	if (ctx->sxp == NULL) {
		log_write(c2s->log, J2_LOG_ERR,
		          "invites: could not register the sx plugin");
		ctx_unref(ctx);
		return 1;
	}
	ctx->refs = 2;

	/* Offer exactly what the backend offers (c2s derives the SASL
	 * mechanisms from the non-NULL callbacks). */
	ar->private_ = ctx;
	ar->user_exists = w_user_exists;
	ar->get_password = ctx->backend->get_password ? w_get_password : NULL;
	ar->check_password = ctx->backend->check_password ? w_check_password : NULL;
	ar->set_password = ctx->backend->set_password ? w_set_password : NULL;
	ar->create_user = ctx->backend->create_user ? w_create_user : NULL;
	ar->delete_user = ctx->backend->delete_user ? w_delete_user : NULL;
	ar->sess_end = ctx->backend->sess_end ? w_sess_end : NULL;
	ar->user_authz_allowed = ctx->backend->user_authz_allowed ? w_user_authz_allowed : NULL;
	ar->create_challenge = ctx->backend->create_challenge ? w_create_challenge : NULL;
	ar->check_response = ctx->backend->check_response ? w_check_response : NULL;
	ar->free = w_free;

	log_write(c2s->log, J2_LOG_NOTICE,
	          "invites: authreg_invites %s ready (backend %s, sx plugin %d, "
	          "TCP_NODELAY %s)", ctx->plugin->version, bname, ctx->sxp->index,
	          ctx->tcp_nodelay ? "on" : "off");
	return 0;
}

/*
 * When a per-host authreg module fails to load, c2s logs "using default"
 * and serves that host with the default module, register-enable and all:
 * an invite-only host would take registrations from anyone.  So a failure
 * here stops c2s (its supervisor, or the admin, sees why in the log).  A
 * store that cannot be opened is no failure: the engine retries it and
 * refuses registrations meanwhile.
 */
int
ar_init(struct j2_authreg *ar)
{
	if (ar_setup(ar) == 0)
		return 0;
	if (ar != NULL && ar->c2s != NULL && ar->c2s->log != NULL &&
	    ar->c2s->sx_env != NULL) {
		log_write(ar->c2s->log, J2_LOG_ERR,
		          "invites: stopping c2s: without authreg_invites it would "
		          "serve the invite-only host with the default authreg "
		          "module, open to every registration");
		exit(EXIT_FAILURE);
	}
	return 1;
}
