/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of src/config.c: defaults, every key type through
 * invites_config_set, durations, the default path, loading files (syntax,
 * quoting, comments, each kind of mistake reported with the right line),
 * the example files in tests/data/conf, and allocation failures.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "tap.h"

static char tmpdir[256];
static char conf_path[300];

static void
write_conf(const char *text, size_t len)
{
	FILE *f = fopen(conf_path, "wb");

	if (f == NULL || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
		diag("cannot write %s", conf_path);
		exit(99);
	}
}

/* Load text from a file; returns rc, and the message in *msg_r. */
static int
load_text(const char *text, struct invites_config **cfg_r, char **msg_r)
{
	write_conf(text, strlen(text));
	return invites_config_load(conf_path, cfg_r, msg_r);
}

/* A file with text must fail with ECONFIG and exactly PATH + suffix. */
static void
load_bad(const char *text, const char *suffix, const char *name)
{
	struct invites_config *cfg = NULL;
	char *msg = NULL, want[1024];
	int rc;

	rc = load_text(text, &cfg, &msg);
	snprintf(want, sizeof(want), "%s%s", conf_path, suffix);
	if (!ok(rc == INVITES_ECONFIG && cfg == NULL && msg != NULL &&
	        strcmp(msg, want) == 0, "%s", name))
		diag("  rc %d, message '%s', want '%s'", rc, msg ? msg : "(null)",
		     want);
	invites_free(msg);
	invites_config_free(&cfg);
}

static struct invites_config *
load_good(const char *text, const char *name)
{
	struct invites_config *cfg = NULL;
	char *msg = NULL;
	int rc;

	rc = load_text(text, &cfg, &msg);
	if (!ok(rc == 0 && cfg != NULL && msg == NULL, "%s", name))
		diag("  rc %d, message '%s'", rc, msg ? msg : "(null)");
	invites_free(msg);
	return cfg;
}

static void
test_duration(void)
{
	static const struct {
		const char *s;
		long long want; /* -1: EINVAL */
	} cases[] = {
		{ "3600", 3600 }, { "0", 0 }, { "30s", 30 }, { "15m", 900 },
		{ "36h", 129600 }, { "7d", 604800 }, { "2w", 1209600 },
		{ "007", 7 }, { "9223372036854775807", 9223372036854775807LL },
		{ "9223372036854775807s", 9223372036854775807LL },
		{ "9223372036854775808", -1 }, { "99999999999999999999", -1 },
		{ "153722867280912931m", -1 }, { "106751991167301d", -1 },
		{ "106751991167300d", 106751991167300LL * 86400 },
		{ "", -1 }, { "-1", -1 }, { "+5", -1 }, { " 5", -1 }, { "5 ", -1 },
		{ "5x", -1 }, { "5ss", -1 }, { "5D", -1 }, { "s", -1 },
		{ "1.5h", -1 }, { "0x10", -1 }, { "5d2h", -1 }, { "5\n", -1 },
	};
	size_t i;
	int64_t v;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;

		v = -42;
		rc = invites_parse_duration(cases[i].s, &v);
		if (cases[i].want < 0) {
			ok(rc == INVITES_EINVAL && v == -42, "duration '%s' refused",
			   cases[i].s);
		} else {
			ok(rc == 0 && v == cases[i].want, "duration '%s' = %lld",
			   cases[i].s, cases[i].want);
		}
	}
	is_int(invites_parse_duration(NULL, &v), INVITES_EINVAL, "duration NULL");
	is_int(invites_parse_duration("5", NULL), INVITES_EINVAL,
	       "duration NULL out");
}

