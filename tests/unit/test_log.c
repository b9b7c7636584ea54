/*
 * test_log.c - libmail/base/log.c: the printable filter for client text in
 * log lines: control bytes, quotes and backslashes escaped, the cut at
 * LOG_TEXT_MAX, and pr()'s ring of LOG_PR_SLOTS buffers, so that several
 * pr() results in one log line stay distinct.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "log.h"
#include "params.h"

int
main(void)
{
	char line[2 * LOG_TEXT_MAX + 64], long_in[3 * LOG_TEXT_MAX], out[64];
	const char *p[LOG_PR_SLOTS + 1];
	size_t n;
	int i, distinct;

	/* the bug pr() had: one static buffer, so this printed "b b" */
	snprintf(line, sizeof(line), "%s %s", pr("a"), pr("b"));
	CHECK(strcmp(line, "a b") == 0, "two pr() in one printf: two values");

	for (i = 0; i < LOG_PR_SLOTS; i++) {
		char v[8];

		snprintf(v, sizeof(v), "v%d", i);
		p[i] = pr(v);
	}
	distinct = 1;
	for (i = 0; i < LOG_PR_SLOTS; i++) {
		char v[8];

		snprintf(v, sizeof(v), "v%d", i);
		distinct &= strcmp(p[i], v) == 0;
	}
	CHECK(distinct, "LOG_PR_SLOTS results valid at once");
	p[LOG_PR_SLOTS] = pr("next");
	CHECK(p[LOG_PR_SLOTS] == p[0] && strcmp(p[0], "next") == 0,
	    "the call after that reuses the oldest buffer");

	CHECK(strcmp(pr("a\r\nb\tc\x01\x7f\xff"), "a\\x0d\\x0ab\\x09c\\x01\\x7f\\xff") == 0,
	    "control bytes, DEL and 8-bit become \\xNN");
	CHECK(strcmp(pr("say \"hi\" \\o/"), "say \\\"hi\\\" \\\\o/") == 0,
	    "quotes and backslashes escaped");
	CHECK(strcmp(pr(""), "") == 0, "empty string");

	memset(long_in, 'x', sizeof(long_in) - 1);
	long_in[sizeof(long_in) - 1] = '\0';
	n = strlen(pr(long_in));
	CHECK(n == LOG_TEXT_MAX + 3 && strcmp(pr(long_in) + LOG_TEXT_MAX, "...") == 0,
	    "cut at LOG_TEXT_MAX, then \"...\"");
	long_in[LOG_TEXT_MAX] = '\0';
	CHECK(strcmp(pr(long_in), long_in) == 0, "exactly LOG_TEXT_MAX: not cut");
	memset(long_in, '\x01', LOG_TEXT_MAX);
	n = strlen(pr(long_in));
	CHECK(n <= LOG_TEXT_MAX + 3 && strcmp(pr(long_in) + n - 3, "...") == 0 &&
	    (n - 3) % 4 == 0, "escapes are never cut in half");

	CHECK(strcmp(printable("ab\ncd", 5, out, sizeof(out)), "ab\\x0acd") == 0,
	    "printable: a length, not a NUL");
	CHECK(strcmp(printable("a\0b", 3, out, sizeof(out)), "a\\x00b") == 0,
	    "printable: NUL inside");
	memset(long_in, 'y', 100);
	printable(long_in, 100, out, sizeof(out));
	CHECK(strlen(out) == sizeof(out) - 4 + 3 && strcmp(out + sizeof(out) - 4, "...") == 0,
	    "printable: cut to a small output buffer");
	return CHECK_DONE();
}
