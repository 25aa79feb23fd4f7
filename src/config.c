/* SPDX-License-Identifier: MIT */
/*
 * The configuration file shared by every process of a site (the server
 * modules, invitectl, the web daemon): `key = value` lines, `#` comments,
 * optional "double quotes".  Every key is declared once in keys[] below
 * with its type and default; adding a key is one line there (and one entry
 * in man/invites.conf.5).  Values are validated and converted when they
 * are read, so a bad file is refused at load with "FILE:LINE: message" and
 * nothing starts on it.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

/* Largest configurable duration: 100 years, so that now + duration can
 * never overflow anywhere. */
#define DURATION_MAX ((int64_t)100 * 365 * 86400)
/* A configuration file is small; refuse anything absurd. */
#define FILE_MAX (1024 * 1024)

enum key_type {
	KT_STRING,   /* any non-empty text */
	KT_PATH,     /* a file system path; relative: to the file's directory */
	KT_DURATION, /* invites_parse_duration() */
	KT_UNSIGNED, /* decimal, fits in unsigned */
	KT_BOOL,     /* yes/no true/false on/off 1/0 */
	KT_DOMAINS,  /* comma list of domains, nameprep'd, no duplicates */
	KT_JIDS,     /* comma list of bare user JIDs, normalised; may be empty */
	KT_LOGLEVEL, /* err warning notice info debug */
	KT_URL       /* landing page template */
};

#define KF_REQUIRED 0x1u /* must be set */
#define KF_POSITIVE 0x2u /* durations and numbers: > 0 */

struct key_def {
	const char *name;
	enum key_type type;
	unsigned flags;
	const char *dflt; /* raw default; NULL: unset */
};

