/* SPDX-License-Identifier: MIT */
/*
 * invites-web: the daemon's entry point.  Reads invites.conf (the same
 * file as invitectl and the server modules), loads templates, the app
 * list and static assets once, opens the invite store once for the whole
 * process (INVITES_OPEN_DAEMON), starts the HTTP server and waits for
 * SIGTERM or SIGINT.  Logs go to stderr (the journal under systemd), one
 * line each, with anything shaped like a token redacted.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "http.h"

#ifndef PKGDATADIR
#define PKGDATADIR "/usr/share/xmpp-invites"
#endif

#define EX_USAGE 64

static int log_level = INVITES_LOG_NOTICE;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[8] = {
	"emerg", "alert", "crit", "error", "warning", "notice", "info", "debug"
};

static int
b64url(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Replace every run of >= INVITES_TOKEN_MIN base64url characters. */
static void
redact(const char *in, struct inv__buf *b)
{
	while (*in) {
		size_t n = 0;

		while (b64url(in[n]))
			n++;
		if (n >= INVITES_TOKEN_MIN) {
			inv__buf_puts(b, "[redacted]");
			in += n;
		} else if (n) {
			inv__buf_append(b, in, n);
			in += n;
		} else {
			inv__buf_append(b, in, 1);
			in++;
		}
	}
}

static void
log_line(int level, const char *msg)
{
	struct inv__buf b;

	if (level > log_level)
		return;
	inv__buf_init(&b);
	redact(msg, &b);
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "invites-web: %s: %s\n",
	        level_names[level >= 0 && level < 8 ? level : 7],
	        b.oom || !b.p ? "(out of memory)" : b.p);
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
	inv__buf_free(&b);
}

void
web__log(int level, const char *fmt, ...)
{
	va_list ap;
	char line[1024];

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_line(level, line);
}

static void
lib_log(void *ctx, int level, const char *msg)
{
	(void)ctx;
	log_line(level, msg);
}

/* A store call blocked behind a process that died inside it never
 * returns, and holds the store lock: leave, so that the supervisor
 * starts us again (the library has logged why). */
static void
hang_exit(void *ctx, const char *msg)
{
	(void)ctx;
	(void)msg;
	_exit(INVITES_EXIT_HANG);
}

void
web__store_lock(struct web *w)
{
	pthread_mutex_lock(&w->store_lock);
}

void
web__store_unlock(struct web *w)
{
	pthread_mutex_unlock(&w->store_lock);
}

static int
parse_level(const char *s)
{
	int i;

	for (i = 3; i < 8; i++)
		if (strcmp(s, level_names[i]) == 0 ||
		    (i == 3 && strcmp(s, "err") == 0))
			return i;
	return -1;
}

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: invites-web [--config FILE] [--listen HOST:PORT] "
	        "[--datadir DIR]\n"
	        "                   [--log-level LEVEL] [--ready-file FILE]\n"
	        "       invites-web --check-config [--config FILE]\n"
	        "       invites-web --version | --help\n"
	        "Serves invite landing pages, web registration and the "
	        "invites HTTP API.\nSee invites-web(8).\n");
}

/* ------------------------------------------------------------------ */
/* Start-up                                                            */
/* ------------------------------------------------------------------ */

static const char *
cfg_str(const struct web *w, const char *key, const char *dflt)
{
	const char *v = invites_config_get(w->cfg, key);

	return v && *v ? v : dflt;
}

static int
cfg_uint(const struct web *w, const char *key, unsigned dflt, unsigned *out)
{
	const char *v = invites_config_get(w->cfg, key);
	char *end;
	unsigned long n;

	*out = dflt;
	if (!v || !*v)
		return 0;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end || n > 1000000) {
		web__log(INVITES_LOG_ERR, "%s: bad number '%s'", key, v);
		return -1;
	}
	*out = (unsigned)n;
	return 0;
}

static int
cfg_duration(const struct web *w, const char *key, int64_t dflt, int64_t *out)
{
	const char *v = invites_config_get(w->cfg, key);

	*out = dflt;
	if (!v || !*v)
		return 0;
	if (invites_parse_duration(v, out) != 0 || *out <= 0) {
		web__log(INVITES_LOG_ERR, "%s: bad duration '%s'", key, v);
		return -1;
	}
	return 0;
}

