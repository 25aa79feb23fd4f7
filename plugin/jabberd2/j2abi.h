/* SPDX-License-Identifier: MIT */
/*
 * j2abi.h: every jabberd2 data layout and function the adapters rely on,
 * in one private header.
 *
 * jabberd2 installs no headers and has no ABI version: its modules share
 * its structs by layout.  These declarations are ours, written from the
 * measured layouts of Debian 12's jabberd2 2.7.0 (x86_64, built with SSL;
 * shared/docs/jabberd2-host.md section 2, cross-checked against Debian's
 * machine code).  The same layouts hold for upstream 2.4.0 to 2.7.0.
 * Every offset an adapter touches is pinned by a _Static_assert below, so
 * a layout that drifts fails the build instead of corrupting memory; the
 * adapters add run-time sanity checks at load and refuse to start when one
 * fails.  Only the fields we read or write are named with real types;
 * the rest are kept as padding of the right type so that the sizes match.
 *
 * Nothing here may be included by code outside plugin/jabberd2/.
 */
#ifndef INVITES_J2ABI_H
#define INVITES_J2ABI_H

#include <stdarg.h>
#include <stddef.h>
#include <time.h>

#if !defined(__x86_64__) || !defined(__LP64__)
#error "jabberd2 layouts are only measured for x86_64 (LP64): add them to j2abi.h"
#endif

/* ------------------------------------------------------------------ */
/* util: nad (jabberd2's "not a DOM"), jid, config, log, xhash          */
/* ------------------------------------------------------------------ */

struct j2_nad_elem {
	int parent;
	int iname, lname;
	int icdata, lcdata;
	int itail, ltail;
	int attr;
	int ns;
	int my_ns;
	unsigned int depth;
};

struct j2_nad_attr {
	int iname, lname;
	int ival, lval;
	int my_ns;
	int next;
};

struct j2_nad_ns {
	int iuri, luri;
	int iprefix, lprefix;
	int next;
};

struct j2_nad {
	struct j2_nad_elem *elems;
	struct j2_nad_attr *attrs;
	struct j2_nad_ns *nss;
	char *cdata;
	int *depths;
	int elen, alen, nlen, clen, dlen;
	int ecur, acur, ncur, ccur;
	int scope;
	struct j2_nad *next;
};

/* Accessors (the same arithmetic as upstream's NAD_* macros). */
#define J2_NAD_ENAME(n, e)   ((n)->cdata + (n)->elems[e].iname)
#define J2_NAD_ENAME_L(n, e) ((n)->elems[e].lname)
#define J2_NAD_ENS(n, e)     ((n)->elems[e].my_ns)   /* the element's namespace */
#define J2_NAD_NURI(n, ns)   ((n)->cdata + (n)->nss[ns].iuri)
#define J2_NAD_NURI_L(n, ns) ((n)->nss[ns].luri)
#define J2_NAD_AVAL(n, a)    ((n)->cdata + (n)->attrs[a].ival)
#define J2_NAD_AVAL_L(n, a)  ((n)->attrs[a].lval)

struct j2_jid {
	char *node;
	char *domain;
	char *resource;
	char *jid_data;
	size_t jid_data_len;
	char *_user;
	char *_full;
	int dirty;
	struct j2_jid *next;
};

typedef void *j2_config_t;  /* opaque */
typedef void *j2_log_t;     /* opaque */
typedef void *j2_xht;       /* opaque hash table */

/* jabberd2 log levels are syslog priorities */
#define J2_LOG_ERR 3
#define J2_LOG_WARNING 4
#define J2_LOG_NOTICE 5
#define J2_LOG_INFO 6

/* stanza_error() codes (util/stanza.c table order, base 100) */
#define J2_STANZA_BAD_REQUEST 100
#define J2_STANZA_FORBIDDEN 103
#define J2_STANZA_INTERNAL_SERVER_ERROR 105
#define J2_STANZA_NOT_ALLOWED 109
#define J2_STANZA_SERVICE_UNAVAILABLE 117

