/* SPDX-License-Identifier: MIT */
/*
 * Page templates of invites-web: a small logic-less language (see web.h),
 * parsed once at start into a tree and rendered per request without
 * touching the file system.  Every text value is HTML-escaped on output;
 * only values the daemon itself built as markup (the QR code) are not, and
 * that choice is the daemon's, never the template's.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web.h"

enum tnode_kind { TN_TEXT, TN_VAR, TN_SECTION, TN_INVERTED };

struct tnode {
	enum tnode_kind kind;
	char *s;              /* text, or the variable / section name */
	size_t len;           /* of text */
	struct tnode *child;  /* sections */
	struct tnode *next;
};

struct web_tmpl {
	struct tnode *root;
};

struct tparse {
	const char *dir;
	const char *fallback;
	const char *file;     /* for messages */
	const char *src;
	size_t pos;
	char **errmsg_r;
	int oom;
};

static void
tnode_free(struct tnode *n)
{
	while (n) {
		struct tnode *next = n->next;

		tnode_free(n->child);
		free(n->s);
		free(n);
		n = next;
	}
}

static char *
read_file(const char *path, size_t max, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	char *p;
	size_t n;

	if (!f)
		return NULL;
	p = inv__malloc(max + 1);
	if (!p) {
		fclose(f);
		errno = ENOMEM;
		return NULL;
	}
	n = fread(p, 1, max + 1, f);
	if (ferror(f) || n > max) {
		fclose(f);
		free(p);
		errno = n > max ? EFBIG : EIO;
		return NULL;
	}
	fclose(f);
	p[n] = '\0';
	if (len_r)
		*len_r = n;
	return p;
}

/* Read dir/name, else fallback/name; the path used in *path_r. */
static char *
read_template(const char *dir, const char *fallback, const char *name,
              char **path_r)
{
	const char *dirs[2] = { dir, fallback };
	int i;

	*path_r = NULL;
	for (i = 0; i < 2; i++) {
		char *path, *s;

		if (!dirs[i] || !*dirs[i])
			continue;
		path = inv__asprintf("%s/%s", dirs[i], name);
		if (!path)
			return NULL;
		s = read_file(path, 1024 * 1024, NULL);
		if (s) {
			*path_r = path;
			return s;
		}
		free(path);
		if (errno != ENOENT)
			break;
	}
	return NULL;
}

static unsigned
line_of(const char *src, size_t pos)
{
	unsigned line = 1;
	size_t i;

	for (i = 0; i < pos && src[i]; i++)
		if (src[i] == '\n')
			line++;
	return line;
}

static int
perr(struct tparse *p, const char *msg)
{
	if (p->errmsg_r && !*p->errmsg_r)
		*p->errmsg_r = inv__asprintf("%s: line %u: %s", p->file,
		                             line_of(p->src, p->pos), msg);
	return INVITES_ECONFIG;
}

static int
name_ok(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || *s == '-' || *s == '.'))
			return 0;
	return 1;
}

static struct tnode *
tnode_new(enum tnode_kind kind, const char *s, size_t len)
{
	struct tnode *n = inv__calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->kind = kind;
	n->s = inv__strndup(s, len);
	n->len = len;
	if (!n->s) {
		free(n);
		return NULL;
	}
	return n;
}

static int parse_file(const char *dir, const char *fallback, const char *name,
                      int depth, struct tnode **out_r, char **errmsg_r);

/*
 * Parse p->src from p->pos until end of input (closing == NULL) or until
 * {{/closing}}.  Appends to *tail.
 */
static int
parse_nodes(struct tparse *p, const char *closing, int depth,
            struct tnode ***tail)
{
	const char *src = p->src;

	for (;;) {
		const char *open = strstr(src + p->pos, "{{");
		const char *close;
		char tag[128];
		size_t tlen, textlen;
		char sigil;
		const char *name;
		struct tnode *n;
		int r;

		textlen = open ? (size_t)(open - (src + p->pos))
			       : strlen(src + p->pos);
		if (textlen) {
			n = tnode_new(TN_TEXT, src + p->pos, textlen);
			if (!n)
				return INVITES_ENOMEM;
			**tail = n;
			*tail = &n->next;
			p->pos += textlen;
		}
		if (!open) {
			if (closing)
				return perr(p, "section not closed");
			return 0;
		}
		close = strstr(open + 2, "}}");
		if (!close)
			return perr(p, "'{{' without '}}'");
		tlen = (size_t)(close - (open + 2));
		sigil = tlen ? open[2] : '\0';
		if (sigil == '!') { /* comment */
			p->pos = (size_t)(close + 2 - src);
			continue;
		}
		if (tlen == 0 || tlen >= sizeof(tag))
			return perr(p, "empty or overlong tag");
		memcpy(tag, open + 2, tlen);
		tag[tlen] = '\0';
		name = tag;
		if (strchr("#^/>", sigil))
			name++;
		while (*name == ' ')
			name++;
		{
			char *e = tag + tlen;

			while (e > name && e[-1] == ' ')
				*--e = '\0';
		}
		if (!name_ok(name))
			return perr(p, "bad name in tag (a-z 0-9 _ - . only)");
		p->pos = (size_t)(close + 2 - src);

		switch (sigil) {
		case '/':
			if (!closing || strcmp(closing, name) != 0)
				return perr(p, "unexpected closing tag");
			return 0;
		case '#':
		case '^': {
			struct tnode **ctail;

			if (depth >= WEB_TMPL_DEPTH)
				return perr(p, "sections nested too deeply");
			n = tnode_new(sigil == '#' ? TN_SECTION : TN_INVERTED,
			              name, strlen(name));
			if (!n)
				return INVITES_ENOMEM;
			**tail = n;
			*tail = &n->next;
			ctail = &n->child;
			r = parse_nodes(p, n->s, depth + 1, &ctail);
			if (r)
				return r;
			break;
		}
		case '>': {
			struct tnode *sub = NULL;
			char file[160];

			if (depth >= WEB_TMPL_DEPTH)
				return perr(p, "partials nested too deeply");
			snprintf(file, sizeof(file), "%s.html", name);
			r = parse_file(p->dir, p->fallback, file, depth + 1,
			               &sub, p->errmsg_r);
			if (r)
				return r;
			if (sub) {
				**tail = sub;
				while (sub->next)
					sub = sub->next;
				*tail = &sub->next;
			}
			break;
		}
		default:
			n = tnode_new(TN_VAR, name, strlen(name));
			if (!n)
				return INVITES_ENOMEM;
			**tail = n;
			*tail = &n->next;
			break;
		}
	}
}

