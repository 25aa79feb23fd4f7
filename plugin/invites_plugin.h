/* SPDX-License-Identifier: MIT */
/*
 * invites_plugin.h: the host-neutral plugin ABI of xmpp-invites.
 *
 * Any C XMPP server can load invites.so with dlopen(), look up the one
 * exported symbol INVITES_PLUGIN_ENTRY_NAME and drive invite-based
 * registration through it.  The plugin holds the whole protocol (XEP-0445
 * pre-auth, XEP-0077 gating, XEP-0379 pre-approved subscriptions, XEP-0050
 * invite commands); the host only translates between its own stanza and
 * user model and this small interface.
 *
 * Topic: versions.  Two tables cross the boundary: struct invites_host (the
 * host's callbacks, filled by the host) and struct invites_plugin (the
 * plugin's hooks, filled by the plugin).  Both start with `uint32_t abi`
 * and `uint32_t size`: abi is INVITES_PLUGIN_ABI as the filler was
 * compiled, size is sizeof the table as the filler was compiled.  Tables
 * only ever grow at the end, under the same abi; a reader uses a field only
 * when it lies inside `size` (INVITES_PLUGIN_HAS()) and, for a function
 * pointer, when it is not NULL.  An incompatible change bumps
 * INVITES_PLUGIN_ABI; the entry point then refuses other versions.  The
 * same rule holds for every struct below that starts with `size`.
 *
 * Topic: results.  Every hook that looks at a stanza returns one of
 *   INVITES_HOOK_PASS    not ours (or nothing to say): the host goes on
 *                        with its normal handling of the stanza;
 *   INVITES_HOOK_ACCEPT  handled: the host sends out->reply (when not
 *                        NULL) and does not process the stanza further;
 *   INVITES_HOOK_REJECT  refused: out->reply is the stanza error to send
 *                        (when the hook was given a stanza) and
 *                        out->error_type / error_condition / error_text
 *                        name it for hosts that build their own error.
 * A failure inside the plugin (out of memory, store error) is a REJECT
 * with the matching stanza error (wait/internal-server-error or
 * wait/resource-constraint); hooks never return negative codes.  Actions
 * (create a user, add a roster item, send a presence, ...) are carried out
 * by calling the host's callbacks *before* the hook returns, in the order
 * the protocol needs; a failed critical callback (create_user,
 * set_password) is rolled back inside the plugin (the invite is given
 * back) and turns the result into a REJECT.
 *
 * Topic: ownership.  XML given to a hook is borrowed for the duration of
 * the call (`xml`, `len`: not necessarily NUL-terminated).  XML handed back
 * (out->reply, the features fragment) is allocated by the plugin and freed
 * by the host with plugin->free().  Strings passed to host callbacks are
 * borrowed for the duration of the callback: copy what you keep.  Strings a
 * host callback hands back (roster_get) must stay valid until the host's
 * next callback returns or the hook returns, whichever comes first.  Static
 * strings (error_type, error_condition, error_text, version) live as long
 * as the loaded plugin.
 *
 * Topic: stanzas.  Stanzas are UTF-8 XML text of one top-level element
 * (<iq/>, <presence/>), in the default namespace jabber:client (an explicit
 * xmlns='jabber:client' or 'jabber:server' is accepted too).  Replies the
 * plugin produces carry no xmlns on the top element, so a host can splice
 * them into its stream; they carry `from` and, for replies to a routed
 * stanza, `to`.  Oversized or malformed stanzas never change stored state:
 * an IQ the plugin cannot parse (over the XML bounds, not well-formed) is
 * a REJECT with the error fields set (policy-violation, bad-request, ...)
 * but no reply, since its id is unknown: the host, which did parse it,
 * answers with that error; a presence it cannot parse is a PASS.
 *
 * Topic: threads and processes.  An instance (open()) may be used by one
 * thread at a time.  Several processes (a c2s and an sm) may each open an
 * instance on the same configuration: they share the invite store safely.
 * Streams belong to the instance that created them.
 */
#ifndef INVITES_INVITES_PLUGIN_H
#define INVITES_INVITES_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include <invites/invites.h> /* INVITES_E* codes, INVITES_LOG_* levels */

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define INVITES_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define INVITES_PLUGIN_EXPORT
#endif

/* The ABI major version described by this header. */
#define INVITES_PLUGIN_ABI 1u

/* The one exported symbol, for dlsym(). */
#define INVITES_PLUGIN_ENTRY_NAME "invites_plugin_entry"

