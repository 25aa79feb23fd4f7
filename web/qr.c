/* SPDX-License-Identifier: MIT */
/*
 * QR codes for landing pages, drawn on the server: libqrencode makes the
 * matrix and this file writes it as one inline <svg> path (one rectangle
 * per horizontal run of dark modules, quiet zone of four modules), so the
 * code shows without JavaScript, scales to any width and needs no request.
 * libqrencode spends most of its time choosing the mask (about half a
 * millisecond for a landing URL), so the last few SVGs are kept in a small
 * cache: a link opened again (a reload, a scan, a retry) costs nothing.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <qrencode.h>

#include "web.h"

#define QR_QUIET 4

char *
web__qr_svg(const char *text, const char *title)
{
	QRcode *qr;
	struct inv__buf b;
	int size, x, y;

	if (!text || !*text)
		return NULL;
	qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if (!qr)
		return NULL;
	size = qr->width + 2 * QR_QUIET;
	inv__buf_init(&b);
	inv__buf_printf(&b,
	                "<svg class=\"qr\" xmlns=\"http://www.w3.org/2000/svg\" "
	                "viewBox=\"0 0 %d %d\" role=\"img\" "
	                "shape-rendering=\"crispEdges\" aria-label=\"",
	                size, size);
	web__html_escape(&b, title ? title : "QR code");
	inv__buf_puts(&b, "\"><title>");
	web__html_escape(&b, title ? title : "QR code");
	inv__buf_printf(&b, "</title><rect width=\"%d\" height=\"%d\" "
	                "fill=\"#fff\"/><path fill=\"#000\" d=\"", size, size);
	for (y = 0; y < qr->width; y++) {
		x = 0;
		while (x < qr->width) {
			int run;

			if (!(qr->data[y * qr->width + x] & 1)) {
				x++;
				continue;
			}
			run = 1;
			while (x + run < qr->width &&
			       (qr->data[y * qr->width + x + run] & 1))
				run++;
			inv__buf_printf(&b, "M%d %dh%dv1h-%dz", x + QR_QUIET,
			                y + QR_QUIET, run, run);
			x += run;
		}
	}
	inv__buf_puts(&b, "\"/></svg>");
	QRcode_free(qr);
	return inv__buf_steal(&b);
}

#define QR_CACHE 64

struct qr_entry {
	char *key;      /* text NUL title */
	size_t keylen;
	char *svg;
	uint64_t used;
};

static struct qr_entry qr_cache[QR_CACHE];
static uint64_t qr_clock;
static pthread_mutex_t qr_lock = PTHREAD_MUTEX_INITIALIZER;

char *
web__qr_svg_cached(const char *text, const char *title)
{
	size_t tl = strlen(text), hl = title ? strlen(title) : 0;
	size_t keylen = tl + 1 + hl;
	char *key, *svg, *copy = NULL;
	struct qr_entry *victim = &qr_cache[0];
	int i;

	key = inv__malloc(keylen + 1);
	if (!key)
		return NULL;
	memcpy(key, text, tl + 1);
	if (title)
		memcpy(key + tl + 1, title, hl + 1);
	else
		key[tl + 1] = '\0';
	pthread_mutex_lock(&qr_lock);
	for (i = 0; i < QR_CACHE; i++) {
		struct qr_entry *e = &qr_cache[i];

		if (e->key && e->keylen == keylen &&
		    memcmp(e->key, key, keylen) == 0) {
			e->used = ++qr_clock;
			copy = inv__strdup(e->svg);
			pthread_mutex_unlock(&qr_lock);
			free(key);
			return copy;
		}
		if (e->used < victim->used)
			victim = e;
	}
	pthread_mutex_unlock(&qr_lock);

	svg = web__qr_svg(text, title);
	if (!svg) {
		free(key);
		return NULL;
	}
	copy = inv__strdup(svg);
	pthread_mutex_lock(&qr_lock);
	if (copy) {
		/* pick the least recently used slot again: others may have run */
		victim = &qr_cache[0];
		for (i = 1; i < QR_CACHE; i++)
			if (qr_cache[i].used < victim->used)
				victim = &qr_cache[i];
		free(victim->key);
		free(victim->svg);
		victim->key = key;
		victim->keylen = keylen;
		victim->svg = copy;
		victim->used = ++qr_clock;
		key = NULL;
	}
	pthread_mutex_unlock(&qr_lock);
	free(key);
	return svg;
}

void
web__qr_cache_clear(void)
{
	int i;

	pthread_mutex_lock(&qr_lock);
	for (i = 0; i < QR_CACHE; i++) {
		free(qr_cache[i].key);
		free(qr_cache[i].svg);
		memset(&qr_cache[i], 0, sizeof(qr_cache[i]));
	}
	pthread_mutex_unlock(&qr_lock);
}
