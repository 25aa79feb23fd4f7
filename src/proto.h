/* SPDX-License-Identifier: MIT */
/*
 * The protocol engine (internal): pure functions from a stanza, per-stream
 * state, the invite store and the configuration to a reply stanza plus a
 * list of actions for the host.
 *
 * The engine never changes host state itself.  Every change on the host
 * side (create a user, set a password, add a roster item, send a presence,
 * ...) is an action in struct inv__out that the caller (plugin/plugin.c)
 * carries out through the host's callbacks.  The engine may ask the host
 * read-only questions through struct inv__facts (does this account exist?
 * what is this roster item?); tests answer them from a table.  The engine
 * does change the invite store (consume, create, revoke): that is its own
 * state.  When a critical action fails, the caller calls inv__proto_undo(),
 * which gives the invite's use back and turns the outcome into the error
 * prepared for that case.
 *
 * Results are the plugin ABI's: INVITES_HOOK_PASS / ACCEPT / REJECT.
 */
#ifndef INVITES_PROTO_H
#define INVITES_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <invites/invites.h>

/* Results (same values as enum invites_hook_result of the plugin ABI). */
#define INV__PASS   0
#define INV__ACCEPT 1
#define INV__REJECT 2

/* Per-stream flags (same values as INVITES_STREAM_* of the plugin ABI). */
#define INV__PS_SECURE         0x01u
#define INV__PS_AUTHENTICATED  0x02u
#define INV__PS_REQUIRE_TLS    0x04u
#define INV__PS_HOST_REGISTERS 0x08u

/* Outcome flags (same values as INVITES_OUTCOME_*). */
#define INV__OUT_CLOSE 0x01u
#define INV__OUT_RESET 0x02u

/* Roster subscription values (same as enum invites_subscription). */
#define INV__SUB_NONE 0
#define INV__SUB_TO   1
#define INV__SUB_FROM 2
#define INV__SUB_BOTH 3

/* Namespaces and nodes the engine speaks. */
#define INV__NS_PARS       "urn:xmpp:pars:0"
#define INV__NS_IBR_TOKEN  "urn:xmpp:ibr-token:0"
#define INV__NS_INVITE     "urn:xmpp:invite"
#define INV__NS_REGISTER   "jabber:iq:register"
#define INV__NS_FEAT_REG   "http://jabber.org/features/iq-register"
#define INV__NS_XDATA      "jabber:x:data"
#define INV__NS_STANZAS    "urn:ietf:params:xml:ns:xmpp-stanzas"
#define INV__NS_COMMANDS   "http://jabber.org/protocol/commands"
#define INV__NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define INV__NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"

#define INV__NODE_INVITE   "urn:xmpp:invite#invite"
#define INV__NODE_ACCOUNT  "urn:xmpp:invite#create-account"
#define INV__NODE_RESET    "xmpp-invites#password-reset"
#define INV__NODE_RESET_PROSODY "xmpp:prosody.im/mod_invites_adhoc#password-reset"
#define INV__NODE_LIST     "xmpp-invites#list"
#define INV__NODE_REVOKE   "xmpp-invites#revoke"
#define INV__FORM_INVITATION "urn:xmpp:invite#invitation"

/* ------------------------------------------------------------------ */
/* Actions and outcomes                                                */
/* ------------------------------------------------------------------ */

enum inv__act_type {
	INV__ACT_CREATE_USER = 1,  /* jid, secret (password); critical */
	INV__ACT_SET_PASSWORD = 2, /* jid, secret (password); critical */
	INV__ACT_END_SESSIONS = 3, /* jid */
	INV__ACT_ROSTER_SET = 4,   /* jid = owner, jid2 = contact, sub, ask,
	                              groups */
	INV__ACT_SEND = 5,         /* text = stanza */
	INV__ACT_SHARE_PRESENCE = 6, /* jid = owner, jid2 = to */
	INV__ACT_ROLE_ADD = 7,     /* jid, text = role */
	INV__ACT_LOG = 8           /* level, text */
};

struct inv__act {
	enum inv__act_type type;
	char *jid;
	char *jid2;
	char *text;
	char *secret;       /* wiped on free */
	int level;
	int sub;
	int ask;
	char **groups;
	size_t n_groups;
	int critical;       /* failure: stop and call inv__proto_undo() */
};

struct inv__out {
	int result;                 /* INV__PASS / ACCEPT / REJECT */
	char *reply;                /* stanza for the sender, or NULL */
	const char *err_type;       /* REJECT: static strings */
	const char *err_cond;
	const char *err_text;
	unsigned flags;             /* INV__OUT_* */
	const char *stream_error;   /* INV__OUT_CLOSE */
	struct inv__act *acts;
	size_t n_acts;
	size_t cap_acts;
	/* What inv__proto_undo() needs. */
	char *undo_token;           /* secret: wiped on free */
	char *undo_invitee;
	char *iq_id;                /* the IQ answered, for an error reply */
	char *iq_from;
	char *iq_to;
};