static void
test_defaults(void)
{
	struct invites_config *cfg = NULL;
	const char *const *list;
	size_t n;
	int64_t d;
	unsigned u;
	int b;

	is_int(invites_config_new(NULL, &cfg), INVITES_EINVAL, "new(NULL)");
	is_int(invites_config_new("", &cfg), INVITES_EINVAL, "new(\"\")");
	is_int(invites_config_new("/x", NULL), INVITES_EINVAL, "new(, NULL)");
	is_int(invites_config_new("/var/lib/invites", &cfg), 0, "new");
	is_str(invites_config_store(cfg), "/var/lib/invites", "store");
	is_str(invites_config_get(cfg, "store"), "/var/lib/invites", "get store");
	is_int(invites_config_domain_count(cfg), 0, "no domains");
	ok(invites_config_domain(cfg, 0) == NULL, "domain(0) is NULL");
	ok(invites_config_get(cfg, "domains") == NULL, "get domains unset");
	ok(!invites_config_serves(cfg, "example.com"), "serves nothing");
	is_int(invites_config_expiry(cfg), 7 * 86400, "invite_expiry 7d");
	is_int(invites_config_reset_expiry(cfg), 86400, "reset_expiry 1d");
	ok(invites_config_landing_url(cfg) == NULL, "no landing_url");
	is_int(invites_config_max_invites_per_user(cfg), 0, "unlimited");
	is_str(invites_config_get(cfg, "invite_expiry"), "7d", "raw default");
	is_str(invites_config_get(cfg, "purge_grace"), "30d", "purge_grace raw");
	is_str(invites_config_get(cfg, "preauth_max_failures"), "5",
	       "preauth_max_failures raw");
	is_str(invites_config_get(cfg, "require_tls"), "yes", "require_tls raw");
	is_str(invites_config_get(cfg, "tcp_nodelay"), "yes", "tcp_nodelay raw");
	is_str(invites_config_get(cfg, "user_invites"), "yes", "user_invites raw");
	is_str(invites_config_get(cfg, "user_invites_register"), "yes",
	       "user_invites_register raw");
	ok(invites_config_get(cfg, "admins") == NULL, "admins unset");
	is_str(invites_config_get(cfg, "audit_retention"), "365d",
	       "audit_retention raw");
	is_str(invites_config_get(cfg, "log_level"), "notice", "log_level raw");
	ok(invites_config_get(cfg, "nosuchkey") == NULL, "unknown key: NULL");
	ok(invites_config_get(cfg, NULL) == NULL, "NULL key: NULL");
	ok(invites_config_get(NULL, "store") == NULL, "NULL cfg: NULL");

	is_int(invites_config_get_duration(cfg, "purge_grace", &d), 0,
	       "typed purge_grace");
	is_int(d, 30 * 86400, "purge_grace 30d");
	is_int(invites_config_get_duration(cfg, "audit_retention", &d), 0,
	       "typed audit_retention");
	is_int(d, 365 * 86400, "audit_retention 365d");
	is_int(invites_config_get_unsigned(cfg, "preauth_max_failures", &u), 0,
	       "typed preauth_max_failures");
	is_int(u, 5, "preauth_max_failures 5");
	is_int(invites_config_get_unsigned(cfg, "log_level", &u), 0,
	       "typed log_level");
	is_int(u, INVITES_LOG_NOTICE, "log_level notice");
	is_int(invites_config_get_bool(cfg, "require_tls", &b), 0, "typed bool");
	is_int(b, 1, "require_tls yes");
	is_int(invites_config_get_list(cfg, "admins", &list, &n), 0,
	       "typed admins");
	ok(n == 0 && list != NULL && list[0] == NULL, "admins empty");
	is_int(invites_config_get_bool(cfg, "store", &b), INVITES_EINVAL,
	       "typed: wrong type");
	is_int(invites_config_get_bool(cfg, "nope", &b), INVITES_EINVAL,
	       "typed: unknown key");
	is_int(invites_config_get_duration(cfg, "require_tls", &d),
	       INVITES_EINVAL, "typed duration: wrong type");
	is_int(invites_config_get_unsigned(cfg, "purge_grace", &u),
	       INVITES_EINVAL, "typed unsigned: wrong type");
	is_int(invites_config_get_list(cfg, "store", &list, &n), INVITES_EINVAL,
	       "typed list: wrong type");
	is_int(invites_config_get_bool(NULL, "require_tls", &b), INVITES_EINVAL,
	       "typed: NULL cfg");
	is_int(invites_config_get_bool(cfg, "require_tls", NULL), INVITES_EINVAL,
	       "typed: NULL out");

	invites_config_free(&cfg);
	ok(cfg == NULL, "free sets NULL");
	invites_config_free(&cfg);
	invites_config_free(NULL);

	/* accessors on NULL */
	ok(invites_config_store(NULL) == NULL, "store(NULL)");
	is_int(invites_config_domain_count(NULL), 0, "domain_count(NULL)");
	is_int(invites_config_expiry(NULL), 0, "expiry(NULL)");
	is_int(invites_config_reset_expiry(NULL), 0, "reset_expiry(NULL)");
	is_int(invites_config_max_invites_per_user(NULL), 0, "max(NULL)");
	ok(!invites_config_serves(NULL, "x"), "serves(NULL)");
}