/* ------------------------------------------------------------------ */
/* sx: streams and their plugins                                       */
/* ------------------------------------------------------------------ */

struct j2_sx_plugin;

struct j2_sx_env {
	struct j2_sx_plugin **plugins;
	int nplugins;
};

struct j2_sx {
	struct j2_sx_env *env;
	int tag;                /* the socket, for c2s streams */
	const char *ip;
	int port;
	void *cb;
	void *cb_arg;           /* client streams: the c2s session */
	int type;               /* J2_SX_TYPE_* */
	unsigned int flags;     /* J2_SX_* */
	const char *ns;
	const char *req_to;
	const char *req_from;
	const char *req_version;
	const char *res_to;
	const char *res_from;
	const char *res_version;
	const char *id;
	void *wio, *rio, *wnad, *rnad;
	void *wbufq;
	void *wbufpending;
	void *rnadq;
	int want_read, want_write;
	int rbytes, pbytes, tbytes, rbytesmax;
	int state;              /* J2_SX_STATE_* */
	void *expat;
	int depth;
	int fail;
	struct j2_nad *nad;
	void **plugin_data;
	const char *auth_method;
	const char *auth_id;
	int reentry;
	int has_reset;
	int ssf;
};

struct j2_sx_plugin {
	struct j2_sx_env *env;
	int magic;
	int index;
	void *private_;         /* `private` upstream */
	void (*new_)(struct j2_sx *s, struct j2_sx_plugin *p);
	void (*free)(struct j2_sx *s, struct j2_sx_plugin *p);
	void (*client)(struct j2_sx *s, struct j2_sx_plugin *p);
	void (*server)(struct j2_sx *s, struct j2_sx_plugin *p);
	int (*wio)(struct j2_sx *s, struct j2_sx_plugin *p, void *buf);
	int (*rio)(struct j2_sx *s, struct j2_sx_plugin *p, void *buf);
	int (*wnad)(struct j2_sx *s, struct j2_sx_plugin *p, struct j2_nad *nad, int elem);
	int (*rnad)(struct j2_sx *s, struct j2_sx_plugin *p, struct j2_nad *nad);
	void (*header)(struct j2_sx *s, struct j2_sx_plugin *p, void *buf);
	void (*stream)(struct j2_sx *s, struct j2_sx_plugin *p);
	void (*features)(struct j2_sx *s, struct j2_sx_plugin *p, struct j2_nad *nad);
	int (*process)(struct j2_sx *s, struct j2_sx_plugin *p, struct j2_nad *nad);
	void (*unload)(struct j2_sx_plugin *p);
};

typedef int j2_sx_plugin_init_fn(struct j2_sx_env *env, struct j2_sx_plugin *p,
                                 va_list args);

enum { J2_SX_TYPE_NONE = 0, J2_SX_TYPE_CLIENT = 1, J2_SX_TYPE_SERVER = 2 };
enum {
	J2_SX_STATE_NONE = 0,
	J2_SX_STATE_STREAM_RECEIVED = 1,
	J2_SX_STATE_STREAM_SENT = 2,
	J2_SX_STATE_STREAM = 3,
	J2_SX_STATE_OPEN = 4,
	J2_SX_STATE_CLOSING = 5,
	J2_SX_STATE_CLOSED = 6
};
#define J2_SX_SSL_WRAPPER 0x01u
#define J2_SX_SSL_STARTTLS_OFFER 0x02u
#define J2_SX_SSL_STARTTLS_REQUIRE 0x04u

/* sx stream error codes for sx_error() (sx/sx.h stream_err_* order) */
#define J2_STREAM_ERR_NOT_AUTHORIZED 12
#define J2_STREAM_ERR_POLICY_VIOLATION 13

/* ------------------------------------------------------------------ */
/* c2s                                                                 */
/* ------------------------------------------------------------------ */

