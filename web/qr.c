/* SPDX-License-Identifier: MIT */
/*
 * QR codes for landing pages, drawn on the server: libqrencode makes the
 * matrix and this file writes it as one inline <svg> path (one rectangle
 * per horizontal run of dark modules, quiet zone of four modules), so the
 * code shows without JavaScript, scales to any width and needs no request.
 */
#include "config.h"

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