void inv__out_init(struct inv__out *o);
/* Free everything held by o and re-initialise it. */
void inv__out_clear(struct inv__out *o);
/* Forget o's actions (nothing will be run). */
void inv__out_drop_acts(struct inv__out *o);

/* ------------------------------------------------------------------ */
/* Questions to the host                                               */
/* ------------------------------------------------------------------ */

struct inv__facts {
	void *ctx;
	/* 1 exists, 0 not, negative INVITES_E* on error. */
	int (*user_exists)(void *ctx, const char *jid);
	/* 0 and *sub_r / *ask_r, INVITES_ENOTFOUND, or another error. */
	int (*roster_get)(void *ctx, const char *owner, const char *contact,
	                  int *sub_r, int *ask_r);
};

/* ------------------------------------------------------------------ */
/* The engine                                                          */
/* ------------------------------------------------------------------ */

struct inv__proto;     /* configuration, store, ad-hoc sessions */
struct inv__pstream;   /* one client stream */

/* cfg and st are borrowed and must outlive the engine. */
int inv__proto_new(const struct invites_config *cfg, struct invites_store *st,
                   struct inv__proto **p_r);
void inv__proto_free(struct inv__proto **p);

int inv__pstream_new(struct inv__proto *p, const char *domain,
                     unsigned flags, struct inv__pstream **ps_r);
void inv__pstream_set_flags(struct inv__pstream *ps, unsigned flags);
void inv__pstream_free(struct inv__pstream **ps);

/* Stream features fragment (ACCEPT with *xml_r) or PASS. */
int inv__proto_features(struct inv__proto *p, struct inv__pstream *ps,
                        int with_iq_register, char **xml_r);

/* Pre-auth and XEP-0077 IQs on a client stream. */
int inv__proto_stream_iq(struct inv__proto *p, struct inv__pstream *ps,
                         const char *xml, size_t len,
                         const struct inv__facts *facts, struct inv__out *o);

/* The registration decision for hosts that run XEP-0077 themselves. */
int inv__proto_register_check(struct inv__proto *p, struct inv__pstream *ps,
                              const char *username,
                              const struct inv__facts *facts,
                              struct inv__out *o);
int inv__proto_register_commit(struct inv__proto *p, struct inv__pstream *ps,
                               const char *username, struct inv__out *o);
void inv__proto_register_rollback(struct inv__proto *p,
                                  struct inv__pstream *ps,
                                  const char *username);

/* XEP-0379: an inbound presence subscribe. */
int inv__proto_presence(struct inv__proto *p, const char *xml, size_t len,
                        const struct inv__facts *facts, struct inv__out *o);

/* Disco and XEP-0050 commands addressed to the server JID. */
int inv__proto_server_iq(struct inv__proto *p, const char *xml, size_t len,
                         const struct inv__facts *facts, struct inv__out *o);

/* Post-registration work for a new account. */
int inv__proto_user_created(struct inv__proto *p, const char *jid,
                            struct inv__out *o);

/*
 * Operations (src/proto_notify.c).  inv__proto_notify: after inv was used
 * by invitee (accepted: a contact invite approved a subscription; else an
 * account was created), tell its creator (or the admins) with a chat
 * message, as notify_inviter / notify_admins say; 0 or INVITES_ENOMEM.
 * inv__proto_notify_by_id does it for the invite with public id invite_id
 * (an account created, as the user-created hook knows it).
 * inv__proto_user_deleted: the account jid was deleted: with
 * revoke_on_delete, revoke the pending invites it created (ACCEPT when
 * some were, PASS when none).
 */
int inv__proto_notify(struct inv__proto *p, const struct invites_invite *inv,
                      const char *invitee, int accepted, struct inv__out *o);
int inv__proto_notify_by_id(struct inv__proto *p, const char *invite_id,
                            const char *invitee, struct inv__out *o);
int inv__proto_user_deleted(struct inv__proto *p, const char *jid,
                            struct inv__out *o);

/*
 * A critical action of o failed with err (INVITES_EEXIST: the account
 * exists): give the invite's use back and turn o into a REJECT with the
 * matching error (cancel/conflict for EEXIST, else
 * wait/internal-server-error).  The remaining actions are dropped.
 */
void inv__proto_undo(struct inv__proto *p, struct inv__out *o, int err);

/* ------------------------------------------------------------------ */
/* Between the engine's own files (src/proto*.c)                       */
/* ------------------------------------------------------------------ */

struct inv__xml;

#define INV__ADHOC_SESSIONS 32

struct inv__adhoc_session {
	char id[INVITES_TOKEN_LEN + 1];   /* "" when the slot is free */
	char node[64];
	char owner[INVITES_JID_MAX + 1];  /* requester's bare JID */
	int64_t started;
};

