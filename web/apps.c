/* SPDX-License-Identifier: MIT */
/*
 * The list of client apps shown on landing pages, read once at start from
 * an editable data file (apps.conf), and platform detection from the
 * User-Agent, on the server, so the visitor's platform comes first even
 * without JavaScript.  The file is INI-like:
 *
 *   [conversations]              id: a-z 0-9 -, unique
 *   name = Conversations
 *   platforms = android          android ios macos windows linux
 *   text = One line about it
 *   play = eu.siacs.conversations   Play Store package (link gets referrer=)
 *   fdroid = eu.siacs.conversations F-Droid package
 *   appstore = https://apps.apple.com/app/...
 *   url = https://conversations.im/
 *   invites = yes                opens invite links (pre-auth) itself
 *
 * Links must be https (or http); a bad line is an error naming the line.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web.h"

static const char *const platform_keys[WEB_PLATFORM_COUNT] = {
	"other", "android", "ios", "macos", "windows", "linux"
};
static const char *const platform_names[WEB_PLATFORM_COUNT] = {
	"other platforms", "Android", "iPhone and iPad", "macOS", "Windows",
	"Linux"
};

const char *
web__platform_key(enum web_platform p)
{
	return (unsigned)p < WEB_PLATFORM_COUNT ? platform_keys[p] : "other";
}

const char *
web__platform_name(enum web_platform p)
{
	return (unsigned)p < WEB_PLATFORM_COUNT ? platform_names[p]
						: platform_names[0];
}

enum web_platform
web__platform_detect(const char *ua)
{
	if (!ua)
		return WEB_PLATFORM_UNKNOWN;
	/* Order matters: Android UAs say "Linux", iOS ones "like Mac OS X". */
	if (strstr(ua, "Android"))
		return WEB_PLATFORM_ANDROID;
	if (strstr(ua, "iPhone") || strstr(ua, "iPad") || strstr(ua, "iPod"))
		return WEB_PLATFORM_IOS;
	if (strstr(ua, "Macintosh") || strstr(ua, "Mac OS X") ||
	    strstr(ua, "macOS"))
		return WEB_PLATFORM_MACOS;
	if (strstr(ua, "Windows"))
		return WEB_PLATFORM_WINDOWS;
	if (strstr(ua, "Linux") || strstr(ua, "X11") || strstr(ua, "BSD"))
		return WEB_PLATFORM_LINUX;
	return WEB_PLATFORM_UNKNOWN;
}

static void
app_clear(struct web_app *a)
{
	free(a->id);
	free(a->name);
	free(a->text);
	free(a->play);
	free(a->fdroid);
	free(a->appstore);
	free(a->url);
	memset(a, 0, sizeof(*a));
}

void
web__apps_free(struct web_apps **apps)
{
	size_t i;

	if (!apps || !*apps)
		return;
	for (i = 0; i < (*apps)->n; i++)
		app_clear(&(*apps)->v[i]);
	free((*apps)->v);
	free(*apps);
	*apps = NULL;
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
	                 e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int
chars_ok(const char *s, const char *extra)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr(extra, *s)))
			return 0;
	return 1;
}

static int
url_ok(const char *s)
{
	const char *p;

	if (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0)
		return 0;
	for (p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '"' || *p == '<' ||
		    *p == '>' || *p == '\\' || (unsigned char)*p >= 0x7f)
			return 0;
	return 1;
}

