/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of invites-web's parts that need no HTTP: the template
 * language (escaping, sections, lists, partials, errors with line
 * numbers), HTML escaping, the QR code SVG, the app list file and its
 * validation, platform detection, failure counting and UTF-8 checks.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "web.h"

static char tmpdir[256];

static void
write_file(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
}

static char *
render(const char *name, const struct web_tctx *ctx, char **err)
{
	struct web_tmpl *t = NULL;
	struct inv__buf b;
	int r;

	*err = NULL;
	r = web__tmpl_load(tmpdir, NULL, name, &t, err);
	if (r)
		return NULL;
	inv__buf_init(&b);
	web__tmpl_render(t, ctx, &b);
	web__tmpl_free(&t);
	return inv__buf_steal(&b);
}

static void
test_escape(void)
{
	struct inv__buf b;
	char *s;

	inv__buf_init(&b);
	web__html_escape(&b, "<script>alert('x') & \"y\"`</script>");
	s = inv__buf_steal(&b);
	is_str(s, "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&#96;"
	       "&lt;/script&gt;", "HTML escaping of every special character");
	free(s);
	inv__buf_init(&b);
	web__xml_escape(&b, "a<b>&'\"");
	s = inv__buf_steal(&b);
	is_str(s, "a&lt;b&gt;&amp;&apos;&quot;", "XML escaping");
	free(s);
}

static void
test_templates(void)
{
	struct web_tvar itemv[2][2] = {
		{ { "name", WEB_TV_TEXT, "one<", NULL, 0 },
		  { "x", WEB_TV_TEXT, "1", NULL, 0 } },
		{ { "name", WEB_TV_TEXT, "two", NULL, 0 },
		  { "x", WEB_TV_TEXT, NULL, NULL, 0 } },
	};
	struct web_tctx items[2] = {
		{ itemv[0], 2, NULL }, { itemv[1], 2, NULL }
	};
	struct web_tvar v[] = {
		{ "title", WEB_TV_TEXT, "<b>Hi</b> & \"you\"", NULL, 0 },
		{ "svg", WEB_TV_HTML, "<svg/>", NULL, 0 },
		{ "empty", WEB_TV_TEXT, "", NULL, 0 },
		{ "list", WEB_TV_LIST, NULL, items, 2 },
		{ "none", WEB_TV_LIST, NULL, NULL, 0 },
		{ "outer", WEB_TV_TEXT, "O", NULL, 0 },
	};
	struct web_tctx ctx = { v, sizeof(v) / sizeof(v[0]), NULL };
	char *out, *err;

	write_file("a.html", "<h1>{{title}}</h1>{{svg}}{{! comment }}"
	           "{{#empty}}E{{/empty}}{{^empty}}notE{{/empty}}"
	           "{{#list}}[{{name}}{{#x}}+{{/x}}{{outer}}]{{/list}}"
	           "{{^none}}nolist{{/none}}{{missing}}|{{>part}}");
	write_file("part.html", "P{{ title }}");
	out = render("a.html", &ctx, &err);
	is_str(out, "<h1>&lt;b&gt;Hi&lt;/b&gt; &amp; &quot;you&quot;</h1><svg/>"
	       "notE[one&lt;+O][twoO]nolist|P&lt;b&gt;Hi&lt;/b&gt; &amp; "
	       "&quot;you&quot;", "template: escaping, html, sections, lists, "
	       "inherited names, partials");
	free(out);
	free(err);

	write_file("b.html", "line1\n{{#open}}\nnever closed\n");
	out = render("b.html", &ctx, &err);
	ok(out == NULL && err && strstr(err, "line ") &&
	   strstr(err, "not closed"), "template: unclosed section named with "
	   "its line (%s)", err ? err : "-");
	free(out);
	free(err);

	write_file("c.html", "x\n{{bad name!}}");
	out = render("c.html", &ctx, &err);
	ok(out == NULL && err && strstr(err, "line 2"),
	   "template: bad tag refused (%s)", err ? err : "-");
	free(out);
	free(err);

	write_file("d.html", "{{#a}}x{{/b}}");
	out = render("d.html", &ctx, &err);
	ok(out == NULL && err, "template: mismatched closing tag refused");
	free(out);
	free(err);

	write_file("e.html", "{{>nothere}}");
	out = render("e.html", &ctx, &err);
	ok(out == NULL && err && strstr(err, "nothere.html"),
	   "template: missing partial named (%s)", err ? err : "-");
	free(out);
	free(err);

	write_file("f.html", "{{>f}}");
	out = render("f.html", &ctx, &err);
	ok(out == NULL && err, "template: recursive partial refused");
	free(out);
	free(err);

	write_file("g.html", "a {{ b");
	out = render("g.html", &ctx, &err);
	ok(out == NULL && err, "template: '{{' without '}}' refused");
	free(out);
	free(err);
}

