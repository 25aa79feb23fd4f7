/* SPDX-License-Identifier: MIT */
/*
 * Replay driver for the libFuzzer targets in tests/fuzz/: a main() that
 * feeds every file of the given corpus directories (or single files) to
 * LLVMFuzzerTestOneInput(), so `make check` runs the committed corpora
 * with the normal compiler, and under ASan/UBSan in a sanitizer build.
 *
 * Built once per target with -DFUZZ_TARGET='"name"'.  Without arguments
 * it replays $top_srcdir/tests/fuzz/corpus/<name> (automake's test
 * environment sets top_srcdir).  Output is TAP, one test point per input;
 * a target reports a failure by crashing (abort, sanitizer), which the TAP
 * driver shows as a failed test after the name of the input, printed
 * first.  Each input is copied into a buffer of exactly its size so that
 * reads past the end are caught by ASan.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tap.h"

#ifndef FUZZ_TARGET
#error "build with -DFUZZ_TARGET='\"name\"'"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Read a whole file into an exact-size buffer (size 0: a 1-byte one). */
static int
slurp(const char *path, uint8_t **data_r, size_t *size_r)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0, len = 0, n;
	uint8_t chunk[65536];

	if (f == NULL)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		uint8_t *nb;

		if (len + n > cap) {
			cap = (len + n) * 2;
			nb = realloc(buf, cap);
			if (nb == NULL) {
				free(buf);
				fclose(f);
				return -1;
			}
			buf = nb;
		}
		memcpy(buf + len, chunk, n);
		len += n;
	}
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	/* exact size, so that ASan sees any read past the end */
	*data_r = malloc(len ? len : 1);
	if (*data_r == NULL) {
		free(buf);
		return -1;
	}
	if (len)
		memcpy(*data_r, buf, len);
	free(buf);
	*size_r = len;
	return 0;
}

static void
run_file(const char *path, size_t *count)
{
	uint8_t *data;
	size_t size;

	if (slurp(path, &data, &size) < 0) {
		ok(0, "%s: %s", path, strerror(errno));
		return;
	}
	diag("input %s (%zu bytes)", path, size);
	LLVMFuzzerTestOneInput(data, size);
	free(data);
	ok(1, "%s", path);
	(*count)++;
}

static int
no_dot(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

static void
run_path(const char *path, size_t *count)
{
	struct stat st;
	struct dirent **ents;
	int n, i;

	if (stat(path, &st) < 0) {
		ok(0, "%s: %s", path, strerror(errno));
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		run_file(path, count);
		return;
	}
	n = scandir(path, &ents, no_dot, alphasort);
	if (n < 0) {
		ok(0, "%s: %s", path, strerror(errno));
		return;
	}
	for (i = 0; i < n; i++) {
		size_t len = strlen(path) + strlen(ents[i]->d_name) + 2;
		char *full = malloc(len);

		if (full != NULL) {
			snprintf(full, len, "%s/%s", path, ents[i]->d_name);
			if (stat(full, &st) == 0 && S_ISREG(st.st_mode))
				run_file(full, count);
			free(full);
		}
		free(ents[i]);
	}
	free(ents);
}

int
main(int argc, char **argv)
{
	size_t count = 0;
	int i;

	/* The empty input first: every target must take it. */
	LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
	ok(1, "empty input");
	if (argc > 1) {
		for (i = 1; i < argc; i++)
			run_path(argv[i], &count);
	} else {
		const char *top = getenv("top_srcdir");
		const char *rel = "/tests/fuzz/corpus/" FUZZ_TARGET;
		size_t len;
		char *dir;

		if (top == NULL)
			top = ".";
		len = strlen(top) + strlen(rel) + 1;
		dir = malloc(len);
		if (dir == NULL)
			return 99;
		snprintf(dir, len, "%s%s", top, rel);
		run_path(dir, &count);
		free(dir);
		ok(count > 0, "corpus of %s is not empty", FUZZ_TARGET);
	}
	return done_testing();
}