static int
settings(struct web *w, const char *listen)
{
	const char *s, *colon;
	const char *base;
	unsigned u;
	int64_t d;
	char *end;
	unsigned long port;

	w->site_name = inv__strdup(cfg_str(w, "site_name",
	                                   invites_config_domain(w->cfg, 0)));
	base = cfg_str(w, "web_base_url", NULL);
	if (base) {
		size_t n = strlen(base);

		if (strncmp(base, "https://", 8) != 0 &&
		    strncmp(base, "http://", 7) != 0) {
			web__log(INVITES_LOG_ERR, "web_base_url: must start with "
			         "https:// (or http://)");
			return -1;
		}
		if (strpbrk(base, "?#\"<> \t") || n > 512) {
			web__log(INVITES_LOG_ERR, "web_base_url: a plain URL "
			         "without query, fragment or spaces");
			return -1;
		}
		while (n && base[n - 1] == '/')
			n--;
		w->base_url = inv__strndup(base, n);
	} else {
		w->base_url = inv__asprintf("http://%s", listen);
	}
	if (!w->site_name || !w->base_url)
		return -1;
	{
		const char *p = strstr(w->base_url, "://") + 3;

		p = strchr(p, '/');
		w->base_path = inv__strdup(p ? p : "");
		if (!w->base_path)
			return -1;
	}

	s = cfg_str(w, "xmpp_server", "127.0.0.1:5222");
	colon = strrchr(s, ':');
	if (!colon || colon == s) {
		web__log(INVITES_LOG_ERR, "xmpp_server: expected HOST:PORT");
		return -1;
	}
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || port == 0 || port > 65535) {
		web__log(INVITES_LOG_ERR, "xmpp_server: bad port");
		return -1;
	}
	if (*s == '[' && colon[-1] == ']')
		w->xmpp_host = inv__strndup(s + 1, (size_t)(colon - s - 2));
	else
		w->xmpp_host = inv__strndup(s, (size_t)(colon - s));
	if (!w->xmpp_host)
		return -1;
	w->xmpp_port = (unsigned short)port;

	s = cfg_str(w, "xmpp_tls", "optional");
	if (strcmp(s, "optional") == 0)
		w->xmpp_tls = WEB_TLS_OPTIONAL;
	else if (strcmp(s, "required") == 0)
		w->xmpp_tls = WEB_TLS_REQUIRED;
	else if (strcmp(s, "verify") == 0)
		w->xmpp_tls = WEB_TLS_VERIFY;
	else {
		web__log(INVITES_LOG_ERR, "xmpp_tls: optional, required or verify");
		return -1;
	}

	if (cfg_uint(w, "web_min_password", 8, &w->min_password) != 0)
		return -1;
	if (w->min_password > 128) {
		web__log(INVITES_LOG_ERR, "web_min_password: at most 128");
		return -1;
	}
	if (cfg_duration(w, "web_register_timeout", 10, &d) != 0)
		return -1;
	w->reg_timeout_ms = d > 120 ? 120000u : (unsigned)d * 1000u;
	if (cfg_uint(w, "xmpp_pool", 8, &w->xmpp_pool) != 0)
		return -1;
	if (w->xmpp_pool > 32) {
		web__log(INVITES_LOG_ERR, "xmpp_pool: at most 32");
		return -1;
	}
	s = cfg_str(w, "web_real_ip_header", NULL);
	if (s && !(w->real_ip_header = inv__strdup(s)))
		return -1;
	if (cfg_uint(w, "web_max_failures", 10, &u) != 0 ||
	    cfg_duration(w, "web_failure_window", 600, &d) != 0)
		return -1;
	if (web__limiter_new(u, d, &w->limiter) != 0)
		return -1;
	return 0;
}

