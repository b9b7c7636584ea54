/*
 * check.h - the one assertion style of the unit tests: one numbered TAP
 * line per check ("ok N - what" / "not ok N - what (file:line)"), comment
 * lines starting "# ", and an exit status that says whether all passed.
 *
 *	CHECK(cond, "what");			a fixed name
 *	CHECKF(cond, "what %d", n);		a printf-style name
 *	CHECK_SKIP("what", "why");		"ok N - what # SKIP why"
 *	CHECK_DIAG("left %s", dir);		"# left ..."
 *	return CHECK_DONE();			plan "1..N", summary, 0 or 1
 *
 * CHECK and CHECKF are expressions worth 1 when cond held, else 0. Every
 * line is flushed at once, so a forked child never repeats it.
 */
#ifndef CHECK_H
#define CHECK_H

#include <stdarg.h>
#include <stdio.h>

static int check_n, check_failed, check_skipped, check_cond;

static inline int check_result(int, const char *, int, const char *, ...)
    __attribute__((format(printf, 4, 5)));
static inline void check_diag(const char *, ...)
    __attribute__((format(printf, 1, 2)));

static inline int
check_result(int ok, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	check_n++;
	printf("%sok %d - ", ok ? "" : "not ", check_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (!ok) {
		printf(" (%s:%d)", file, line);
		check_failed++;
	}
	printf("\n");
	fflush(stdout);
	return ok;
}

static inline void
check_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static inline void
check_skip(const char *name, const char *why)
{
	check_n++;
	check_skipped++;
	printf("ok %d - %s # SKIP %s\n", check_n, name, why);
	fflush(stdout);
}

static inline int
check_done(void)
{
	printf("1..%d\n# %d checks, %d failed, %d skipped\n", check_n,
	    check_n, check_failed, check_skipped);
	fflush(stdout);
	return check_failed ? 1 : 0;
}

/* cond first (a sequence point), then the name's arguments: a name may
 * show what cond computed */
#define CHECK(cond, name)	(check_cond = !!(cond), check_result(check_cond, \
				    __FILE__, __LINE__, "%s", (name)))
#define CHECKF(cond, ...)	(check_cond = !!(cond), check_result(check_cond, \
				    __FILE__, __LINE__, __VA_ARGS__))
#define CHECK_SKIP(name, why)	check_skip((name), (why))
#define CHECK_DIAG(...)		check_diag(__VA_ARGS__)
#define CHECK_DONE()		check_done()

#endif