struct j2_c2s;
struct j2_c2s_sess;
struct j2_authreg;

struct j2_mio_fd {
	int fd;
};

struct j2_c2s {
	const char *id;
	const char *router_ip;
	int router_port;
	const char *router_user;
	const char *router_pass;
	const char *router_pemfile;
	const char *router_cachain;
	const char *router_private_key_password;
	const char *router_ciphers;
	void *mio;
	j2_xht sessions;
	struct j2_sx_env *sx_env;
	struct j2_sx_plugin *sx_ssl;
	struct j2_sx_plugin *sx_sasl;
	struct j2_sx *router;
	struct j2_mio_fd *fd;
	struct j2_mio_fd *server_fd;
	struct j2_mio_fd *server_ssl_fd;   /* HAVE_SSL builds only */
	j2_config_t config;
	j2_log_t log;
	int log_type;
	const char *log_facility;
	const char *log_ident;
	long long packet_count;
	const char *packet_stats;
	int retry_init, retry_lost, retry_sleep, retry_left;
	const char *local_ip;
	int local_port;
	int local_ssl_port;
	const char *local_pemfile;
	const char *local_cachain;
	const char *local_private_key_password;
	int local_verify_mode;
	const char *local_ciphers;
	const char *http_forward;
	int websocket;
	const char *pbx_pipe;
	int pbx_pipe_fd;
	void *pbx_pipe_mio_fd;
	j2_xht stream_redirects;
	int io_max_fds;
	int compression;
	int io_check_interval, io_check_idle, io_check_keepalive;
	time_t next_check;
	const char *ar_module_name;       /* the default authreg module */
	struct j2_authreg *ar;
	j2_xht ar_modules;
	int ar_mechanisms;
	int ar_ssl_mechanisms;
	int conn_rate_total, conn_rate_seconds, conn_rate_wait;
	j2_xht conn_rates;
	int byte_rate_total, byte_rate_seconds, byte_rate_wait;
	int stanza_rate_total, stanza_rate_seconds, stanza_rate_wait;
	int stanza_size_limit;
	void *access;
	void *dead;
	void *dead_sess;
	int started;
	int online;
	j2_xht hosts;
	void *vhost;
	j2_xht sm_avail;
};

struct j2_c2s_host {
	const char *realm;
	const char *host_pemfile;
	const char *host_cachain;
	char *host_private_key_password;
	int host_verify_mode;
	int host_require_starttls;
	const char *host_ciphers;
	const char *ar_module_name;
	struct j2_authreg *ar;
	int ar_register_enable;
	const char *ar_register_instructions;
	const char *ar_register_oob;
	int ar_register_password;
};

struct j2_c2s_sess {
	struct j2_c2s *c2s;
	struct j2_mio_fd *fd;
	char skey[44];
	const char *smcomp;
	const char *ip;
	int port;
	struct j2_sx *s;
	struct j2_c2s_host *host;
	void *rate;
	int rate_log;
	void *stanza_rate;
	int stanza_rate_log;
	time_t last_activity;
	unsigned int packet_count;
	int bound;
	struct j2_bres *resources;
	int active;
	struct j2_nad *result;
	int sasl_authd;
	char auth_challenge[65];
	void *authreg_private;
};

/* a bound resource of a c2s session (sess->resources list) */
struct j2_bres {
	struct j2_jid *jid;
	char c2s_id[44];
	char sm_id[41];
	char sm_request[41];
	struct j2_bres *next;
};

#define J2_PASSWORD_SIZE 257