static const struct key_def keys[] = {
	/* name                    type         flags        default */
	{ "store",                 KT_PATH,     KF_REQUIRED, NULL },
	{ "domains",               KT_DOMAINS,  KF_REQUIRED, NULL },
	{ "invite_expiry",         KT_DURATION, KF_POSITIVE, "7d" },
	{ "reset_expiry",          KT_DURATION, KF_POSITIVE, "1d" },
	{ "landing_url",           KT_URL,      0,           NULL },
	{ "max_invites_per_user",  KT_UNSIGNED, 0,           "0" },
	{ "purge_grace",           KT_DURATION, 0,           "30d" },
	{ "preauth_max_failures",  KT_UNSIGNED, KF_POSITIVE, "5" },
	{ "require_tls",           KT_BOOL,     0,           "yes" },
	{ "tcp_nodelay",           KT_BOOL,     0,           "yes" },
	{ "user_invites",          KT_BOOL,     0,           "yes" },
	{ "user_invites_register", KT_BOOL,     0,           "yes" },
	{ "admins",                KT_JIDS,     0,           NULL },
	{ "audit_retention",       KT_DURATION, KF_POSITIVE, "365d" },
	{ "log_level",             KT_LOGLEVEL, 0,           "notice" },
	/* operations (docs/operations.md) */
	{ "notify_inviter",        KT_BOOL,     0,           "yes" },
	{ "notify_admins",         KT_BOOL,     0,           "no" },
	{ "notify_joined",         KT_STRING,   0,           NULL },
	{ "notify_accepted",       KT_STRING,   0,           NULL },
	{ "revoke_on_delete",      KT_BOOL,     0,           "yes" },
	/* invites-web (man invites-web.8) */
	{ "web_listen",            KT_STRING,   0,           "127.0.0.1:5380" },
	{ "web_base_url",          KT_STRING,   0,           NULL },
	{ "site_name",             KT_STRING,   0,           NULL },
	{ "xmpp_server",           KT_STRING,   0,           "127.0.0.1:5222" },
	{ "xmpp_tls",              KT_STRING,   0,           "optional" },
	{ "xmpp_pool",             KT_UNSIGNED, 0,           "8" },
	{ "web_templates",         KT_PATH,     0,           NULL },
	{ "web_apps",              KT_PATH,     0,           NULL },
	{ "web_js_dir",            KT_PATH,     0,           "/usr/share/javascript" },
	{ "web_max_failures",      KT_UNSIGNED, 0,           "10" },
	{ "web_failure_window",    KT_DURATION, KF_POSITIVE, "10m" },
	{ "web_min_password",      KT_UNSIGNED, 0,           "8" },
	{ "web_register_timeout",  KT_DURATION, KF_POSITIVE, "10s" },
	{ "web_real_ip_header",    KT_STRING,   0,           NULL },
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

/* One key's value: raw text (as given, paths resolved) and its parsed
 * form.  raw == NULL: unset (and no default). */
struct value {
	char *raw;
	int64_t num;  /* duration, unsigned, bool, log level */
	char **list;  /* domains, JIDs */
	size_t n;
};

struct invites_config {
	struct value val[N_KEYS];
};

static const struct {
	const char *name;
	int level;
} log_levels[] = {
	{ "err", INVITES_LOG_ERR },
	{ "warning", INVITES_LOG_WARNING },
	{ "notice", INVITES_LOG_NOTICE },
	{ "info", INVITES_LOG_INFO },
	{ "debug", INVITES_LOG_DEBUG },
};

static const char *const placeholders[] = {
	"host", "token", "uri", "uri-noscheme"
};

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static int
key_index(const char *name)
{
	size_t i;

	for (i = 0; i < N_KEYS; i++) {
		if (strcmp(keys[i].name, name) == 0)
			return (int)i;
	}
	return -1;
}

static void
value_clear(struct value *v)
{
	free(v->raw);
	invites_strv_free(v->list, v->n);
	memset(v, 0, sizeof(*v));
}

/* A value quoted for a message: controls escaped, long values cut. */
static char *
show(const char *s)
{
	struct inv__buf b;
	size_t i;

	inv__buf_init(&b);
	inv__buf_puts(&b, "'");
	for (i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i == 60) {
			inv__buf_puts(&b, "...");
			break;
		}
		if (c < 0x20 || c == 0x7f)
			inv__buf_printf(&b, "\\x%02X", c);
		else
			inv__buf_append(&b, &c, 1);
	}
	inv__buf_puts(&b, "'");
	return inv__buf_steal(&b);
}

/* *why = before + show(arg) + after (arg may be NULL).  Returns ECONFIG,
 * or ENOMEM when even the message cannot be made. */
static int
fail(char **why, const char *before, const char *arg, const char *after)
{
	char *shown = NULL;

	if (arg != NULL) {
		shown = show(arg);
		if (shown == NULL)
			return INVITES_ENOMEM;
	}
	*why = inv__asprintf("%s%s%s", before, shown ? shown : "", after);
	free(shown);
	return *why ? INVITES_ECONFIG : INVITES_ENOMEM;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* ------------------------------------------------------------------ */
/* Value parsers                                                       */
/* ------------------------------------------------------------------ */

int
invites_parse_duration(const char *s, int64_t *seconds_r)
{
	int64_t v = 0, mult;
	const char *p = s;

	if (s == NULL || seconds_r == NULL)
		return INVITES_EINVAL;
	if (*p < '0' || *p > '9')
		return INVITES_EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		int d = *p - '0';

		if (v > (INT64_MAX - d) / 10)
			return INVITES_EINVAL;
		v = v * 10 + d;
	}
	switch (*p) {
	case '\0': mult = 1; break;
	case 's': mult = 1; p++; break;
	case 'm': mult = 60; p++; break;
	case 'h': mult = 3600; p++; break;
	case 'd': mult = 86400; p++; break;
	case 'w': mult = 7 * 86400; p++; break;
	default: return INVITES_EINVAL;
	}
	if (*p != '\0')
		return INVITES_EINVAL;
	if (v > INT64_MAX / mult)
		return INVITES_EINVAL;
	*seconds_r = v * mult;
	return INVITES_OK;
}