static void
test_shipped_templates(void)
{
	const char *src = getenv("top_srcdir");
	char dir[512];
	static const char *const names[] = {
		"landing.html", "invalid.html", "register.html",
		"registered.html", "error.html"
	};
	size_t i;

	snprintf(dir, sizeof(dir), "%s/data/web/templates", src ? src : "..");
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct web_tmpl *t = NULL;
		char *err = NULL;
		int r = web__tmpl_load(tmpdir, dir, names[i], &t, &err);

		ok(r == 0, "shipped template %s parses%s%s", names[i],
		   err ? ": " : "", err ? err : "");
		web__tmpl_free(&t);
		free(err);
	}
	{
		/* an admin's override in the first directory wins */
		struct web_tmpl *t = NULL;
		struct web_tctx ctx = { NULL, 0, NULL };
		struct inv__buf b;
		char *err = NULL, *out;

		write_file("error.html", "OVERRIDE");
		web__tmpl_load(tmpdir, dir, "error.html", &t, &err);
		inv__buf_init(&b);
		web__tmpl_render(t, &ctx, &b);
		out = inv__buf_steal(&b);
		is_str(out, "OVERRIDE", "a template in web_templates overrides "
		       "the installed one");
		free(out);
		free(err);
		web__tmpl_free(&t);
		snprintf(dir, sizeof(dir), "%s/error.html", tmpdir);
		unlink(dir);
	}
}

static void
test_qr(void)
{
	char *svg = web__qr_svg("https://example.com/invite/AAAAAAAAAAAAAAAAAAAAAA",
	                        "QR <code>");
	char *empty = web__qr_svg("", NULL);

	ok(svg && strncmp(svg, "<svg ", 5) == 0 && strstr(svg, "</svg>") &&
	   strstr(svg, "<path fill=\"#000\" d=\"M"), "QR code drawn as SVG");
	ok(svg && strstr(svg, "QR &lt;code&gt;") && !strstr(svg, "<code>"),
	   "QR title escaped");
	ok(svg && strstr(svg, "viewBox=\"0 0 "), "QR has a viewBox (scales)");
	ok(empty == NULL, "no QR for empty text");
	free(svg);
}

static void
test_apps(void)
{
	const char *src = getenv("top_srcdir");
	char path[512];
	struct web_apps *apps = NULL;
	char *err = NULL;
	size_t i;
	int found = 0, r;
	static const struct {
		const char *text;
		const char *want;
	} bad[] = {
		{ "name = x\n", "before the first" },
		{ "[a]\nname = A\nplatforms = android\n[a]\nname = B\n"
		  "platforms = ios\n", "twice" },
		{ "[a]\nname = A\nplatforms = android\nurl = javascript:alert(1)\n",
		  "http" },
		{ "[a]\nname = A\nplatforms = amiga\n", "unknown platform" },
		{ "[a]\nname = A\n", "lacks" },
		{ "[a]\nname = A\nplatforms = ios\ncolour = red\n", "unknown key" },
		{ "[A B]\n", "bad app id" },
		{ "[a]\nname = A\nplatforms = ios\nplay = x\"y\n", "package" },
	};

	snprintf(path, sizeof(path), "%s/data/web/apps.conf", src ? src : "..");
	ok(web__apps_load(path, &apps, &err) == 0 && apps && apps->n >= 5,
	   "shipped apps.conf loads%s%s", err ? ": " : "", err ? err : "");
	for (i = 0; apps && i < apps->n; i++)
		if (strcmp(apps->v[i].id, "conversations") == 0 &&
		    apps->v[i].play && apps->v[i].fdroid && apps->v[i].invites &&
		    (apps->v[i].platforms & (1u << WEB_PLATFORM_ANDROID)))
			found = 1;
	ok(found, "Conversations: Android, Play, F-Droid, opens invites");
	web__apps_free(&apps);
	free(err);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char file[512];

		snprintf(file, sizeof(file), "%s/bad.conf", tmpdir);
		write_file("bad.conf", bad[i].text);
		err = NULL;
		r = web__apps_load(file, &apps, &err);
		ok(r == INVITES_ECONFIG && err && strstr(err, bad[i].want) &&
		   strstr(err, "line"), "bad apps file refused: %s",
		   err ? err : "-");
		web__apps_free(&apps);
		free(err);
	}
}