struct inv__proto {
	const struct invites_config *cfg;
	struct invites_store *st;
	unsigned max_failures;      /* preauth_max_failures; 0: no limit */
	int require_tls;
	int user_invites;
	int user_invites_register;
	struct inv__adhoc_session sessions[INV__ADHOC_SESSIONS];
};

struct inv__pstream {
	struct inv__proto *p;
	char domain[INVITES_JID_MAX + 1];
	unsigned flags;
	int served;                 /* domain is in the `domains` key */
	unsigned failures;          /* failed pre-auth attempts */
	char *token;                /* the accepted pre-auth token (secret) */
	char *committed_token;      /* register_commit: for the rollback */
	char *committed_jid;
};

/* Outcome building (proto_util.c).  Each returns 0 or INVITES_ENOMEM. */
struct inv__act *inv__out_act(struct inv__out *o, enum inv__act_type type);
int inv__out_log(struct inv__out *o, int level, const char *fmt, ...)
	INVITES_PRINTF(3, 4);
int inv__out_send(struct inv__out *o, const struct inv__xml *stanza);
int inv__out_roster(struct inv__out *o, const char *owner,
                    const char *contact, int sub, int ask,
                    char *const *groups, size_t n_groups);
/* Serialise reply into o->reply and set o->result (reply is freed). */
int inv__out_reply(struct inv__out *o, int result, struct inv__xml **reply);
/*
 * REJECT with a stanza error: o->err_* set, and o->reply the error IQ
 * answering req (when req is not NULL) from `from` to `to` (either may be
 * NULL).  On allocation failure o still carries the error fields.
 * Both return INV__REJECT.
 */
int inv__out_iq_error(struct inv__out *o, const struct inv__xml *req,
                      const char *from, const char *to, const char *type,
                      const char *cond, const char *text);
/* The same, for an INVITES_E* code (its type and condition). */
int inv__out_iq_errcode(struct inv__out *o, const struct inv__xml *req,
                        const char *from, const char *to, int err,
                        const char *text);
/* Remember the IQ header for inv__proto_undo(). */
int inv__out_keep_iq(struct inv__out *o, const struct inv__xml *req,
                     const char *from, const char *to);

/*
 * Tree building that remembers the first error in *err and turns every
 * later call into a no-op (so a builder checks once at the end).
 */
struct inv__xml *inv__b_new(const char *ns, const char *name, int *err);
struct inv__xml *inv__b_el(struct inv__xml *parent, const char *ns,
                           const char *name, int *err);
void inv__b_attr(struct inv__xml *e, const char *name, const char *value,
                 int *err);
void inv__b_text(struct inv__xml *e, const char *text, int *err);
struct inv__xml *inv__b_text_el(struct inv__xml *parent, const char *ns,
                                const char *name, const char *text,
                                int *err);
/* An IQ reply skeleton: <iq type=type id=req's from=from to=to/>. */
struct inv__xml *inv__b_iq(const struct inv__xml *req, const char *type,
                           const char *from, const char *to, int *err);

/* XEP-0004 forms. */
struct inv__xml *inv__form_new(struct inv__xml *parent, const char *type,
                               const char *title, const char *form_type,
                               int *err);
struct inv__xml *inv__form_field(struct inv__xml *form, const char *var,
                                 const char *type, const char *label,
                                 const char *value, int required, int *err);
void inv__form_option(struct inv__xml *field, const char *label,
                      const char *value, int *err);
/* The first jabber:x:data child of e, or NULL. */
struct inv__xml *inv__form_find(const struct inv__xml *e);
/* The first value of field var (NULL when absent, "" when empty). */
const char *inv__form_value(const struct inv__xml *form, const char *var);
/* 1 when the form has a field var. */
int inv__form_has(const struct inv__xml *form, const char *var);

/* Parse a stanza with the engine's limits (INV_XML_* codes). */
int inv__proto_parse(const char *xml, size_t len, struct inv__xml **root_r);
/* 1 when e is a stanza element `name` in jabber:client or jabber:server. */
int inv__proto_is_stanza(const struct inv__xml *e, const char *name);
/*
 * The bare JID of jid into out (INVITES_JID_MAX + 1 bytes), normalised,
 * and the offset of its domain part in *domain_off_r (may be NULL).
 * INVITES_EJID when malformed or NULL.
 */
int inv__proto_bare(const char *jid, char *out, size_t *domain_off_r);
/* 1 when the bare JID is listed in the `admins` key or holds "admin". */
int inv__proto_is_admin(struct inv__proto *p, const char *bare);
/* ISO 8601 UTC ("2026-12-01T12:00:00Z") of t into out (32 bytes). */
void inv__proto_time(int64_t t, char out[32]);

#endif /* INVITES_PROTO_H */