/* Is member `field` of *p (a `type`) inside the size *p declares? */
#define INVITES_PLUGIN_HAS(p, type, field)                                  \
	((p)->size >= offsetof(type, field) + sizeof(((type *)0)->field))

/* Hook results (see "Topic: results"). */
enum invites_hook_result {
	INVITES_HOOK_PASS = 0,
	INVITES_HOOK_ACCEPT = 1,
	INVITES_HOOK_REJECT = 2
};

/* Log levels are syslog(3) priorities: 3 err ... 7 debug. */

/* ------------------------------------------------------------------ */
/* Data crossing the boundary                                          */
/* ------------------------------------------------------------------ */

/* struct invites_stream_info.flags and stream_update() */
#define INVITES_STREAM_SECURE        0x01u /* TLS (or an equivalent) is on */
#define INVITES_STREAM_AUTHENTICATED 0x02u /* SASL (or legacy auth) done */
#define INVITES_STREAM_REQUIRE_TLS   0x04u /* host refuses plain streams;
                                              with require_tls = yes in the
                                              configuration the plugin
                                              assumes it in any case */
#define INVITES_STREAM_HOST_REGISTERS 0x08u /* the host runs XEP-0077 SET
                                              itself for account creation
                                              and calls register_check /
                                              register_commit /
                                              register_rollback (see
                                              stream_iq) */

/* A client-to-server stream, as the host describes it to stream_new(). */
struct invites_stream_info {
	uint32_t size;          /* sizeof(struct invites_stream_info) */
	const char *domain;     /* the stream's host (stream header `to`) */
	unsigned flags;         /* INVITES_STREAM_* */
	const char *remote;     /* peer address for logs, or NULL */
	void *host_stream;      /* host's handle, passed back to callbacks */
};

/* Roster subscription states (RFC 6121). */
enum invites_subscription {
	INVITES_SUB_NONE = 0,
	INVITES_SUB_TO = 1,
	INVITES_SUB_FROM = 2,
	INVITES_SUB_BOTH = 3
};

/* One roster item: `contact` in the roster of `owner` (both bare JIDs). */
struct invites_roster_item {
	uint32_t size;              /* sizeof(struct invites_roster_item) */
	const char *owner;
	const char *contact;
	const char *name;           /* NULL: none (set: keep the current one) */
	int subscription;           /* enum invites_subscription */
	int ask;                    /* 1: pending outgoing subscribe, else 0 */
	const char *const *groups;  /* n_groups names */
	size_t n_groups;            /* set: 0 keeps the current groups */
};

/*
 * What a hook produced (see "Topic: results").  The host sets `size`
 * (sizeof as it was compiled) and zeroes the rest before the call; the
 * plugin fills only the fields inside size.
 */
struct invites_outcome {
	uint32_t size;
	int result;                  /* enum invites_hook_result (as returned) */
	char *reply;                 /* stanza to send back, or NULL; free with
	                                plugin->free() */
	const char *error_type;      /* REJECT: "cancel", "modify", "auth",
	                                "wait" (static) */
	const char *error_condition; /* REJECT: RFC 6120 condition (static) */
	const char *error_text;      /* REJECT: human text or NULL (static) */
	unsigned flags;              /* INVITES_OUTCOME_* */
	const char *stream_error;    /* INVITES_OUTCOME_CLOSE: RFC 6120 stream
	                                error condition to close with (static) */
};

/* struct invites_outcome.flags */
#define INVITES_OUTCOME_CLOSE 0x01u /* send the reply, then close the stream
                                       with stream_error (brute-force guard) */
#define INVITES_OUTCOME_RESET 0x02u /* register_check: the accepted
                                       registration is a password reset of
                                       an existing account */

/* ------------------------------------------------------------------ */
/* The host's table                                                    */
/* ------------------------------------------------------------------ */

/*
 * Filled by the host, kept alive (unchanged) until every instance opened
 * with it is closed.  `ctx` is the host_ctx given to open().  Callbacks
 * return 0 on success or a negative INVITES_E* code of <invites/invites.h>
 * (INVITES_EEXIST, INVITES_ENOTFOUND, INVITES_ESTORE, ...) unless stated.
 * Every callback marked (required) must be set; the others may be NULL.
 */
struct invites_host {
	uint32_t abi;   /* INVITES_PLUGIN_ABI */
	uint32_t size;  /* sizeof(struct invites_host) */