/* invites_config_set(key, value) must fail with exactly msg. */
static void
set_bad(struct invites_config *cfg, const char *key, const char *value,
        const char *msg)
{
	char *m = NULL;
	int rc = invites_config_set(cfg, key, value, &m);

	if (!ok(rc == INVITES_ECONFIG && m != NULL && strcmp(m, msg) == 0,
	        "set %s = '%s' refused", key, value))
		diag("  rc %d, message '%s', want '%s'", rc, m ? m : "(null)", msg);
	invites_free(m);
}

static void
set_good(struct invites_config *cfg, const char *key, const char *value)
{
	char *m = (char *)"junk";
	int rc = invites_config_set(cfg, key, value, &m);

	if (!ok(rc == 0 && m == NULL, "set %s = '%s'", key, value))
		diag("  rc %d, message '%s'", rc, m ? m : "(null)");
}

static void
test_set(void)
{
	struct invites_config *cfg = NULL;
	const char *const *list;
	size_t n;
	unsigned u;
	int b;
	int64_t d;

	invites_config_new("/s", &cfg);

	/* domains */
	set_good(cfg, "domains", "Example.COM , \xc3\x84\xc3\x96.example,b.org.");
	is_int(invites_config_domain_count(cfg), 3, "3 domains");
	is_str(invites_config_domain(cfg, 0), "example.com", "domain 0 normalised");
	is_str(invites_config_domain(cfg, 1), "\xc3\xa4\xc3\xb6.example",
	       "domain 1 normalised");
	is_str(invites_config_domain(cfg, 2), "b.org", "domain 2 final dot");
	ok(invites_config_domain(cfg, 3) == NULL, "domain 3 is NULL");
	ok(invites_config_serves(cfg, "b.org"), "serves b.org");
	ok(!invites_config_serves(cfg, "B.org"), "serves wants normalised input");
	ok(!invites_config_serves(cfg, NULL), "serves NULL");
	is_str(invites_config_get(cfg, "domains"),
	       "Example.COM , \xc3\x84\xc3\x96.example,b.org.", "domains raw");
	is_int(invites_config_get_list(cfg, "domains", &list, &n), 0,
	       "domains as list");
	ok(n == 3 && strcmp(list[2], "b.org") == 0 && list[3] == NULL,
	   "list form");
	set_bad(cfg, "domains", "a.org, A.org",
	        "domains: duplicate entry 'A.org'");
	is_int(invites_config_domain_count(cfg), 3, "failed set keeps the value");
	set_bad(cfg, "domains", "a.org,,b.org",
	        "domains: empty entry in the list 'a.org,,b.org'");
	set_bad(cfg, "domains", "a.org,", "domains: empty entry in the list 'a.org,'");
	set_bad(cfg, "domains", "  ", "domains: no domains given");
	set_bad(cfg, "domains", "", "domains: empty value");
	set_bad(cfg, "domains", "a b.org", "domains: invalid domain 'a b.org'");
	set_bad(cfg, "domains", "x@y.org", "domains: invalid domain 'x@y.org'");
	set_bad(cfg, "domains", "a..org", "domains: invalid domain 'a..org'");
	set_good(cfg, "domains", "one.example");
	is_int(invites_config_domain_count(cfg), 1, "domains replaced");

	/* admins */
	set_good(cfg, "admins", "Admin@Example.com, \xc3\x84@EXAMPLE.com");
	invites_config_get_list(cfg, "admins", &list, &n);
	ok(n == 2 && strcmp(list[0], "admin@example.com") == 0 &&
	   strcmp(list[1], "\xc3\xa4@example.com") == 0, "admins normalised");
	set_bad(cfg, "admins", "a@b.c/res", "admins: 'a@b.c/res' is not a bare JID");
	set_bad(cfg, "admins", "b.c",
	        "admins: 'b.c' is not a user JID (local@domain)");
	set_bad(cfg, "admins", "a b@c.d", "admins: invalid JID 'a b@c.d'");
	set_bad(cfg, "admins", "a@c.d,A@C.D", "admins: duplicate entry 'A@C.D'");
	set_good(cfg, "admins", "");
	invites_config_get_list(cfg, "admins", &list, &n);
	is_int(n, 0, "admins may be empty");
	is_str(invites_config_get(cfg, "admins"), "", "admins raw empty");

	/* durations */
	set_good(cfg, "invite_expiry", "36h");
	is_int(invites_config_expiry(cfg), 36 * 3600, "invite_expiry 36h");
	is_str(invites_config_get(cfg, "invite_expiry"), "36h", "raw as given");
	set_good(cfg, "reset_expiry", "900");
	is_int(invites_config_reset_expiry(cfg), 900, "reset_expiry 900");
	set_bad(cfg, "invite_expiry", "0", "invite_expiry: must be longer than 0");
	set_bad(cfg, "reset_expiry", "0s", "reset_expiry: must be longer than 0");
	set_bad(cfg, "audit_retention", "0", "audit_retention: must be longer than 0");
	set_bad(cfg, "invite_expiry", "7 d",
	        "invite_expiry: invalid duration '7 d' (seconds, or a number "
	        "followed by s, m, h, d or w)");
	set_bad(cfg, "invite_expiry", "-1d",
	        "invite_expiry: invalid duration '-1d' (seconds, or a number "
	        "followed by s, m, h, d or w)");
	set_bad(cfg, "invite_expiry", "99999999999999999999",
	        "invite_expiry: invalid duration '99999999999999999999' (seconds, "
	        "or a number followed by s, m, h, d or w)");
	set_bad(cfg, "invite_expiry", "5300w",
	        "invite_expiry: '5300w' is longer than 100 years");
	set_good(cfg, "invite_expiry", "5200w");
	is_int(invites_config_expiry(cfg), 5200LL * 7 * 86400, "5200 weeks");
	set_good(cfg, "purge_grace", "0");
	invites_config_get_duration(cfg, "purge_grace", &d);
	is_int(d, 0, "purge_grace may be 0");

	/* unsigned */
	set_good(cfg, "max_invites_per_user", "10");
	is_int(invites_config_max_invites_per_user(cfg), 10, "max 10");
	set_good(cfg, "max_invites_per_user", "4294967295");
	is_int(invites_config_max_invites_per_user(cfg), 4294967295LL, "max UINT_MAX");
	set_bad(cfg, "max_invites_per_user", "4294967296",
	        "max_invites_per_user: invalid number '4294967296' (0 to 4294967295)");
	set_bad(cfg, "max_invites_per_user", "-1",
	        "max_invites_per_user: invalid number '-1' (0 to 4294967295)");
	set_bad(cfg, "max_invites_per_user", "1e3",
	        "max_invites_per_user: invalid number '1e3' (0 to 4294967295)");
	set_bad(cfg, "preauth_max_failures", "0",
	        "preauth_max_failures: must be at least 1");
	set_good(cfg, "preauth_max_failures", "3");
	invites_config_get_unsigned(cfg, "preauth_max_failures", &u);
	is_int(u, 3, "preauth_max_failures 3");

	/* booleans */
	{
		static const char *const yes[] = { "yes", "YES", "true", "On", "1" };
		static const char *const no[] = { "no", "False", "off", "0", "NO" };
		size_t i;

		for (i = 0; i < 5; i++) {
			set_good(cfg, "require_tls", yes[i]);
			invites_config_get_bool(cfg, "require_tls", &b);
			is_int(b, 1, yes[i]);
			set_good(cfg, "tcp_nodelay", no[i]);
			invites_config_get_bool(cfg, "tcp_nodelay", &b);
			is_int(b, 0, no[i]);
		}
	}
	set_bad(cfg, "user_invites", "maybe",
	        "user_invites: invalid boolean 'maybe' (yes or no, true or false, "
	        "on or off, 1 or 0)");
	set_bad(cfg, "user_invites_register", "2",
	        "user_invites_register: invalid boolean '2' (yes or no, true or "
	        "false, on or off, 1 or 0)");

	/* log level */
	set_good(cfg, "log_level", "DEBUG");
	invites_config_get_unsigned(cfg, "log_level", &u);
	is_int(u, INVITES_LOG_DEBUG, "log_level debug");
	set_good(cfg, "log_level", "err");
	invites_config_get_unsigned(cfg, "log_level", &u);
	is_int(u, INVITES_LOG_ERR, "log_level err");
	set_bad(cfg, "log_level", "verbose",
	        "log_level: invalid log level 'verbose' (err, warning, notice, "
	        "info or debug)");

	/* landing_url */
	set_good(cfg, "landing_url", "https://{host}/invite/{token}");
	is_str(invites_config_landing_url(cfg), "https://{host}/invite/{token}",
	       "landing_url");
	set_good(cfg, "landing_url", "https://invite.joinjabber.org/#{uri-noscheme}");
	set_good(cfg, "landing_url", "HTTP://example.com/i?u={uri}&x=}");
	set_bad(cfg, "landing_url", "ftp://x/{token}",
	        "landing_url: must start with https:// or http://, not "
	        "'ftp://x/{token}'");
	set_bad(cfg, "landing_url", "example.com/{token}",
	        "landing_url: must start with https:// or http://, not "
	        "'example.com/{token}'");
	set_bad(cfg, "landing_url", "https:///{token}",
	        "landing_url: 'https:///{token}' has no host");
	set_bad(cfg, "landing_url", "https://",
	        "landing_url: 'https://' has no host");
	set_bad(cfg, "landing_url", "https://x/{tok}",
	        "landing_url: unknown placeholder '{tok}' (use {host}, {token}, "
	        "{uri} or {uri-noscheme})");
	set_bad(cfg, "landing_url", "https://x/{}",
	        "landing_url: unknown placeholder '{}' (use {host}, {token}, "
	        "{uri} or {uri-noscheme})");
	set_bad(cfg, "landing_url", "https://x/{token",
	        "landing_url: unclosed '{' in 'https://x/{token'");
	set_bad(cfg, "landing_url", "https://x/{{token}",
	        "landing_url: unclosed '{' in 'https://x/{{token}'");
	set_bad(cfg, "landing_url", "https://{host}/",
	        "landing_url: 'https://{host}/' holds no {token}, {uri} or "
	        "{uri-noscheme}");
	set_bad(cfg, "landing_url", "https://x/ {token}",
	        "landing_url: 'https://x/ {token}' contains a space or control "
	        "character");
	set_bad(cfg, "landing_url", "https://x/\x01{token}",
	        "landing_url: 'https://x/\\x01{token}' contains a space or "
	        "control character");
	is_str(invites_config_landing_url(cfg),
	       "HTTP://example.com/i?u={uri}&x=}", "failed sets keep the value");

	/* store */
	set_good(cfg, "store", "relative/dir");
	is_str(invites_config_store(cfg), "relative/dir",
	       "set keeps relative paths as given");
	set_bad(cfg, "store", "", "store: empty value");

	/* errors of the call itself */
	set_bad(cfg, "nosuch", "1", "unknown key 'nosuch'");
	is_int(invites_config_set(cfg, "nosuch", "1", NULL), INVITES_ECONFIG,
	       "unknown key without a message");
	is_int(invites_config_set(cfg, "invite_expiry", "x", NULL),
	       INVITES_ECONFIG, "bad value without a message");
	is_int(invites_config_set(NULL, "store", "/x", NULL), INVITES_EINVAL,
	       "NULL cfg");
	is_int(invites_config_set(cfg, NULL, "/x", NULL), INVITES_EINVAL,
	       "NULL key");
	is_int(invites_config_set(cfg, "store", NULL, NULL), INVITES_EINVAL,
	       "NULL value");

	/* long values are cut in messages */
	{
		char big[200];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		set_bad(cfg, "log_level", big,
		        "log_level: invalid log level "
		        "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...'"
		        " (err, warning, notice, info or debug)");
	}
	invites_config_free(&cfg);
}