struct j2_authreg {
	struct j2_c2s *c2s;
	int initialized;
	void *handle;
	void *private_;     /* `private` upstream */
	int (*user_exists)(struct j2_authreg *ar, struct j2_c2s_sess *sess,
	                   const char *username, const char *realm);
	int (*get_password)(struct j2_authreg *ar, struct j2_c2s_sess *sess,
	                    const char *username, const char *realm,
	                    char password[J2_PASSWORD_SIZE]);
	int (*check_password)(struct j2_authreg *ar, struct j2_c2s_sess *sess,
	                      const char *username, const char *realm,
	                      char password[J2_PASSWORD_SIZE]);
	int (*set_password)(struct j2_authreg *ar, struct j2_c2s_sess *sess,
	                    const char *username, const char *realm,
	                    char password[J2_PASSWORD_SIZE]);
	int (*create_user)(struct j2_authreg *ar, struct j2_c2s_sess *sess,
	                   const char *username, const char *realm);
	int (*delete_user)(struct j2_authreg *ar, struct j2_c2s_sess *sess,
	                   const char *username, const char *realm);
	void (*sess_end)(struct j2_authreg *ar, struct j2_c2s_sess *sess);
	void (*free)(struct j2_authreg *ar);
	int (*user_authz_allowed)(struct j2_authreg *ar, struct j2_c2s_sess *sess,
	                          const char *username, const char *realm,
	                          const char *requested_user);
	int (*create_challenge)(struct j2_authreg *ar, struct j2_c2s_sess *sess,
	                        const char *username, const char *realm,
	                        char *challenge, int maxlen);
	int (*check_response)(struct j2_authreg *ar, struct j2_c2s_sess *sess,
	                      const char *username, const char *realm,
	                      const char *challenge, const char *response);
};

/* ------------------------------------------------------------------ */
/* sm                                                                  */
/* ------------------------------------------------------------------ */

struct j2_sm;
struct j2_mm;
struct j2_module;
struct j2_sm_sess;

struct j2_sm {
	const char *id;
	const char *router_ip;
	int router_port;
	const char *router_user;
	const char *router_pass;
	const char *router_pemfile;
	const char *router_private_key_password;
	const char *router_ciphers;
	void *mio;
	struct j2_sx_env *sx_env;
	void *sx_sasl;
	void *sx_ssl;
	struct j2_sx *router;
	void *fd;
	j2_xht users;          /* user_t by bare JID */
	j2_xht sessions;
	j2_xht xmlns;
	j2_xht xmlns_refcount;
	j2_xht features;
	j2_config_t config;
	j2_log_t log;
	int log_type;
	const char *log_facility;
	const char *log_ident;
	int retry_init, retry_lost, retry_sleep, retry_left;
	void *st;              /* storage_t */
	struct j2_mm *mm;
	j2_xht acls;
	char signature[2048];
	int siglen;
	int started;
	int online;
	j2_xht hosts;
	int query_rate_total, query_rate_seconds, query_rate_wait;
	j2_xht query_rates;
};

struct j2_user {
	void *p;
	struct j2_sm *sm;
	struct j2_jid *jid;
	j2_xht roster;         /* struct j2_item by jid_full(item->jid) */
	struct j2_sm_sess *sessions;
	struct j2_sm_sess *top;
	int available;
	time_t active;
	void **module_data;
};

struct j2_sm_sess {
	void *p;
	struct j2_user *user;
	struct j2_jid *jid;
	char c2s[1024];
	char sm_id[41];
	char c2s_id[44];
	void *pres;
	int available;
	int pri;
	int fake;
	struct j2_jid *A;
	struct j2_jid *E;
	void **module_data;
	struct j2_sm_sess *next;
};

struct j2_pkt {
	struct j2_sm *sm;
	struct j2_sm_sess *source;
	struct j2_jid *rto;
	struct j2_jid *rfrom;
	int rtype;
	int type;              /* J2_PKT_* */
	struct j2_jid *to;
	struct j2_jid *from;
	int ns;
	int pri;
	struct j2_nad *nad;    /* element 0 <route/>, element 1 the stanza */
};

/* mod_roster's item; allocate with calloc, jid with jid_new, name and
 * groups with malloc: mod_roster frees them that way. */