	/* A log line (never holds a token).  (required) */
	void (*log)(void *ctx, int level, const char *msg);

	/* 1 when the account `jid` (bare) exists, 0 when not, negative on
	 * error.  (required) */
	int (*user_exists)(void *ctx, const char *jid);

	/* Create the account `jid` with `password`.  INVITES_EEXIST when it
	 * exists.  (required unless every stream has HOST_REGISTERS) */
	int (*create_user)(void *ctx, const char *jid, const char *password);

	/* Set the password of the existing account `jid`, through the
	 * host's normal "password changed" path.  (required for resets) */
	int (*set_password)(void *ctx, const char *jid, const char *password);

	/* End every session of `jid` (after a password reset). */
	int (*end_sessions)(void *ctx, const char *jid);

	/* Read `contact` in the roster of `owner` into *item (strings owned
	 * by the host, see "Topic: ownership").  INVITES_ENOTFOUND when there
	 * is no such item.  (required for XEP-0379) */
	int (*roster_get)(void *ctx, const char *owner, const char *contact,
	                  struct invites_roster_item *item);

	/* Add or update an item, store it, and push it to the owner's
	 * interested resources (RFC 6121 roster push).  A pending inbound
	 * subscription request of the contact is cleared when the new
	 * subscription is from or both.  (required for XEP-0379 and pairing) */
	int (*roster_set)(void *ctx, const struct invites_roster_item *item);

	/* Route a stanza that carries `from` and `to` (presence subscribed,
	 * subscribe).  (required for XEP-0379) */
	int (*send)(void *ctx, const char *xml);

	/* Send the current presence of every available resource of `owner`
	 * to `to`, or unavailable when owner is offline (RFC 6121, after a
	 * subscription is approved).  Optional. */
	int (*share_presence)(void *ctx, const char *owner, const char *to);

	/* Mirror a role granted through an invite into the host's own
	 * permission model.  The plugin keeps roles in its store whatever
	 * this returns.  Optional. */
	int (*role_add)(void *ctx, const char *jid, const char *role);
};

/* ------------------------------------------------------------------ */
/* The plugin's table                                                  */
/* ------------------------------------------------------------------ */

struct invites_instance; /* one opened configuration + store */
struct invites_stream;   /* per-stream state */

struct invites_plugin {
	uint32_t abi;          /* INVITES_PLUGIN_ABI */
	uint32_t size;         /* sizeof(struct invites_plugin) */
	const char *version;   /* package version, e.g. "0.1.0" (static) */

	/* Free memory returned by a hook (reply, features).  NULL is fine. */
	void (*free)(void *p);

	/*
	 * Read the configuration file config_path (NULL: the default path),
	 * open the invite store and return an instance.  host must stay valid
	 * until close(); host_ctx is passed to every callback.  On failure
	 * returns a negative INVITES_E* code and, when errmsg_r is not NULL,
	 * a message (free with plugin->free()).
	 */
	int (*open)(const struct invites_host *host, void *host_ctx,
	            const char *config_path, struct invites_instance **inst_r,
	            char **errmsg_r);
	/* Close an instance (NULL is fine) and set *inst to NULL.  Every
	 * stream of it must be freed first. */
	void (*close)(struct invites_instance **inst);

	/* ---- client streams (c2s side) ---- */

	/* A new client stream.  Returns 0, INVITES_EINVAL (bad info) or
	 * INVITES_ENOMEM. */
	int (*stream_new)(struct invites_instance *inst,
	                  const struct invites_stream_info *info,
	                  struct invites_stream **st_r);
	/* The stream's INVITES_STREAM_* flags changed (after STARTTLS, after
	 * authentication). */
	void (*stream_update)(struct invites_stream *st, unsigned flags);
	/* Forget a stream (NULL is fine); sets *st to NULL. */
	void (*stream_free)(struct invites_stream **st);

	/*
	 * Stream features to add, as a fragment of sibling elements
	 * (`<register xmlns='urn:xmpp:ibr-token:0'/><register
	 * xmlns='urn:xmpp:invite'/>`), in *xml_r (free with plugin->free()).
	 * ACCEPT with the fragment before authentication on a stream that is
	 * secure enough; PASS with *xml_r = NULL otherwise.  with_iq_register
	 * non-zero also adds XEP-0077's own feature
	 * <register xmlns='http://jabber.org/features/iq-register'/> for
	 * hosts that do not advertise it themselves.
	 */
	int (*features)(struct invites_stream *st, int with_iq_register,
	                char **xml_r);