static void
test_default_path(void)
{
	unsetenv("INVITES_CONFIG");
	is_str(invites_config_default_path(), SYSCONFDIR "/invites.conf",
	       "default path");
	setenv("INVITES_CONFIG", "/tmp/x.conf", 1);
	is_str(invites_config_default_path(), "/tmp/x.conf", "$INVITES_CONFIG");
	setenv("INVITES_CONFIG", "", 1);
	is_str(invites_config_default_path(), SYSCONFDIR "/invites.conf",
	       "empty $INVITES_CONFIG ignored");
	unsetenv("INVITES_CONFIG");
}

static void
test_load(void)
{
	struct invites_config *cfg;
	char *msg, want[600];
	const char *const *list;
	size_t n;
	int rc, b;

	cfg = load_good("store = /var/lib/invites\ndomains = example.com\n",
	                "minimal file");
	is_str(invites_config_store(cfg), "/var/lib/invites", "store from file");
	is_int(invites_config_domain_count(cfg), 1, "one domain");
	is_int(invites_config_expiry(cfg), 604800, "defaults apply");
	invites_config_free(&cfg);

	cfg = load_good(
		"\xef\xbb\xbf# a comment\r\n"
		"   # indented comment\r\n"
		"\r\n"
		"\t store\t=\t/srv/a#b   # trailing comment\r\n"
		"domains=a.example,B.example # two\r\n"
		"landing_url = \"https://{host}/#{uri-noscheme}\"   # quoted\r\n"
		"admins = \"x@a.example\"#right after the quote\r\n"
		"log_level = info\r\n"
		"require_tls=no",
		"BOM, CRLF, comments, quotes, no final newline");
	is_str(invites_config_store(cfg), "/srv/a#b", "# inside a value is kept");
	is_str(invites_config_domain(cfg, 1), "b.example", "second domain");
	is_str(invites_config_landing_url(cfg), "https://{host}/#{uri-noscheme}",
	       "quoted value keeps #");
	invites_config_get_list(cfg, "admins", &list, &n);
	ok(n == 1 && strcmp(list[0], "x@a.example") == 0, "admins from file");
	invites_config_get_bool(cfg, "require_tls", &b);
	is_int(b, 0, "last line without newline");
	invites_config_free(&cfg);

	cfg = load_good("store = \"/srv/with space/\\\"q\\\"/\\\\/\\x\"\n"
	                "domains = \"a.example\"\n", "quote escapes");
	is_str(invites_config_store(cfg), "/srv/with space/\"q\"/\\/\\x",
	       "\\\" and \\\\ unescaped, other backslashes kept");
	invites_config_free(&cfg);

	/* a relative store is resolved against the file's directory */
	cfg = load_good("store = db\ndomains = a.example\n", "relative store");
	snprintf(want, sizeof(want), "%s/db", tmpdir);
	is_str(invites_config_store(cfg), want, "relative store resolved");
	is_str(invites_config_get(cfg, "store"), want, "get gives the resolved path");
	invites_config_free(&cfg);

	/* mistakes, each on its line */
	load_bad("store = /x\ndomains = a.example\nbogus = 1\n",
	         ":3: unknown key 'bogus'", "unknown key");
	load_bad("store = /x\nStore = /y\ndomains = a.example\n",
	         ":2: unknown key 'Store'", "keys are lower case");
	load_bad("store = /x\ndomains = a.example\n\n# c\nstore = /y\n",
	         ":5: duplicate key 'store' (first set on line 1)", "duplicate key");
	load_bad("store = /x\ndomains = a.example\ninvite_expiry = 7x\n",
	         ":3: invite_expiry: invalid duration '7x' (seconds, or a number "
	         "followed by s, m, h, d or w)", "bad duration");
	load_bad("store = /x\ndomains = a.example\ninvite_expiry = 0\n",
	         ":3: invite_expiry: must be longer than 0", "zero expiry");
	load_bad("store = /x\ndomains = a.example\n"
	         "invite_expiry = 9999999999999999999999d\n",
	         ":3: invite_expiry: invalid duration '9999999999999999999999d' "
	         "(seconds, or a number followed by s, m, h, d or w)",
	         "duration overflow");
	load_bad("store = /x\ndomains = a.example, a.example\n",
	         ":2: domains: duplicate entry 'a.example'", "duplicate domain");
	load_bad("store = /x\ndomains = a..example\n",
	         ":2: domains: invalid domain 'a..example'", "bad domain");
	load_bad("store = /x\ndomains = a.example\nrequire_tls = sure\n",
	         ":3: require_tls: invalid boolean 'sure' (yes or no, true or "
	         "false, on or off, 1 or 0)", "bad boolean");
	load_bad("store = /x\ndomains = a.example\nmax_invites_per_user = ten\n",
	         ":3: max_invites_per_user: invalid number 'ten' (0 to 4294967295)",
	         "bad number");
	load_bad("store = /x\ndomains = a.example\nadmins = root\n",
	         ":3: admins: 'root' is not a user JID (local@domain)",
	         "bad admin");
	load_bad("store = /x\ndomains = a.example\nlanding_url = https://x/{id}\n",
	         ":3: landing_url: unknown placeholder '{id}' (use {host}, "
	         "{token}, {uri} or {uri-noscheme})", "bad placeholder");
	load_bad("store = /x\ndomains = a.example\nlog_level = loud\n",
	         ":3: log_level: invalid log level 'loud' (err, warning, notice, "
	         "info or debug)", "bad log level");
	load_bad("store = /x\ndomains = a.example\nlanding_url =\n",
	         ":3: landing_url: empty value", "empty value");
	load_bad("store = /x\ndomains = a.example\nlanding_url = # nothing\n",
	         ":3: landing_url: empty value", "value that is a comment");
	load_bad("store = /x\ndomains = a.example\nlanding_url=#x\n",
	         ":3: landing_url: empty value", "# right after = is a comment");
	load_bad("store = /x\ndomains = a.example\nstore\n",
	         ":3: expected 'key = value'", "no =");
	load_bad("store = /x\n= 5\n", ":2: expected 'key = value'", "no key");
	load_bad("store = /x\nmy key = 5\n", ":2: expected 'key = value'",
	         "space in key");
	load_bad("store = /x\ndomains = \"a.example\n",
	         ":2: unterminated quoted value", "unterminated quote");
	load_bad("store = /x\ndomains = \"a.example\" b\n",
	         ":2: text after the closing quote", "text after quote");
	load_bad("store = /x\n", ": missing required key 'domains'",
	         "missing domains");
	load_bad("domains = a.example\n", ": missing required key 'store'",
	         "missing store");
	load_bad("", ": missing required key 'store'", "empty file");
	load_bad("# only comments\n\n", ": missing required key 'store'",
	         "only comments");

	/* a NUL byte in a line */
	write_conf("store = /x\ndomains = a\0b\n", 24);
	cfg = NULL;
	msg = NULL;
	rc = invites_config_load(conf_path, &cfg, &msg);
	snprintf(want, sizeof(want), "%s:2: NUL byte in line", conf_path);
	ok(rc == INVITES_ECONFIG && msg && strcmp(msg, want) == 0, "NUL byte");
	invites_free(msg);

	/* control characters are shown escaped */
	load_bad("store = /x\ndomains = a.example\nlog_level = \x1b[31m\n",
	         ":3: log_level: invalid log level '\\x1B[31m' (err, warning, "
	         "notice, info or debug)", "escape sequences neutralised");
	load_bad("store = /x\n\x1b = 1\n", ":2: unknown key '\\x1B'",
	         "escape in key neutralised");

	/* files that cannot be read */
	snprintf(want, sizeof(want), "%s/none.conf", tmpdir);
	msg = NULL;
	rc = invites_config_load(want, &cfg, &msg);
	ok(rc == INVITES_ECONFIG && cfg == NULL && msg != NULL &&
	   strstr(msg, "none.conf: cannot open: No such file or directory"),
	   "missing file: %s", msg ? msg : "(null)");
	invites_free(msg);
	msg = NULL;
	rc = invites_config_load(tmpdir, &cfg, &msg);
	ok(rc == INVITES_ECONFIG && msg != NULL && strstr(msg, "cannot read"),
	   "a directory: %s", msg ? msg : "(null)");
	invites_free(msg);
	{
		size_t big = 1024 * 1024 + 10;
		char *text = malloc(big);

		memset(text, '#', big);
		write_conf(text, big);
		free(text);
		msg = NULL;
		rc = invites_config_load(conf_path, &cfg, &msg);
		ok(rc == INVITES_ECONFIG && msg != NULL &&
		   strstr(msg, "larger than 1048576 bytes"), "huge file refused");
		invites_free(msg);
	}

	/* argument errors; NULL errmsg_r */
	is_int(invites_config_load(NULL, &cfg, NULL), INVITES_EINVAL, "NULL path");
	is_int(invites_config_load(conf_path, NULL, NULL), INVITES_EINVAL,
	       "NULL cfg_r");
	write_conf("x = 1\n", 6);
	is_int(invites_config_load(conf_path, &cfg, NULL), INVITES_ECONFIG,
	       "bad file without errmsg_r");
	write_conf("store=/x\n", 9);
	is_int(invites_config_load(conf_path, &cfg, NULL), INVITES_ECONFIG,
	       "missing key without errmsg_r");
}

