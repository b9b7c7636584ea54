/*
 * greylist_cmd.c - `maildb greylist ls` and `maildb greylist clear
 * ADDRESS|PREFIX|EMAIL|all`: the greylisting triplets (greylist.h) still in
 * effect, and forgetting them (a cleared triplet is greylisted afresh).
 * Takes the store's lock like every opener: safe while smtpd runs.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "conf.h"
#include "greylist.h"
#include "maildb.h"


static int
print_entry(const struct grey_entry *e, void *arg)
{
	char first[32], last[32];

	(void)arg;
	local_time(e->first, first, sizeof(first));
	local_time(e->last, last, sizeof(last));
	printf("%-20s %-8s %5u %-19s %-19s %s %s\n", e->net,
	    e->passed ? "passed" : "waiting", (unsigned)e->count, first, last,
	    e->sender, e->rcpt);
	return 0;
}

int
maildb_greylist(const struct maildb_cmd *c, int argc, char **argv,
    const struct maildb_args *a)
{
	struct thr *t;
	int r;

	(void)c, (void)a;
	if ((argc == 2 && strcmp(argv[1], "ls") == 0) ||
	    (argc == 3 && strcmp(argv[1], "clear") == 0 && argv[2][0] != '\0')) {
		if (grey_open(&t, 0) == -1) {
			perror(conf.greylist_db);
			return 1;
		}
		if (argc == 2) {
			printf("%-20s %-8s %5s %-19s %-19s %s\n", "NETWORK",
			    "STATE", "SEEN", "FIRST", "LAST", "SENDER RECIPIENT");
			r = grey_list(t, print_entry, NULL);
		} else if ((r = grey_clear(t, argv[2])) >= 0)
			printf("cleared %d triplet%s for %s\n", r,
			    r == 1 ? "" : "s", argv[2]);
		if (thr_close(&t) == -1)
			r = -1;
		return r == -1 ? 1 : 0;
	}
	fprintf(stderr, "usage: maildb greylist ls\n"
	    "       maildb greylist clear ADDRESS|PREFIX|EMAIL|all\n");
	return 2;
}
