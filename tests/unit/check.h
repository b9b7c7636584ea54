/*
 * check.h - the few lines every unit test shares: one "ok"/"not ok" line
 * per check, and an exit status that says whether all passed.
 */
#ifndef CHECK_H
#define CHECK_H

#include <stdio.h>

static int check_n, check_failed;

#define CHECK(cond, name) do {						\
	check_n++;							\
	if (cond)							\
		printf("ok %d - %s\n", check_n, name);			\
	else {								\
		printf("not ok %d - %s (%s:%d)\n", check_n, name,	\
		    __FILE__, __LINE__);				\
		check_failed++;						\
	}								\
} while (0)

#define CHECK_DONE() (printf("# %d checks, %d failed\n", check_n,	\
	check_failed), check_failed ? 1 : 0)

#endif