/* The shipped examples in tests/data/conf. */
static void
test_data_files(void)
{
	const char *top = getenv("top_srcdir");
	struct invites_config *cfg = NULL;
	char path[1024], *msg = NULL;
	const char *const *list;
	size_t n;
	int64_t d;
	unsigned u;
	int b, rc;

	if (top == NULL)
		top = TOP_SRCDIR;
	snprintf(path, sizeof(path), "%s/tests/data/conf/example.conf", top);
	rc = invites_config_load(path, &cfg, &msg);
	if (!ok(rc == 0, "example.conf loads"))
		diag("  %s", msg ? msg : invites_strerror(rc));
	invites_free(msg);
	msg = NULL;
	if (rc == 0) {
		is_str(invites_config_store(cfg), "/var/lib/xmpp-invites",
		       "example: store");
		is_int(invites_config_domain_count(cfg), 2, "example: domains");
		is_int(invites_config_expiry(cfg), 7 * 86400, "example: expiry");
		is_int(invites_config_reset_expiry(cfg), 86400, "example: reset");
		is_str(invites_config_landing_url(cfg),
		       "https://{host}/invite/{token}", "example: landing_url");
		is_int(invites_config_max_invites_per_user(cfg), 10, "example: max");
		invites_config_get_duration(cfg, "purge_grace", &d);
		is_int(d, 30 * 86400, "example: purge_grace");
		invites_config_get_unsigned(cfg, "preauth_max_failures", &u);
		is_int(u, 5, "example: preauth_max_failures");
		invites_config_get_bool(cfg, "user_invites_register", &b);
		is_int(b, 0, "example: user_invites_register");
		invites_config_get_list(cfg, "admins", &list, &n);
		ok(n == 1 && strcmp(list[0], "admin@example.com") == 0,
		   "example: admins");
		invites_config_get_unsigned(cfg, "log_level", &u);
		is_int(u, INVITES_LOG_NOTICE, "example: log_level");
	}
	invites_config_free(&cfg);

	snprintf(path, sizeof(path), "%s/tests/data/conf/bad-line.conf", top);
	rc = invites_config_load(path, &cfg, &msg);
	ok(rc == INVITES_ECONFIG && msg != NULL &&
	   strstr(msg, "bad-line.conf:9: invite_expiry: invalid duration '1 week'"),
	   "bad-line.conf: error on line 9 (%s)", msg ? msg : "(null)");
	invites_free(msg);
}