struct j2_item {
	struct j2_jid *jid;
	const char *name;
	const char **groups;
	int ngroups;
	int to, from;
	int ask;               /* 0 none, 1 subscribe, 2 unsubscribe */
	int ver;
};

struct j2_mod_instance {
	struct j2_sm *sm;
	struct j2_module *mod;
	int seq;
	int chain;             /* J2_CHAIN_* */
	const char *arg;
};

struct j2_mm {
	struct j2_sm *sm;
	j2_xht modules;        /* module_t by name */
	int nindex;
	struct {
		struct j2_mod_instance **mi;
		int n;
	} chains[14];
};

typedef int j2_mod_ret;
#define J2_MOD_HANDLED 0
#define J2_MOD_PASS 1

struct j2_module {
	struct j2_mm *mm;
	const char *name;
	int index;
	void *handle;
	int (*module_init_fn)(struct j2_mod_instance *mi);
	int init;
	void *private_;
	int (*sess_start)(struct j2_mod_instance *mi, struct j2_sm_sess *sess);
	void (*sess_end)(struct j2_mod_instance *mi, struct j2_sm_sess *sess);
	j2_mod_ret (*in_sess)(struct j2_mod_instance *mi, struct j2_sm_sess *sess, struct j2_pkt *pkt);
	j2_mod_ret (*in_router)(struct j2_mod_instance *mi, struct j2_pkt *pkt);
	j2_mod_ret (*out_sess)(struct j2_mod_instance *mi, struct j2_sm_sess *sess, struct j2_pkt *pkt);
	j2_mod_ret (*out_router)(struct j2_mod_instance *mi, struct j2_pkt *pkt);
	j2_mod_ret (*pkt_sm)(struct j2_mod_instance *mi, struct j2_pkt *pkt);
	j2_mod_ret (*pkt_user)(struct j2_mod_instance *mi, struct j2_user *user, struct j2_pkt *pkt);
	j2_mod_ret (*pkt_router)(struct j2_mod_instance *mi, struct j2_pkt *pkt);
	int (*user_load)(struct j2_mod_instance *mi, struct j2_user *user);
	int (*user_unload)(struct j2_mod_instance *mi, struct j2_user *user);
	int (*user_create)(struct j2_mod_instance *mi, struct j2_jid *jid);
	void (*user_delete)(struct j2_mod_instance *mi, struct j2_jid *jid);
	void (*disco_extend)(struct j2_mod_instance *mi, struct j2_pkt *pkt);
	void (*free)(struct j2_module *mod);
};

/* chain ids (mod_chain_t order) */
enum {
	J2_CHAIN_SESS_START = 0, J2_CHAIN_SESS_END, J2_CHAIN_IN_SESS,
	J2_CHAIN_IN_ROUTER, J2_CHAIN_OUT_SESS, J2_CHAIN_OUT_ROUTER,
	J2_CHAIN_PKT_SM, J2_CHAIN_PKT_USER, J2_CHAIN_PKT_ROUTER,
	J2_CHAIN_USER_LOAD, J2_CHAIN_USER_CREATE, J2_CHAIN_USER_DELETE,
	J2_CHAIN_USER_UNLOAD, J2_CHAIN_DISCO_EXTEND
};

/* pkt types */
#define J2_PKT_PRESENCE 0x20
#define J2_PKT_S10N 0x40
#define J2_PKT_IQ 0x80
#define J2_PKT_IQ_SET 0x81
#define J2_PKT_IQ_RESULT 0x82
#define J2_PKT_ERROR 0x200

/* jabberd2's internal namespaces (util/uri.h) */
#define J2_URI_COMPONENT "http://jabberd.jabberstudio.org/ns/component/1.0"

/* storage (libstorage.so.0) */
#define J2_ST_SUCCESS 0
#define J2_OS_BOOLEAN 0
#define J2_OS_INTEGER 1
#define J2_OS_STRING 2

/* ------------------------------------------------------------------ */
/* Static assertions: the measured table of jabberd2-host.md section 2 */
/* ------------------------------------------------------------------ */

