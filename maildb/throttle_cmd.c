/*
 * throttle_cmd.c - `maildb throttle ls` and `maildb throttle clear
 * ADDRESS|USER`: the entries of the throttle store (throttle.h) still in
 * effect, and lifting them. Takes the store's lock like every opener, so it
 * is safe while the daemons run.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "conf.h"
#include "maildb.h"
#include "throttle.h"

static void
throttle_usage(void)
{
	fprintf(stderr, "usage: maildb throttle ls\n"
	    "       maildb throttle clear ADDRESS|USER\n");
}


static int
print_entry(const struct thr_entry *e, void *arg)
{
	char last[32], until[32];

	(void)arg;
	local_time(e->last, last, sizeof(last));
	local_time(e->until, until, sizeof(until));
	printf("%-40s %8.2f %-19s %s\n", e->key, e->count, last, until);
	return 0;
}

int
maildb_throttle(const struct maildb_cmd *c, int argc, char **argv,
    const struct maildb_args *a)
{
	struct thr *t;
	int r;

	(void)c, (void)a;
	if (argc == 2 && strcmp(argv[1], "ls") == 0) {
		if (thr_open(&t, conf.throttle_db, 0) == -1) {
			perror(conf.throttle_db);
			return 1;
		}
		printf("%-40s %8s %-19s %s\n", "KEY", "COUNT", "LAST-SEEN",
		    "BLOCKED-UNTIL");
		r = thr_list(t, print_entry, NULL);
		if (thr_close(&t) == -1)
			r = -1;
		return r == -1 ? 1 : 0;
	}
	if (argc == 3 && strcmp(argv[1], "clear") == 0 && argv[2][0] != '\0') {
		if (thr_open(&t, conf.throttle_db, 0) == -1) {
			perror(conf.throttle_db);
			return 1;
		}
		r = thr_clear(t, argv[2]);
		if (thr_close(&t) == -1)
			r = -1;
		if (r == -1)
			return 1;
		printf("cleared %d entr%s for %s\n", r, r == 1 ? "y" : "ies",
		    argv[2]);
		return 0;
	}
	throttle_usage();
	return 2;
}