static const char *
mime_of(const char *path)
{
	const char *dot = strrchr(path, '.');

	if (!dot)
		return "application/octet-stream";
	if (strcmp(dot, ".css") == 0)
		return "text/css; charset=utf-8";
	if (strcmp(dot, ".js") == 0)
		return "text/javascript; charset=utf-8";
	if (strcmp(dot, ".svg") == 0)
		return "image/svg+xml";
	if (strcmp(dot, ".png") == 0)
		return "image/png";
	if (strcmp(dot, ".txt") == 0)
		return "text/plain; charset=utf-8";
	return "application/octet-stream";
}

static int
add_static(struct web *w, const char *url, const char *file, const char *type)
{
	FILE *f = fopen(file, "rb");
	struct web_static *s, *v;
	struct stat sb;
	size_t i;
	uint32_t h = 2166136261u;

	if (!f) {
		web__log(INVITES_LOG_ERR, "%s: %s", file, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &sb) != 0 || sb.st_size > 4 * 1024 * 1024) {
		web__log(INVITES_LOG_ERR, "%s: not a file of at most 4 MiB", file);
		fclose(f);
		return -1;
	}
	v = inv__realloc(w->statics, (w->n_statics + 1) * sizeof(*v));
	if (!v) {
		fclose(f);
		return -1;
	}
	w->statics = v;
	s = &v[w->n_statics];
	memset(s, 0, sizeof(*s));
	s->len = (size_t)sb.st_size;
	s->data = inv__malloc(s->len + 1);
	s->path = inv__asprintf("%s", url);
	s->type = inv__strdup(type ? type : mime_of(url));
	if (!s->data || !s->path || !s->type ||
	    fread(s->data, 1, s->len, f) != s->len) {
		web__log(INVITES_LOG_ERR, "%s: cannot read", file);
		free(s->data);
		free(s->path);
		free(s->type);
		fclose(f);
		return -1;
	}
	fclose(f);
	for (i = 0; i < s->len; i++) {
		h ^= (unsigned char)s->data[i];
		h *= 16777619u;
	}
	snprintf(s->etag, sizeof(s->etag), "\"%08x%zx\"", (unsigned)h, s->len);
	w->n_statics++;
	return 0;
}

static int
load_assets(struct web *w)
{
	static const char *const own[] = {
		"invite.css", "invite.js", "favicon.svg"
	};
	static const char *const js[] = {
		"bootstrap4/css/bootstrap.min.css",
		"bootstrap4/js/bootstrap.bundle.min.js",
		"jquery/jquery.min.js",
	};
	const char *tdir = invites_config_get(w->cfg, "web_templates");
	const char *apps = invites_config_get(w->cfg, "web_apps");
	const char *jsdir = cfg_str(w, "web_js_dir", "/usr/share/javascript");
	char *deftdir = inv__asprintf("%s/templates", w->datadir);
	char *defapps = inv__asprintf("%s/apps.conf", w->datadir);
	char *errmsg = NULL;
	struct {
		const char *name;
		struct web_tmpl **t;
	} tmpls[] = {
		{ "landing.html", &w->t_landing },
		{ "invalid.html", &w->t_invalid },
		{ "register.html", &w->t_register },
		{ "registered.html", &w->t_registered },
		{ "error.html", &w->t_error },
	};
	size_t i;
	int ok = 0;

	if (!deftdir || !defapps)
		goto out;
	for (i = 0; i < sizeof(tmpls) / sizeof(tmpls[0]); i++) {
		if (web__tmpl_load(tdir, deftdir, tmpls[i].name, tmpls[i].t,
		                   &errmsg) != 0) {
			web__log(INVITES_LOG_ERR, "%s", errmsg ? errmsg
			         : "out of memory loading templates");
			goto out;
		}
	}
	if (web__apps_load(apps && *apps ? apps : defapps, &w->apps,
	                   &errmsg) != 0) {
		web__log(INVITES_LOG_ERR, "%s", errmsg ? errmsg : "out of memory");
		goto out;
	}
	for (i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		char *url = inv__asprintf("/static/%s", own[i]);
		char *file = inv__asprintf("%s/static/%s", w->datadir, own[i]);
		int r = url && file ? add_static(w, url, file, NULL) : -1;

		free(url);
		free(file);
		if (r)
			goto out;
	}
	for (i = 0; i < sizeof(js) / sizeof(js[0]); i++) {
		char *url = inv__asprintf("/js/%s", js[i]);
		char *file = inv__asprintf("%s/%s", jsdir, js[i]);
		int r = url && file ? add_static(w, url, file, NULL) : -1;

		free(url);
		free(file);
		if (r) {
			web__log(INVITES_LOG_ERR, "Bootstrap 4 and jQuery come from "
			         "Debian's libjs-bootstrap4 and libjs-jquery "
			         "(web_js_dir = %s)", jsdir);
			goto out;
		}
	}
	{
		/* the favicon browsers ask for on their own, and robots */
		char *file = inv__asprintf("%s/static/favicon.svg", w->datadir);
		char *robots = inv__asprintf("%s/static/robots.txt", w->datadir);
		int r = file && robots ? add_static(w, "/favicon.ico", file,
		                                    "image/svg+xml") : -1;

		if (!r)
			r = add_static(w, "/robots.txt", robots, NULL);
		free(file);
		free(robots);
		if (r)
			goto out;
	}
	ok = 1;
out:
	free(errmsg);
	free(deftdir);
	free(defapps);
	return ok ? 0 : -1;
}