static int
parse_unsigned(const char *s, unsigned *r)
{
	unsigned long long v = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (unsigned)(*s - '0');
		if (v > UINT_MAX)
			return -1;
	}
	if (*s != '\0')
		return -1;
	*r = (unsigned)v;
	return 0;
}

static int
parse_bool(const char *s, int *r)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*r = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*r = 0;
			return 0;
		}
	}
	return -1;
}

/* Validate a landing page template. */
static int
check_landing(const char *t, char **why)
{
	const char *host, *p, *close;
	int carries_token = 0;
	size_t i, n;

	if (strncasecmp(t, "https://", 8) == 0)
		host = t + 8;
	else if (strncasecmp(t, "http://", 7) == 0)
		host = t + 7;
	else
		return fail(why, "must start with https:// or http://, not ", t, "");
	if (*host == '\0' || *host == '/' || *host == '?' || *host == '#')
		return fail(why, "", t, " has no host");
	for (p = t; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return fail(why, "", t,
			            " contains a space or control character");
	}
	for (p = t; (p = strchr(p, '{')) != NULL; p = close + 1) {
		close = strchr(p + 1, '}');
		n = close ? (size_t)(close - p - 1) : 0;
		if (close == NULL || memchr(p + 1, '{', n) != NULL)
			return fail(why, "unclosed '{' in ", t, "");
		for (i = 0; i < sizeof(placeholders) / sizeof(placeholders[0]); i++) {
			if (strlen(placeholders[i]) == n &&
			    memcmp(placeholders[i], p + 1, n) == 0)
				break;
		}
		if (i == sizeof(placeholders) / sizeof(placeholders[0])) {
			char *name = inv__strndup(p, n + 2);
			int rc;

			if (name == NULL)
				return INVITES_ENOMEM;
			rc = fail(why, "unknown placeholder ", name, " (use {host}, "
			          "{token}, {uri} or {uri-noscheme})");
			free(name);
			return rc;
		}
		if (i > 0)
			carries_token = 1;
	}
	if (!carries_token)
		return fail(why, "", t,
		            " holds no {token}, {uri} or {uri-noscheme}");
	return INVITES_OK;
}

/* Split a comma list into normalised entries (domains or bare JIDs). */
static int
parse_list(const char *raw, enum key_type type, struct value *v, char **why)
{
	const char *p = raw, *e, *s;
	char item[INVITES_JID_MAX + 1], norm[INVITES_JID_MAX + 1];
	size_t i, n;

	while (is_space(*p))
		p++;
	if (*p == '\0')
		return type == KT_DOMAINS ? fail(why, "no domains given", NULL, "")
		                          : INVITES_OK;
	for (;;) {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		s = p;
		while (s < e && is_space(*s))
			s++;
		n = (size_t)(e - s);
		while (n > 0 && is_space(s[n - 1]))
			n--;
		if (n == 0)
			return fail(why, "empty entry in the list ", raw, "");
		if (n > INVITES_JID_MAX) {
			memcpy(item, s, 40);
			item[40] = '\0';
			return fail(why, "entry too long: ", item, "");
		}
		memcpy(item, s, n);
		item[n] = '\0';

		if (type == KT_DOMAINS) {
			if (invites_nameprep(item, norm, sizeof(norm)) != 0)
				return fail(why, "invalid domain ", item, "");
		} else {
			if (strchr(item, '/') != NULL)
				return fail(why, "", item, " is not a bare JID");
			if (strchr(item, '@') == NULL)
				return fail(why, "", item,
				            " is not a user JID (local@domain)");
			if (invites_jid_bare(item, norm, sizeof(norm)) != 0)
				return fail(why, "invalid JID ", item, "");
		}
		for (i = 0; i < v->n; i++) {
			if (strcmp(v->list[i], norm) == 0)
				return fail(why, "duplicate entry ", item, "");
		}
		{
			char **nl = inv__realloc(v->list, (v->n + 2) * sizeof(*nl));

			if (nl == NULL)
				return INVITES_ENOMEM;
			v->list = nl;
			v->list[v->n] = inv__strdup(norm);
			if (v->list[v->n] == NULL)
				return INVITES_ENOMEM;
			v->n++;
			v->list[v->n] = NULL;
		}
		if (*e == '\0')
			break;
		p = e + 1;
	}
	return INVITES_OK;
}