/* Every allocation failure during a load gives ENOMEM (or, for an
 * invalid file, ECONFIG with a message), never a crash or a leak. */
static void
test_alloc_failures(void)
{
	const char *good_text =
		"store = db\ndomains = a.example, b.example\n"
		"admins = x@a.example\nlanding_url = https://{host}/{token}\n";
	const char *bad_text = "store = /x\ndomains = a.example\nbogus = 1\n";
	struct invites_config *cfg;
	char *msg;
	long n;
	int rc, nomem = 0, wrong = 0, done = 0;

	write_conf(good_text, strlen(good_text));
	for (n = 0; n < 10000 && !done; n++) {
		cfg = NULL;
		msg = NULL;
		inv__alloc_fail_at = n;
		rc = invites_config_load(conf_path, &cfg, &msg);
		if (inv__alloc_fail_at >= 0) {
			done = 1;
			if (rc != 0)
				wrong++;
		} else if (rc == INVITES_ENOMEM && cfg == NULL && msg == NULL) {
			nomem++;
		} else {
			wrong++;
		}
		inv__alloc_fail_at = -1;
		invites_free(msg);
		invites_config_free(&cfg);
	}
	ok(done && wrong == 0 && nomem > 10,
	   "good file: %d allocation failures, each ENOMEM", nomem);

	write_conf(bad_text, strlen(bad_text));
	nomem = wrong = done = 0;
	for (n = 0; n < 10000 && !done; n++) {
		cfg = NULL;
		msg = NULL;
		inv__alloc_fail_at = n;
		rc = invites_config_load(conf_path, &cfg, &msg);
		if (inv__alloc_fail_at >= 0) {
			done = 1;
			if (rc != INVITES_ECONFIG || msg == NULL)
				wrong++;
		} else if (rc == INVITES_ENOMEM && cfg == NULL && msg == NULL) {
			nomem++;
		} else if (rc != INVITES_ECONFIG || msg == NULL) {
			wrong++;
		}
		inv__alloc_fail_at = -1;
		invites_free(msg);
		invites_config_free(&cfg);
	}
	ok(done && wrong == 0 && nomem > 5,
	   "bad file: %d allocation failures, each ENOMEM", nomem);

	nomem = wrong = done = 0;
	for (n = 0; n < 1000 && !done; n++) {
		cfg = NULL;
		inv__alloc_fail_at = n;
		rc = invites_config_new("/x", &cfg);
		if (inv__alloc_fail_at >= 0)
			done = rc == 0;
		else if (rc == INVITES_ENOMEM && cfg == NULL)
			nomem++;
		else
			wrong++;
		inv__alloc_fail_at = -1;
		invites_config_free(&cfg);
	}
	ok(done && wrong == 0 && nomem > 5,
	   "config_new: %d allocation failures, each ENOMEM", nomem);
}

int
main(void)
{
	const char *t = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/test_config.XXXXXX",
	         t && *t ? t : "/tmp");
	if (mkdtemp(tmpdir) == NULL)
		bail_out("mkdtemp failed");
	snprintf(conf_path, sizeof(conf_path), "%s/invites.conf", tmpdir);

	test_duration();
	test_defaults();
	test_set();
	test_default_path();
	test_load();
	test_data_files();
	test_alloc_failures();

	unlink(conf_path);
	rmdir(tmpdir);
	return done_testing();
}