static void
test_platforms(void)
{
	static const struct {
		const char *ua;
		enum web_platform p;
	} cases[] = {
		{ "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
		  "(KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36",
		  WEB_PLATFORM_ANDROID },
		{ "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) "
		  "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 "
		  "Safari/604.1", WEB_PLATFORM_IOS },
		{ "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) "
		  "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
		  WEB_PLATFORM_MACOS },
		{ "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36",
		  WEB_PLATFORM_WINDOWS },
		{ "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 "
		  "Firefox/120.0", WEB_PLATFORM_LINUX },
		{ "curl/7.88.1", WEB_PLATFORM_UNKNOWN },
		{ NULL, WEB_PLATFORM_UNKNOWN },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		is_int(web__platform_detect(cases[i].ua), cases[i].p,
		       cases[i].ua ? cases[i].ua : "(no User-Agent)");
}

static void
test_limiter(void)
{
	struct web_limiter *l = NULL;
	int i;

	ok(web__limiter_new(3, 600, &l) == 0, "limiter created");
	for (i = 0; i < 2; i++)
		web__limiter_fail(l, "192.0.2.1", 1000);
	ok(!web__limiter_blocked(l, "192.0.2.1", 1000), "2 failures: not blocked");
	web__limiter_fail(l, "192.0.2.1", 1001);
	ok(web__limiter_blocked(l, "192.0.2.1", 1002), "3 failures: blocked");
	ok(!web__limiter_blocked(l, "192.0.2.2", 1002), "other address unaffected");
	ok(!web__limiter_blocked(l, "192.0.2.1", 1000 + 600),
	   "a new window unblocks");
	/* many addresses: the fixed table never fails, old windows recycle */
	for (i = 0; i < 20000; i++) {
		char a[32];

		snprintf(a, sizeof(a), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		web__limiter_fail(l, a, 5000);
	}
	web__limiter_fail(l, "192.0.2.9", 5001);
	web__limiter_fail(l, "192.0.2.9", 5001);
	web__limiter_fail(l, "192.0.2.9", 5001);
	ok(web__limiter_blocked(l, "192.0.2.9", 5001),
	   "counting still works with the table full");
	web__limiter_free(&l);
	ok(l == NULL, "limiter freed");
}

static void
test_utf8(void)
{
	size_t n = 0;
	int valid = web__utf8_check("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", &n);

	ok(valid && n == 9, "valid UTF-8 counted in characters (%zu)", n);
	ok(!web__utf8_check("a\x01", NULL), "control character refused");
	ok(!web__utf8_check("a\x7f", NULL), "DEL refused");
	ok(!web__utf8_check("\xc0\xaf", NULL), "overlong form refused");
	ok(!web__utf8_check("\xed\xa0\x80", NULL), "surrogate refused");
	ok(!web__utf8_check("\xc2\x85", NULL), "C1 control refused");
	ok(!web__utf8_check("\xe2\x82", NULL), "truncated sequence refused");
	ok(!web__utf8_check("\xff", NULL), "invalid byte refused");
	ok(web__ct_equal("abcd", "abcd", 4) && !web__ct_equal("abcd", "abce", 4),
	   "constant-time comparison");
}

static void
test_misc(void)
{
	char id[INVITES_ID_LEN + 1], buf[64];

	web__token_id("not a token", id);
	is_str(id, "-", "public id of a malformed token is '-'");
	web__token_id("AAAAAAAAAAAAAAAAAAAAAA", id);
	ok(strlen(id) == INVITES_ID_LEN && !strstr(id, "AAAA"),
	   "public id of a token is its hash prefix (%s)", id);
	web__fmt_iso(0, buf, sizeof(buf));
	is_str(buf, "1970-01-01T00:00:00Z", "ISO time");
	web__fmt_time(86400 + 3600 + 60, buf, sizeof(buf));
	is_str(buf, "1970-01-02 01:01 UTC", "readable time");
}

int
main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_web_units.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_escape();
	test_templates();
	test_shipped_templates();
	test_qr();
	test_apps();
	test_platforms();
	test_limiter();
	test_utf8();
	test_misc();
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			diag("could not remove %s", tmpdir);
	}
	return done_testing();
}
