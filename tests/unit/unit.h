/*
 * Unit tests use cmocka; this pulls in what its header needs first, and the
 * few helpers that several test files share (static inline: a test file
 * that does not use one pays nothing for it).
 */
#ifndef NFQT_UNIT_H
#define NFQT_UNIT_H

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config/config.h"
#include "config/config_test.h"

/* A small file's contents as a string ("" when it cannot be read). */
static inline size_t
unit_read_file(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	buf[0] = '\0';
	if ((fd = open(path, O_RDONLY)) < 0)
		return 0;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	return (size_t)n;
}

/* A config that must be refused: its errors as the user reads them. */
static inline const char *
unit_config_errors(const char *text)
{
	static char buf[4096];
	struct config *cfg;
	FILE *f;
	int n;

	memset(buf, 0, sizeof(buf));
	f = fmemopen(buf, sizeof(buf) - 1, "w");
	assert_non_null(f);
	cfg = config_load_string("t.ini", text, f, &n);
	fclose(f);
	assert_null(cfg);
	return buf;
}

#endif