static void
web_free(struct web *w)
{
	size_t i;

	web__tmpl_free(&w->t_landing);
	web__tmpl_free(&w->t_invalid);
	web__tmpl_free(&w->t_register);
	web__tmpl_free(&w->t_registered);
	web__tmpl_free(&w->t_error);
	web__apps_free(&w->apps);
	for (i = 0; i < w->n_statics; i++) {
		free(w->statics[i].path);
		free(w->statics[i].type);
		free(w->statics[i].data);
	}
	free(w->statics);
	web__limiter_free(&w->limiter);
	invites_store_close(&w->st);
	invites_config_free(&w->cfg);
	free(w->site_name);
	free(w->base_url);
	free(w->base_path);
	free(w->xmpp_host);
	free(w->real_ip_header);
	free(w->datadir);
	inv__cleanse(w->csrf_key, sizeof(w->csrf_key));
	pthread_mutex_destroy(&w->store_lock);
	pthread_mutex_destroy(&w->work_lock);
	pthread_cond_destroy(&w->work_cond);
}

/* One pool of ready XMPP connections per served domain (xmpp_pool). */
static int
reg_pools_start(struct web *w)
{
	size_t i, n = invites_config_domain_count(w->cfg);

	if (w->xmpp_pool == 0 || n == 0)
		return 0;
	w->reg_pools = inv__calloc(n, sizeof(*w->reg_pools));
	if (!w->reg_pools)
		return -1;
	w->n_reg_pools = n;
	for (i = 0; i < n; i++)
		if (web__reg_pool_start(w->xmpp_host, w->xmpp_port,
		                        invites_config_domain(w->cfg, i),
		                        w->xmpp_tls, w->reg_timeout_ms,
		                        w->xmpp_pool, &w->reg_pools[i]) != 0)
			return -1;
	return 0;
}