#define J2_AT(type, field, off) \
	_Static_assert(offsetof(type, field) == (off), #type "." #field " moved")
#define J2_SIZE(type, n) \
	_Static_assert(sizeof(type) == (n), "sizeof " #type " changed")

J2_SIZE(struct j2_nad_elem, 44);
J2_SIZE(struct j2_nad_attr, 24);
J2_SIZE(struct j2_nad_ns, 20);
J2_SIZE(struct j2_nad, 88);
J2_AT(struct j2_nad, cdata, 24);
J2_AT(struct j2_nad, ecur, 60);
J2_SIZE(struct j2_jid, 72);
J2_AT(struct j2_jid, node, 0);
J2_AT(struct j2_jid, domain, 8);
J2_AT(struct j2_jid, _full, 48);

J2_SIZE(struct j2_sx_env, 16);
J2_AT(struct j2_sx_env, nplugins, 8);
J2_SIZE(struct j2_sx, 272);
J2_AT(struct j2_sx, tag, 8);
J2_AT(struct j2_sx, cb, 32);
J2_AT(struct j2_sx, cb_arg, 40);
J2_AT(struct j2_sx, type, 48);
J2_AT(struct j2_sx, flags, 52);
J2_AT(struct j2_sx, req_to, 64);
J2_AT(struct j2_sx, wbufq, 152);
J2_AT(struct j2_sx, rnadq, 168);
J2_AT(struct j2_sx, state, 200);
J2_AT(struct j2_sx, expat, 208);
J2_AT(struct j2_sx, plugin_data, 232);
J2_AT(struct j2_sx, auth_id, 248);
J2_AT(struct j2_sx, ssf, 264);
J2_SIZE(struct j2_sx_plugin, 128);
J2_AT(struct j2_sx_plugin, index, 12);
J2_AT(struct j2_sx_plugin, private_, 16);
J2_AT(struct j2_sx_plugin, new_, 24);
J2_AT(struct j2_sx_plugin, free, 32);
J2_AT(struct j2_sx_plugin, server, 48);
J2_AT(struct j2_sx_plugin, stream, 96);
J2_AT(struct j2_sx_plugin, features, 104);
J2_AT(struct j2_sx_plugin, process, 112);
J2_AT(struct j2_sx_plugin, unload, 120);

J2_SIZE(struct j2_c2s, 496);
J2_AT(struct j2_c2s, sx_env, 88);
J2_AT(struct j2_c2s, server_ssl_fd, 136);
J2_AT(struct j2_c2s, config, 144);
J2_AT(struct j2_c2s, log, 152);
J2_AT(struct j2_c2s, local_pemfile, 232);
J2_AT(struct j2_c2s, ar_module_name, 352);
J2_AT(struct j2_c2s, ar, 360);
J2_AT(struct j2_c2s, ar_modules, 368);
J2_AT(struct j2_c2s, stanza_size_limit, 432);
J2_AT(struct j2_c2s, dead_sess, 456);
J2_AT(struct j2_c2s, hosts, 472);
J2_SIZE(struct j2_c2s_host, 96);
J2_AT(struct j2_c2s_host, host_require_starttls, 36);
J2_AT(struct j2_c2s_host, ar_module_name, 48);
J2_AT(struct j2_c2s_host, ar, 56);
J2_AT(struct j2_c2s_host, ar_register_enable, 64);
J2_SIZE(struct j2_bres, 144);
J2_AT(struct j2_bres, next, 136);
J2_SIZE(struct j2_c2s_sess, 256);
J2_AT(struct j2_c2s_sess, resources, 152);
J2_AT(struct j2_c2s_sess, fd, 8);
J2_AT(struct j2_c2s_sess, ip, 72);
J2_AT(struct j2_c2s_sess, s, 88);
J2_AT(struct j2_c2s_sess, host, 96);
J2_AT(struct j2_c2s_sess, active, 160);
J2_AT(struct j2_c2s_sess, sasl_authd, 176);
J2_AT(struct j2_c2s_sess, authreg_private, 248);
J2_SIZE(struct j2_authreg, 120);
J2_AT(struct j2_authreg, initialized, 8);
J2_AT(struct j2_authreg, handle, 16);
J2_AT(struct j2_authreg, private_, 24);
J2_AT(struct j2_authreg, user_exists, 32);
J2_AT(struct j2_authreg, set_password, 56);
J2_AT(struct j2_authreg, create_user, 64);
J2_AT(struct j2_authreg, free, 88);
J2_AT(struct j2_authreg, check_response, 112);

J2_SIZE(struct j2_sm, 2328);
J2_AT(struct j2_sm, users, 112);
J2_AT(struct j2_sm, config, 152);
J2_AT(struct j2_sm, log, 160);
J2_AT(struct j2_sm, st, 208);
J2_AT(struct j2_sm, mm, 216);
J2_AT(struct j2_sm, acls, 224);
J2_AT(struct j2_sm, query_rates, 2320);
J2_SIZE(struct j2_user, 72);
J2_AT(struct j2_user, jid, 16);
J2_AT(struct j2_user, roster, 24);
J2_AT(struct j2_user, sessions, 32);
J2_AT(struct j2_user, top, 40);
J2_AT(struct j2_user, module_data, 64);
J2_SIZE(struct j2_sm_sess, 1192);
J2_AT(struct j2_sm_sess, jid, 16);
J2_AT(struct j2_sm_sess, available, 1144);
J2_AT(struct j2_sm_sess, module_data, 1176);
J2_AT(struct j2_sm_sess, next, 1184);
J2_SIZE(struct j2_pkt, 72);
J2_AT(struct j2_pkt, rtype, 32);
J2_AT(struct j2_pkt, type, 36);
J2_AT(struct j2_pkt, to, 40);
J2_AT(struct j2_pkt, from, 48);
J2_AT(struct j2_pkt, nad, 64);
J2_SIZE(struct j2_item, 48);
J2_AT(struct j2_item, ngroups, 24);
J2_AT(struct j2_item, to, 28);
J2_AT(struct j2_item, from, 32);
J2_AT(struct j2_item, ask, 36);
J2_SIZE(struct j2_mod_instance, 32);
J2_AT(struct j2_mod_instance, mod, 8);
J2_AT(struct j2_mod_instance, chain, 20);
J2_AT(struct j2_mod_instance, arg, 24);
J2_SIZE(struct j2_mm, 248);
J2_AT(struct j2_mm, modules, 8);
J2_AT(struct j2_mm, chains[J2_CHAIN_PKT_SM].mi, 120);
J2_AT(struct j2_mm, chains[J2_CHAIN_PKT_USER].mi, 136);
J2_AT(struct j2_mm, chains[J2_CHAIN_PKT_USER].n, 144);
J2_AT(struct j2_mm, chains[J2_CHAIN_USER_CREATE].mi, 184);
J2_AT(struct j2_mm, chains[J2_CHAIN_DISCO_EXTEND].mi, 232);
J2_SIZE(struct j2_module, 176);
J2_AT(struct j2_module, index, 16);
J2_AT(struct j2_module, init, 40);
J2_AT(struct j2_module, private_, 48);
J2_AT(struct j2_module, pkt_sm, 104);
J2_AT(struct j2_module, pkt_user, 112);
J2_AT(struct j2_module, user_create, 144);
J2_AT(struct j2_module, user_delete, 152);
J2_AT(struct j2_module, free, 168);

#undef J2_AT
#undef J2_SIZE

/* ------------------------------------------------------------------ */
/* Functions the daemons export (bound at dlopen time)                 */
/* ------------------------------------------------------------------ */

/* util (both daemons) */
void log_write(j2_log_t log, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
const char *config_get_one(j2_config_t c, const char *key, int num);
struct j2_nad *nad_new(void);
void nad_free(struct j2_nad *nad);
struct j2_nad *nad_parse(const char *buf, int len);
void nad_print(struct j2_nad *nad, unsigned int elem, const char **xml, int *len);
int nad_find_elem(struct j2_nad *nad, unsigned int elem, int ns, const char *name, int depth);
int nad_find_attr(struct j2_nad *nad, unsigned int elem, int ns, const char *name, const char *val);
int nad_find_scoped_namespace(struct j2_nad *nad, const char *uri, const char *prefix);
int nad_add_namespace(struct j2_nad *nad, const char *uri, const char *prefix);
int nad_append_elem(struct j2_nad *nad, int ns, const char *name, int depth);
int nad_append_attr(struct j2_nad *nad, int ns, const char *name, const char *val);
void nad_append_cdata(struct j2_nad *nad, const char *cdata, int len, int depth);
struct j2_jid *jid_new(const char *id, int len);
void jid_free(struct j2_jid *jid);
const char *jid_user(struct j2_jid *jid);
const char *jid_full(struct j2_jid *jid);
struct j2_nad *stanza_error(struct j2_nad *nad, int elem, int err);
struct j2_nad *stanza_tofrom(struct j2_nad *nad, int elem);
void *xhash_get(j2_xht h, const char *key);
void xhash_put(j2_xht h, const char *key, void *val);
typedef void j2_xhash_walker(const char *key, int keylen, void *val, void *arg);
void xhash_walk(j2_xht h, j2_xhash_walker *w, void *arg);

/* c2s */
struct j2_authreg *authreg_init(struct j2_c2s *c2s, const char *name);
struct j2_sx_plugin *sx_env_plugin(struct j2_sx_env *env, j2_sx_plugin_init_fn *init, ...);
void sx_nad_write_elem(struct j2_sx *s, struct j2_nad *nad, int elem);
void sx_error(struct j2_sx *s, int err, const char *text);
void sx_close(struct j2_sx *s);

/* sm */
int aci_check(j2_xht acls, const char *type, struct j2_jid *jid);
void feature_register(struct j2_sm *sm, const char *feature);
void feature_unregister(struct j2_sm *sm, const char *feature);
struct j2_pkt *pkt_new(struct j2_sm *sm, struct j2_nad *nad);
struct j2_pkt *pkt_create(struct j2_sm *sm, const char *elem, const char *type,
                          const char *to, const char *from);
struct j2_pkt *pkt_dup(struct j2_pkt *pkt, const char *to, const char *from);
void pkt_free(struct j2_pkt *pkt);
void pkt_router(struct j2_pkt *pkt);
void pkt_sess(struct j2_pkt *pkt, struct j2_sm_sess *sess);
void pres_roster(struct j2_sm_sess *sess, struct j2_item *item);
struct j2_user *user_load(struct j2_sm *sm, struct j2_jid *jid);

/* sm storage (libstorage.so.0) */
typedef void *j2_os_t;
typedef void *j2_os_object_t;
j2_os_t os_new(void);
void os_free(j2_os_t os);
j2_os_object_t os_object_new(j2_os_t os);
void os_object_put(j2_os_object_t o, const char *key, const void *val, int type);
int os_iter_first(j2_os_t os);
int os_iter_next(j2_os_t os);
j2_os_object_t os_iter_object(j2_os_t os);
int os_object_get_str(j2_os_t os, j2_os_object_t o, const char *key, char **val);
int os_object_get_int(j2_os_t os, j2_os_object_t o, const char *key, int *val);
int os_object_get_bool(j2_os_t os, j2_os_object_t o, const char *key, int *val);
int storage_get(void *st, const char *type, const char *owner, const char *filter, j2_os_t *os);
int storage_replace(void *st, const char *type, const char *owner, const char *filter, j2_os_t os);
int storage_delete(void *st, const char *type, const char *owner, const char *filter);

#endif /* INVITES_J2ABI_H */