/*
 * Parse raw for key k into v (cleared first; on failure v may hold a
 * partial value the caller clears).  basedir resolves relative paths
 * (NULL: keep them).  Returns 0, ECONFIG with *why, or ENOMEM.
 */
static int
parse_value(const struct key_def *k, const char *raw, const char *basedir,
            struct value *v, char **why)
{
	unsigned u;
	int b;
	size_t i;

	memset(v, 0, sizeof(*v));
	*why = NULL;
	if (*raw == '\0' && k->type != KT_JIDS)
		return fail(why, "empty value", NULL, "");

	switch (k->type) {
	case KT_STRING:
		break;
	case KT_PATH:
		/* a store may be a PostgreSQL URI: not a path */
		if (strncmp(raw, "postgresql://", 13) == 0 ||
		    strncmp(raw, "postgres://", 11) == 0)
			break;
		if (strncmp(raw, "bdb:", 4) == 0 && raw[4] != '/' &&
		    raw[4] != '\0' && basedir != NULL) {
			v->raw = inv__asprintf("bdb:%s/%s", basedir, raw + 4);
			return v->raw != NULL ? INVITES_OK : INVITES_ENOMEM;
		}
		if (raw[0] != '/' && strncmp(raw, "bdb:", 4) != 0 &&
		    basedir != NULL) {
			v->raw = inv__asprintf("%s/%s", basedir, raw);
			if (v->raw == NULL)
				return INVITES_ENOMEM;
			return INVITES_OK;
		}
		break;
	case KT_DURATION:
		if (invites_parse_duration(raw, &v->num) != 0)
			return fail(why, "invalid duration ", raw, " (seconds, or a "
			            "number followed by s, m, h, d or w)");
		if ((k->flags & KF_POSITIVE) && v->num == 0)
			return fail(why, "must be longer than 0", NULL, "");
		if (v->num > DURATION_MAX)
			return fail(why, "", raw, " is longer than 100 years");
		break;
	case KT_UNSIGNED:
		if (parse_unsigned(raw, &u) != 0)
			return fail(why, "invalid number ", raw, " (0 to 4294967295)");
		if ((k->flags & KF_POSITIVE) && u == 0)
			return fail(why, "must be at least 1", NULL, "");
		v->num = u;
		break;
	case KT_BOOL:
		if (parse_bool(raw, &b) != 0)
			return fail(why, "invalid boolean ", raw, " (yes or no, true "
			            "or false, on or off, 1 or 0)");
		v->num = b;
		break;
	case KT_LOGLEVEL:
		for (i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++) {
			if (strcasecmp(raw, log_levels[i].name) == 0)
				break;
		}
		if (i == sizeof(log_levels) / sizeof(log_levels[0]))
			return fail(why, "invalid log level ", raw, " (err, warning, "
			            "notice, info or debug)");
		v->num = log_levels[i].level;
		break;
	case KT_DOMAINS:
	case KT_JIDS:
		{
			int rc = parse_list(raw, k->type, v, why);

			if (rc != INVITES_OK)
				return rc;
		}
		break;
	case KT_URL:
		{
			int rc = check_landing(raw, why);

			if (rc != INVITES_OK)
				return rc;
		}
		break;
	}
	v->raw = inv__strdup(raw);
	return v->raw ? INVITES_OK : INVITES_ENOMEM;
}