static void
reg_pools_stop(struct web *w)
{
	size_t i;

	for (i = 0; i < w->n_reg_pools; i++)
		web__reg_pool_stop(&w->reg_pools[i]);
	free(w->reg_pools);
	w->reg_pools = NULL;
	w->n_reg_pools = 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "datadir", required_argument, NULL, 'd' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "ready-file", required_argument, NULL, 'r' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *config = NULL, *listen = NULL, *datadir = NULL;
	const char *level = NULL, *ready = NULL;
	int check_only = 0, c, r, status = 1;
	struct web w;
	struct MHD_Daemon *d = NULL;
	char *errmsg = NULL;
	sigset_t set;
	int sig;

	while ((c = getopt_long(argc, argv, "c:l:d:L:r:CVh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'l': listen = optarg; break;
		case 'd': datadir = optarg; break;
		case 'L': level = optarg; break;
		case 'r': ready = optarg; break;
		case 'C': check_only = 1; break;
		case 'V':
			printf("invites-web %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EX_USAGE;
	}
	if (level && (log_level = parse_level(level)) < 0) {
		fprintf(stderr, "invites-web: --log-level: err, warning, notice, "
		        "info or debug\n");
		return EX_USAGE;
	}

	memset(&w, 0, sizeof(w));
	pthread_mutex_init(&w.store_lock, NULL);
	pthread_mutex_init(&w.work_lock, NULL);
	pthread_cond_init(&w.work_cond, NULL);
	invites_set_log(lib_log, NULL);
	invites_set_hang_handler(hang_exit, NULL);
	if (!config)
		config = invites_config_default_path();
	r = invites_config_load(config, &w.cfg, &errmsg);
	if (r != 0) {
		web__log(INVITES_LOG_ERR, "%s", errmsg ? errmsg : invites_strerror(r));
		invites_free(errmsg);
		web_free(&w);
		return invites_err_exit_code(r);
	}
	if (!level) {
		const char *l = invites_config_get(w.cfg, "log_level");

		if (l && parse_level(l) > 0)
			log_level = parse_level(l);
	}
	if (!listen)
		listen = cfg_str(&w, "web_listen", "127.0.0.1:5380");
	w.datadir = inv__strdup(datadir ? datadir : PKGDATADIR "/web");
	if (!w.datadir || settings(&w, listen) != 0 || load_assets(&w) != 0) {
		web_free(&w);
		return invites_err_exit_code(INVITES_ECONFIG);
	}
	if (check_only) {
		printf("invites-web: configuration and templates are fine\n");
		web_free(&w);
		return 0;
	}
	/* libstrophe loads OpenSSL's default CA bundle into the TLS context
	 * it makes for every registration, even when it will not verify the
	 * certificate: ~140 certificates parsed per registration, most of its
	 * time (make bench-web).  When the server's certificate is trusted,
	 * point the default locations nowhere; before any thread starts. */
	if (w.xmpp_tls != WEB_TLS_VERIFY &&
	    (setenv("SSL_CERT_FILE", "/nonexistent/invites-web", 1) != 0 ||
	     setenv("SSL_CERT_DIR", "/nonexistent/invites-web", 1) != 0))
		web__log(INVITES_LOG_WARNING, "cannot set SSL_CERT_FILE: %s",
		         strerror(errno));
	if (RAND_bytes(w.csrf_key, sizeof(w.csrf_key)) != 1) {
		web__log(INVITES_LOG_ERR, "no randomness for the form keys");
		web_free(&w);
		return 70;
	}
	r = invites_store_open(w.cfg, INVITES_OPEN_DAEMON | INVITES_OPEN_RETRY,
	                       &w.st);
	if (r != 0) {
		web__log(INVITES_LOG_ERR, "store %s: %s", invites_config_store(w.cfg),
		         invites_strerror(r));
		web_free(&w);
		return invites_err_exit_code(r);
	}

	/* signals are taken by sigwait() below; threads inherit the mask */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	web__register_init();
	if (reg_pools_start(&w) != 0) {
		web__log(INVITES_LOG_ERR, "cannot start the XMPP connection pool");
		reg_pools_stop(&w);
		web__register_shutdown();
		web_free(&w);
		return 70;
	}

	if (web__http_start(&w, listen, ready, &d) == 0) {
		web__log(INVITES_LOG_NOTICE, "serving %s for %s", w.base_url,
		         w.site_name);
		for (;;) {
			if (sigwait(&set, &sig) != 0)
				break;
			if (sig == SIGHUP) {
				web__log(INVITES_LOG_NOTICE, "SIGHUP ignored: restart "
				         "to reload templates and configuration");
				continue;
			}
			web__log(INVITES_LOG_NOTICE, "stopping (signal %d)", sig);
			break;
		}
		if (web__http_stop(&w, &d) != 0)
			_exit(1); /* threads still use everything: free nothing */
		status = 0;
	}
	/* (no registration runs any more: nothing takes from the pools) */
	reg_pools_stop(&w);
	web__register_shutdown();
	web__qr_cache_clear();
	web_free(&w);
	return status;
}