static const char *
set_field(struct web_app *a, const char *key, const char *val)
{
	char **slot = NULL;

	if (strcmp(key, "name") == 0) {
		if (!web__utf8_check(val, NULL) || !*val)
			return "bad name";
		slot = &a->name;
	} else if (strcmp(key, "text") == 0) {
		if (!web__utf8_check(val, NULL))
			return "bad text";
		slot = &a->text;
	} else if (strcmp(key, "play") == 0 || strcmp(key, "fdroid") == 0) {
		if (!chars_ok(val, "._"))
			return "bad package name";
		slot = key[0] == 'p' ? &a->play : &a->fdroid;
	} else if (strcmp(key, "appstore") == 0 || strcmp(key, "url") == 0) {
		if (!url_ok(val))
			return "links must be http:// or https:// URLs";
		slot = key[0] == 'a' ? &a->appstore : &a->url;
	} else if (strcmp(key, "invites") == 0) {
		if (strcmp(val, "yes") == 0)
			a->invites = 1;
		else if (strcmp(val, "no") == 0)
			a->invites = 0;
		else
			return "invites must be yes or no";
		return NULL;
	} else if (strcmp(key, "platforms") == 0) {
		char buf[256];
		char *save = NULL, *tok;

		if (strlen(val) >= sizeof(buf))
			return "platforms too long";
		strcpy(buf, val);
		a->platforms = 0;
		for (tok = strtok_r(buf, ", ", &save); tok;
		     tok = strtok_r(NULL, ", ", &save)) {
			int p, found = 0;

			for (p = 1; p < WEB_PLATFORM_COUNT; p++)
				if (strcmp(tok, platform_keys[p]) == 0) {
					a->platforms |= 1u << p;
					found = 1;
				}
			if (!found)
				return "unknown platform (android ios macos windows linux)";
		}
		return NULL;
	} else {
		return "unknown key";
	}
	if (*slot)
		return "key given twice";
	*slot = inv__strdup(val);
	return *slot ? NULL : "out of memory";
}

int
web__apps_load(const char *path, struct web_apps **apps_r, char **errmsg_r)
{
	struct web_apps *apps;
	FILE *f;
	char line[1024];
	unsigned lineno = 0;
	const char *err = NULL;
	size_t cap = 0;

	*apps_r = NULL;
	f = fopen(path, "r");
	if (!f) {
		if (errmsg_r)
			*errmsg_r = inv__asprintf("%s: %s", path, strerror(errno));
		return INVITES_ECONFIG;
	}
	apps = inv__calloc(1, sizeof(*apps));
	if (!apps) {
		fclose(f);
		return INVITES_ENOMEM;
	}
	while (!err && fgets(line, sizeof(line), f)) {
		char *s, *eq;
		struct web_app *cur = apps->n ? &apps->v[apps->n - 1] : NULL;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			err = "line too long";
			break;
		}
		s = trim(line);
		if (!*s || *s == '#')
			continue;
		if (*s == '[') {
			char *e = strchr(s, ']');
			size_t i;

			if (!e || e[1]) {
				err = "bad section line";
				break;
			}
			*e = '\0';
			s++;
			if (!chars_ok(s, "-") || strlen(s) > 64) {
				err = "bad app id (a-z 0-9 -)";
				break;
			}
			for (i = 0; i < apps->n; i++)
				if (strcmp(apps->v[i].id, s) == 0)
					err = "app id given twice";
			if (err)
				break;
			if (cur && (!cur->name || !cur->platforms)) {
				err = "the previous app lacks name or platforms";
				break;
			}
			if (apps->n == cap) {
				size_t ncap = cap ? cap * 2 : 16;
				struct web_app *v = inv__realloc(apps->v,
				                                 ncap * sizeof(*v));

				if (!v) {
					err = "out of memory";
					break;
				}
				apps->v = v;
				cap = ncap;
			}
			memset(&apps->v[apps->n], 0, sizeof(apps->v[0]));
			apps->v[apps->n].id = inv__strdup(s);
			if (!apps->v[apps->n].id) {
				err = "out of memory";
				break;
			}
			apps->n++;
			continue;
		}
		eq = strchr(s, '=');
		if (!eq) {
			err = "expected key = value";
			break;
		}
		if (!cur) {
			err = "key before the first [app] section";
			break;
		}
		*eq = '\0';
		err = set_field(cur, trim(s), trim(eq + 1));
	}
	fclose(f);
	if (!err && apps->n &&
	    (!apps->v[apps->n - 1].name || !apps->v[apps->n - 1].platforms)) {
		err = "the last app lacks name or platforms";
		lineno++;
	}
	if (err) {
		if (errmsg_r)
			*errmsg_r = inv__asprintf("%s: line %u: %s", path, lineno, err);
		web__apps_free(&apps);
		return INVITES_ECONFIG;
	}
	*apps_r = apps;
	return 0;
}