/*
 * Set key number idx from raw.  where: "FILE:LINE" or NULL (invites_
 * config_set).  On failure cfg is unchanged and *errmsg_r (when given)
 * holds "WHERE: KEY: why".
 */
static int
set_value(struct invites_config *cfg, size_t idx, const char *raw,
          const char *basedir, const char *where, char **errmsg_r)
{
	struct value v;
	char *why = NULL;
	int rc;

	rc = parse_value(&keys[idx], raw, basedir, &v, &why);
	if (rc != INVITES_OK) {
		value_clear(&v);
		if (rc == INVITES_ECONFIG && errmsg_r != NULL) {
			if (where != NULL)
				*errmsg_r = inv__asprintf("%s: %s: %s", where,
				                          keys[idx].name, why);
			else
				*errmsg_r = inv__asprintf("%s: %s", keys[idx].name, why);
			if (*errmsg_r == NULL)
				rc = INVITES_ENOMEM;
		}
		free(why);
		return rc;
	}
	value_clear(&cfg->val[idx]);
	cfg->val[idx] = v;
	return INVITES_OK;
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                          */
/* ------------------------------------------------------------------ */

/* A config holding every default. */
static int
config_defaults(struct invites_config **cfg_r)
{
	struct invites_config *cfg;
	size_t i;
	int rc;

	cfg = inv__calloc(1, sizeof(*cfg));
	if (cfg == NULL)
		return INVITES_ENOMEM;
	for (i = 0; i < N_KEYS; i++) {
		if (keys[i].dflt == NULL)
			continue;
		rc = set_value(cfg, i, keys[i].dflt, NULL, NULL, NULL);
		if (rc != INVITES_OK) {
			/* ENOMEM (defaults are valid; test_config checks) */
			invites_config_free(&cfg);
			return rc == INVITES_ECONFIG ? INVITES_EINTERNAL : rc;
		}
	}
	*cfg_r = cfg;
	return INVITES_OK;
}

void
invites_config_free(struct invites_config **cfg)
{
	size_t i;

	if (cfg == NULL || *cfg == NULL)
		return;
	for (i = 0; i < N_KEYS; i++)
		value_clear(&(*cfg)->val[i]);
	free(*cfg);
	*cfg = NULL;
}

int
invites_config_new(const char *store_path, struct invites_config **cfg_r)
{
	struct invites_config *cfg;
	int rc;

	if (cfg_r == NULL)
		return INVITES_EINVAL;
	*cfg_r = NULL;
	if (store_path == NULL || *store_path == '\0')
		return INVITES_EINVAL;
	rc = config_defaults(&cfg);
	if (rc != INVITES_OK)
		return rc;
	rc = set_value(cfg, (size_t)key_index("store"), store_path, NULL, NULL,
	               NULL);
	if (rc != INVITES_OK) {
		invites_config_free(&cfg);
		return rc;
	}
	*cfg_r = cfg;
	return INVITES_OK;
}

int
invites_config_set(struct invites_config *cfg, const char *key,
                   const char *value, char **errmsg_r)
{
	int idx;

	if (errmsg_r != NULL)
		*errmsg_r = NULL;
	if (cfg == NULL || key == NULL || value == NULL)
		return INVITES_EINVAL;
	idx = key_index(key);
	if (idx < 0) {
		if (errmsg_r != NULL) {
			int rc = fail(errmsg_r, "unknown key ", key, "");

			return rc;
		}
		return INVITES_ECONFIG;
	}
	return set_value(cfg, (size_t)idx, value, NULL, NULL, errmsg_r);
}

const char *
invites_config_default_path(void)
{
	const char *env = getenv("INVITES_CONFIG");

	if (env != NULL && *env != '\0')
		return env;
	return SYSCONFDIR "/invites.conf";
}

/* ------------------------------------------------------------------ */
/* Loading a file                                                      */
/* ------------------------------------------------------------------ */

/* Read path into a NUL-terminated buffer (*len_r bytes). */
static int
read_file(const char *path, char **text_r, size_t *len_r, char **errmsg_r)
{
	struct inv__buf b;
	char chunk[4096];
	size_t n;
	FILE *f;
	int err;

	*text_r = NULL;
	f = fopen(path, "r");
	if (f == NULL) {
		err = errno;
		if (errmsg_r != NULL) {
			*errmsg_r = inv__asprintf("%s: cannot open: %s", path,
			                          strerror(err));
			if (*errmsg_r == NULL)
				return INVITES_ENOMEM;
		}
		return INVITES_ECONFIG;
	}
	inv__buf_init(&b);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		inv__buf_append(&b, chunk, n);
		if (b.len > FILE_MAX)
			break;
	}
	err = ferror(f) ? errno : 0;
	fclose(f);
	if (b.oom) {
		inv__buf_free(&b);
		return INVITES_ENOMEM;
	}
	if (err != 0 || b.len > FILE_MAX) {
		inv__buf_free(&b);
		if (errmsg_r != NULL) {
			if (err != 0)
				*errmsg_r = inv__asprintf("%s: cannot read: %s", path,
				                          strerror(err));
			else
				*errmsg_r = inv__asprintf("%s: larger than %d bytes",
				                          path, FILE_MAX);
			if (*errmsg_r == NULL)
				return INVITES_ENOMEM;
		}
		return INVITES_ECONFIG;
	}
	*len_r = b.len;
	*text_r = inv__buf_steal(&b);
	return *text_r ? INVITES_OK : INVITES_ENOMEM;
}