	/*
	 * An IQ a client sent on the stream (call it for every IQ before
	 * authentication; after it, only if convenient).  Handles:
	 *   - <preauth xmlns='urn:xmpp:pars:0'/> (XEP-0445): ACCEPT with a
	 *     result or REJECT with an error; after too many failures the
	 *     outcome has INVITES_OUTCOME_CLOSE;
	 *   - jabber:iq:register get: ACCEPT with the fields (legacy and
	 *     data form), or REJECT;
	 *   - jabber:iq:register set: with HOST_REGISTERS on the stream,
	 *     REJECT on any failed check, PASS when the host should go on
	 *     with its own registration (it will call register_commit), and
	 *     ACCEPT when the plugin did the whole job itself (a password
	 *     reset through set_password); without HOST_REGISTERS the plugin
	 *     always does the whole job (create_user / set_password);
	 *   - anything else: PASS.
	 */
	int (*stream_iq)(struct invites_stream *st, const char *xml,
	                 size_t len, struct invites_outcome *out);

	/*
	 * For hosts that run XEP-0077 themselves.  register_check: may this
	 * stream create (or, with INVITES_OUTCOME_RESET, reset) `username`
	 * (the localpart as the client sent it)?  ACCEPT, REJECT with the
	 * error fields, or PASS when no invite is involved and the host's
	 * own policy decides (never on an invite-only setup).  No state is
	 * changed.
	 */
	int (*register_check)(struct invites_stream *st, const char *username,
	                      struct invites_outcome *out);
	/*
	 * Use the stream's invite for `username`, atomically (call it just
	 * before the host creates the account).  ACCEPT: go on and create
	 * the account; REJECT: do not (error fields set).  PASS: no invite
	 * involved.
	 */
	int (*register_commit)(struct invites_stream *st, const char *username,
	                       struct invites_outcome *out);
	/* The host failed to create the account after an ACCEPTed commit:
	 * give the invite's use back. */
	void (*register_rollback)(struct invites_stream *st,
	                          const char *username);

	/* ---- session side (sm) ---- */

	/*
	 * An inbound <presence type='subscribe'/> addressed to a local user
	 * (from a local user or over s2s).  ACCEPT when it carried a valid
	 * XEP-0379 <preauth/> token: the roster items, `subscribed`,
	 * `subscribe` back and presence were done through the callbacks and
	 * the host must not deliver the original stanza.  PASS otherwise
	 * (normal subscription handling; no error is ever sent).
	 */
	int (*presence)(struct invites_instance *inst, const char *xml,
	                size_t len, struct invites_outcome *out);

	/*
	 * An IQ addressed to the server JID (from a local or remote entity,
	 * `from` and `to` set): disco#items on the XEP-0050 commands node,
	 * disco#info on our command nodes, and the XEP-0050 commands
	 * themselves.  ACCEPT with the reply (a result or an error stanza),
	 * or PASS when it is not ours.
	 */
	int (*server_iq)(struct invites_instance *inst, const char *xml,
	                 size_t len, struct invites_outcome *out);

	/*
	 * The account `jid` was created (the host's "user created" event):
	 * apply the work an invite left for it (roles, groups, mutual roster
	 * items with the inviter) through the callbacks.  ACCEPT when there
	 * was work, PASS when none.
	 */
	int (*user_created)(struct invites_instance *inst, const char *jid,
	                    struct invites_outcome *out);

	/*
	 * The account `jid` was deleted (the host's "user deleted" event):
	 * with revoke_on_delete (the default), revoke the pending invites it
	 * created.  ACCEPT when some were, PASS when none, REJECT on a store
	 * failure (error fields set).  The host goes on with the deletion
	 * whatever it returns.
	 */
	int (*user_deleted)(struct invites_instance *inst, const char *jid,
	                    struct invites_outcome *out);
};

/*
 * The entry point.  host_abi is the INVITES_PLUGIN_ABI the host was
 * compiled with.  Returns 0 and the plugin's static table in *plugin_r,
 * or INVITES_EVERSION (-19) when the plugin cannot serve that ABI.
 */
typedef int invites_plugin_entry_fn(uint32_t host_abi,
                                    const struct invites_plugin **plugin_r);

INVITES_PLUGIN_EXPORT int invites_plugin_entry(uint32_t host_abi,
                                               const struct invites_plugin **plugin_r);

#ifdef __cplusplus
}
#endif
#endif /* INVITES_INVITES_PLUGIN_H */