static int
parse_file(const char *dir, const char *fallback, const char *name, int depth,
           struct tnode **out_r, char **errmsg_r)
{
	struct tparse p;
	struct tnode *root = NULL, **tail = &root;
	char *path = NULL;
	char *src;
	int r;

	*out_r = NULL;
	src = read_template(dir, fallback, name, &path);
	if (!src) {
		if (errno == ENOMEM)
			return INVITES_ENOMEM;
		if (errmsg_r && !*errmsg_r)
			*errmsg_r = inv__asprintf("template %s: %s (looked in %s%s%s)",
			                          name, strerror(errno),
			                          dir ? dir : "",
			                          dir && fallback ? " and " : "",
			                          fallback ? fallback : "");
		return INVITES_ECONFIG;
	}
	memset(&p, 0, sizeof(p));
	p.dir = dir;
	p.fallback = fallback;
	p.file = path;
	p.src = src;
	p.errmsg_r = errmsg_r;
	r = parse_nodes(&p, NULL, depth, &tail);
	free(src);
	free(path);
	if (r) {
		tnode_free(root);
		return r;
	}
	*out_r = root;
	return 0;
}

int
web__tmpl_load(const char *dir, const char *fallback_dir, const char *name,
               struct web_tmpl **t_r, char **errmsg_r)
{
	struct web_tmpl *t;
	int r;

	*t_r = NULL;
	t = inv__calloc(1, sizeof(*t));
	if (!t)
		return INVITES_ENOMEM;
	r = parse_file(dir, fallback_dir, name, 0, &t->root, errmsg_r);
	if (r) {
		free(t);
		return r;
	}
	*t_r = t;
	return 0;
}

void
web__tmpl_free(struct web_tmpl **t)
{
	if (!t || !*t)
		return;
	tnode_free((*t)->root);
	free(*t);
	*t = NULL;
}

static const struct web_tvar *
lookup(const struct web_tctx *ctx, const char *name)
{
	for (; ctx; ctx = ctx->parent) {
		size_t i;

		for (i = 0; i < ctx->n; i++)
			if (strcmp(ctx->v[i].name, name) == 0)
				return &ctx->v[i];
	}
	return NULL;
}

static int
truthy(const struct web_tvar *v)
{
	if (!v)
		return 0;
	if (v->type == WEB_TV_LIST)
		return v->n_items > 0;
	return v->s && *v->s;
}

static void
render_nodes(const struct tnode *n, const struct web_tctx *ctx,
             struct inv__buf *b)
{
	for (; n; n = n->next) {
		const struct web_tvar *v;

		switch (n->kind) {
		case TN_TEXT:
			inv__buf_append(b, n->s, n->len);
			break;
		case TN_VAR:
			v = lookup(ctx, n->s);
			if (!v || !v->s)
				break;
			if (v->type == WEB_TV_HTML)
				inv__buf_puts(b, v->s);
			else if (v->type == WEB_TV_TEXT)
				web__html_escape(b, v->s);
			break;
		case TN_SECTION:
			v = lookup(ctx, n->s);
			if (!truthy(v))
				break;
			if (v->type == WEB_TV_LIST) {
				size_t i;

				for (i = 0; i < v->n_items; i++) {
					struct web_tctx item = v->items[i];

					item.parent = ctx;
					render_nodes(n->child, &item, b);
				}
			} else {
				render_nodes(n->child, ctx, b);
			}
			break;
		case TN_INVERTED:
			if (!truthy(lookup(ctx, n->s)))
				render_nodes(n->child, ctx, b);
			break;
		}
	}
}

void
web__tmpl_render(const struct web_tmpl *t, const struct web_tctx *ctx,
                 struct inv__buf *b)
{
	if (t)
		render_nodes(t->root, ctx, b);
}