/*
 * Split one line (NUL-terminated, modified in place) into key and value.
 * Returns 1 with *key_r and *value_r set, 0 for a blank or comment line, or -1
 * with *why (a static message).
 */
static int
split_line(char *line, char **key_r, char **value_r, const char **why)
{
	char *p = line, *key, *val, *o;
	size_t n;

	while (is_space(*p))
		p++;
	if (*p == '\0' || *p == '#')
		return 0;
	key = p;
	while (*p != '\0' && *p != '=' && !is_space(*p))
		p++;
	n = (size_t)(p - key);
	while (is_space(*p))
		p++;
	if (*p != '=' || n == 0) {
		*why = "expected 'key = value'";
		return -1;
	}
	key[n] = '\0';
	p++;
	while (is_space(*p))
		p++;

	if (*p == '"') {
		/* "quoted": keeps spaces and #; \" and \\ are escapes */
		val = o = ++p;
		for (;;) {
			if (*p == '\0') {
				*why = "unterminated quoted value";
				return -1;
			}
			if (*p == '"')
				break;
			if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
				p++;
			*o++ = *p++;
		}
		p++;
		*o = '\0';
		while (is_space(*p))
			p++;
		if (*p != '\0' && *p != '#') {
			*why = "text after the closing quote";
			return -1;
		}
	} else {
		/* a # at the start or after white space begins a comment */
		val = p;
		for (o = p; *o != '\0'; o++) {
			if (*o == '#' && (o == val || is_space(o[-1]))) {
				*o = '\0';
				break;
			}
		}
		n = strlen(val);
		while (n > 0 && is_space(val[n - 1]))
			n--;
		val[n] = '\0';
	}
	*key_r = key;
	*value_r = val;
	return 1;
}

int
invites_config_load(const char *path, struct invites_config **cfg_r,
                    char **errmsg_r)
{
	struct invites_config *cfg = NULL;
	char *text = NULL, *line, *next, *basedir = NULL, *where = NULL;
	const char *slash, *why;
	char *key, *val;
	int first_line[N_KEYS] = { 0 };
	size_t len, i;
	int lineno = 0, rc, idx;

	if (errmsg_r != NULL)
		*errmsg_r = NULL;
	if (cfg_r == NULL)
		return INVITES_EINVAL;
	*cfg_r = NULL;
	if (path == NULL)
		return INVITES_EINVAL;

	rc = read_file(path, &text, &len, errmsg_r);
	if (rc != INVITES_OK)
		return rc;
	rc = config_defaults(&cfg);
	if (rc != INVITES_OK)
		goto out;
	slash = strrchr(path, '/');
	if (slash != NULL) {
		basedir = inv__strndup(path, slash == path ? 1 : (size_t)(slash - path));
		if (basedir == NULL) {
			rc = INVITES_ENOMEM;
			goto out;
		}
		if (strcmp(basedir, "/") == 0)
			basedir[0] = '\0'; /* "/" + "/" + value: keep one slash */
	}

	line = text;
	if (len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0)
		line += 3; /* UTF-8 byte order mark */
	for (; line != NULL && line < text + len; line = next) {
		lineno++;
		next = memchr(line, '\n', (size_t)(text + len - line));
		if (next != NULL)
			*next++ = '\0';
		if (strlen(line) != (size_t)((next ? next - 1 : text + len) - line)) {
			why = "NUL byte in line";
			goto syntax;
		}
		rc = split_line(line, &key, &val, &why);
		if (rc == 0)
			continue;
		if (rc < 0)
			goto syntax;
		idx = key_index(key);
		free(where);
		where = inv__asprintf("%s:%d", path, lineno);
		if (where == NULL) {
			rc = INVITES_ENOMEM;
			goto out;
		}
		if (idx < 0) {
			char *shown = show(key);

			rc = INVITES_ENOMEM;
			if (shown != NULL && errmsg_r != NULL) {
				*errmsg_r = inv__asprintf("%s: unknown key %s", where,
				                          shown);
				if (*errmsg_r != NULL)
					rc = INVITES_ECONFIG;
			} else if (shown != NULL) {
				rc = INVITES_ECONFIG;
			}
			free(shown);
			goto out;
		}
		if (first_line[idx] != 0) {
			rc = INVITES_ECONFIG;
			if (errmsg_r != NULL) {
				*errmsg_r = inv__asprintf("%s: duplicate key '%s' (first "
				                          "set on line %d)", where, key,
				                          first_line[idx]);
				if (*errmsg_r == NULL)
					rc = INVITES_ENOMEM;
			}
			goto out;
		}
		first_line[idx] = lineno;
		rc = set_value(cfg, (size_t)idx, val, basedir, where, errmsg_r);
		if (rc != INVITES_OK)
			goto out;
	}

	for (i = 0; i < N_KEYS; i++) {
		if ((keys[i].flags & KF_REQUIRED) && cfg->val[i].raw == NULL) {
			rc = INVITES_ECONFIG;
			if (errmsg_r != NULL) {
				*errmsg_r = inv__asprintf("%s: missing required key '%s'",
				                          path, keys[i].name);
				if (*errmsg_r == NULL)
					rc = INVITES_ENOMEM;
			}
			goto out;
		}
	}
	rc = INVITES_OK;
	*cfg_r = cfg;
	cfg = NULL;
	goto out;

syntax:
	rc = INVITES_ECONFIG;
	if (errmsg_r != NULL) {
		*errmsg_r = inv__asprintf("%s:%d: %s", path, lineno, why);
		if (*errmsg_r == NULL)
			rc = INVITES_ENOMEM;
	}
out:
	if (rc == INVITES_ENOMEM && errmsg_r != NULL) {
		free(*errmsg_r);
		*errmsg_r = NULL;
	}
	invites_config_free(&cfg);
	free(where);
	free(basedir);
	free(text);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Accessors                                                           */
/* ------------------------------------------------------------------ */

static const struct value *
val_of(const struct invites_config *cfg, const char *key)
{
	int idx;

	if (cfg == NULL || key == NULL)
		return NULL;
	idx = key_index(key);
	return idx < 0 ? NULL : &cfg->val[idx];
}

const char *
invites_config_get(const struct invites_config *cfg, const char *key)
{
	const struct value *v = val_of(cfg, key);

	return v ? v->raw : NULL;
}

const char *
invites_config_store(const struct invites_config *cfg)
{
	return invites_config_get(cfg, "store");
}

size_t
invites_config_domain_count(const struct invites_config *cfg)
{
	const struct value *v = val_of(cfg, "domains");

	return v ? v->n : 0;
}

const char *
invites_config_domain(const struct invites_config *cfg, size_t i)
{
	const struct value *v = val_of(cfg, "domains");

	return v && i < v->n ? v->list[i] : NULL;
}

int
invites_config_serves(const struct invites_config *cfg, const char *domain)
{
	const struct value *v = val_of(cfg, "domains");
	size_t i;

	if (v == NULL || domain == NULL)
		return 0;
	for (i = 0; i < v->n; i++) {
		if (strcmp(v->list[i], domain) == 0)
			return 1;
	}
	return 0;
}

int64_t
invites_config_expiry(const struct invites_config *cfg)
{
	const struct value *v = val_of(cfg, "invite_expiry");

	return v ? v->num : 0;
}

int64_t
invites_config_reset_expiry(const struct invites_config *cfg)
{
	const struct value *v = val_of(cfg, "reset_expiry");

	return v ? v->num : 0;
}

const char *
invites_config_landing_url(const struct invites_config *cfg)
{
	return invites_config_get(cfg, "landing_url");
}

unsigned
invites_config_max_invites_per_user(const struct invites_config *cfg)
{
	const struct value *v = val_of(cfg, "max_invites_per_user");

	return v ? (unsigned)v->num : 0;
}

/* The value of key when it has type t (or t2); NULL otherwise. */
static const struct value *
typed(const struct invites_config *cfg, const char *key, enum key_type t,
      enum key_type t2)
{
	int idx;

	if (cfg == NULL || key == NULL)
		return NULL;
	idx = key_index(key);
	if (idx < 0 || (keys[idx].type != t && keys[idx].type != t2))
		return NULL;
	return &cfg->val[idx];
}

int
invites_config_get_bool(const struct invites_config *cfg, const char *key,
                        int *value_r)
{
	const struct value *v = typed(cfg, key, KT_BOOL, KT_BOOL);

	if (v == NULL || value_r == NULL)
		return INVITES_EINVAL;
	if (v->raw == NULL)
		return INVITES_ENOTFOUND;
	*value_r = (int)v->num;
	return INVITES_OK;
}

int
invites_config_get_duration(const struct invites_config *cfg, const char *key,
                            int64_t *value_r)
{
	const struct value *v = typed(cfg, key, KT_DURATION, KT_DURATION);

	if (v == NULL || value_r == NULL)
		return INVITES_EINVAL;
	if (v->raw == NULL)
		return INVITES_ENOTFOUND;
	*value_r = v->num;
	return INVITES_OK;
}

int
invites_config_get_unsigned(const struct invites_config *cfg, const char *key,
                            unsigned *value_r)
{
	const struct value *v = typed(cfg, key, KT_UNSIGNED, KT_LOGLEVEL);

	if (v == NULL || value_r == NULL)
		return INVITES_EINVAL;
	if (v->raw == NULL)
		return INVITES_ENOTFOUND;
	*value_r = (unsigned)v->num;
	return INVITES_OK;
}

int
invites_config_get_list(const struct invites_config *cfg, const char *key,
                        const char *const **list_r, size_t *n_r)
{
	static const char *const empty[] = { NULL };
	const struct value *v = typed(cfg, key, KT_DOMAINS, KT_JIDS);

	if (v == NULL || list_r == NULL || n_r == NULL)
		return INVITES_EINVAL;
	*list_r = v->list ? (const char *const *)v->list : empty;
	*n_r = v->n;
	return INVITES_OK;
}
