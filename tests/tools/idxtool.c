/*
 * idxtool - test helper over libmail's Maildir delivery and index, for
 * tests/e2e/index_kill.sh and for measuring the index's costs.
 *   idxtool deliver MAILDIR N ACKLOG   deliver N messages, each followed
 *                                      by its index record (as a reader's
 *                                      sync would add it); after both,
 *                                      append its name to ACKLOG (one write)
 *   idxtool sync MAILDIR [full]        open, sync, print counts
 *   idxtool open MAILDIR               open+close; prints the time taken
 *   idxtool count MAILDIR              "count wsize"
 *   idxtool list MAILDIR               one record a line, arrival order
 *   idxtool bench MAILDIR N            N open+put+close cycles, ms each
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "index.h"
#include "maildir.h"
#include "util.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void
die(const char *what)
{
	fprintf(stderr, "idxtool: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int
deliver(const char *md, long n, const char *ack)
{
	char body[8192], name[IDX_NAME_MAX + 2];
	struct idx_rec rec;
	struct idx *ix;
	long i;
	int lfd, mfd;
	size_t len, k;

	srand((unsigned)getpid());
	if ((lfd = open(ack, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) == -1)
		die(ack);
	for (i = 0; i < n; i++) {
		if ((mfd = memfd_create("msg", MFD_CLOEXEC)) == -1)
			die("memfd_create");
		if (str_fmt(body, sizeof(body), "From: <t%d@x.test>\nSubject: "
		    "message %ld of %d\nMessage-ID: <%d.%ld@x.test>\n\n",
		    (int)getpid(), i, (int)getpid(), (int)getpid(), i) == -1)
			die("format");
		len = strlen(body);
		for (k = (size_t)(rand() % 4000); k > 0; k--)
			body[len++] = (k % 72 == 0) ? '\n' : (char)('a' + k % 26);
		if (rand() % 2)
			body[len++] = '\n';
		if (write_all(mfd, body, len) == -1)
			die("write");
		if (maildir_deliver(md, "Return-Path: <t@x.test>\n", mfd, &rec) == -1)
			die("maildir_deliver");
		close(mfd);
		/* delivery leaves the index to its readers; write the record
		 * as a reader's sync would, so kills also hit index commits */
		if (idx_open(&ix, md, IDX_CREATE) == -1 || idx_put(ix, &rec) == -1)
			die("index");
		idx_close(&ix);
		/* acknowledged: one write, so concurrent logs never interleave */
		if (str_fmt(name, sizeof(name), "%s\n", rec.name) == -1 ||
		    write_all(lfd, name, strlen(name)) == -1)
			die("ack log");
	}
	return 0;
}

static int
print_rec(const struct idx_rec *r, void *arg)
{
	(void)arg;
	printf("%s %s %s %" PRIu64 " %" PRIu64 " %" PRIu32 " %" PRId64 "\n",
	    r->uidl, r->dir == IDX_CUR ? "cur" : "new", r->name, r->size,
	    r->wsize, r->lines, r->arrival);
	return 0;
}

int
main(int argc, char **argv)
{
	struct idx *ix;
	struct idx_rec rec;
	uint64_t count, wsize;
	unsigned added, removed;
	double t0, t1;
	long i, n;

	if (argc < 3) {
		fprintf(stderr, "usage: idxtool deliver|sync|open|count|list|bench "
		    "MAILDIR [args]\n");
		return 2;
	}
	if (strcmp(argv[1], "deliver") == 0 && argc == 5)
		return deliver(argv[2], atol(argv[3]), argv[4]);
	t0 = now();
	if (idx_open(&ix, argv[2], IDX_CREATE) == -1)
		die("idx_open");
	t1 = now();
	if (strcmp(argv[1], "sync") == 0) {
		if (idx_sync(ix, argv[2], argc > 3 && strcmp(argv[3], "full") == 0 ?
		    IDX_SYNC_FULL : 0, &added, &removed) == -1)
			die("idx_sync");
		if (idx_count(ix, &count, &wsize) == -1)
			die("idx_count");
		printf("open_ms=%.2f sync_ms=%.2f added=%u removed=%u count=%"
		    PRIu64 " wsize=%" PRIu64 "\n", t1 - t0, now() - t1, added,
		    removed, count, wsize);
	} else if (strcmp(argv[1], "open") == 0) {
		printf("open_ms=%.2f\n", t1 - t0);
	} else if (strcmp(argv[1], "count") == 0) {
		if (idx_count(ix, &count, &wsize) == -1)
			die("idx_count");
		printf("%" PRIu64 " %" PRIu64 "\n", count, wsize);
	} else if (strcmp(argv[1], "list") == 0) {
		if (idx_iter(ix, print_rec, NULL) == -1)
			die("idx_iter");
	} else if (strcmp(argv[1], "bench") == 0 && argc == 4) {
		n = atol(argv[3]);
		idx_close(&ix);
		memset(&rec, 0, sizeof(rec));
		rec.size = 1000;
		rec.wsize = 1020;
		str_copy(rec.subject, sizeof(rec.subject), "bench");
		t0 = now();
		for (i = 0; i < n; i++) {
			str_fmt(rec.name, sizeof(rec.name),
			    "%ld.M1P%dQ%ld.bench,S=1000,W=1020", (long)time(NULL),
			    (int)getpid(), i);
			if (idx_open(&ix, argv[2], IDX_CREATE) == -1 ||
			    idx_put(ix, &rec) == -1 || idx_close(&ix) == -1)
				die("cycle");
		}
		t1 = now();
		for (i = 0; i < n; i++)
			if (idx_open(&ix, argv[2], IDX_CREATE) == -1 ||
			    idx_close(&ix) == -1)
				die("cycle");
		printf("open+put+close_ms=%.3f open+close_ms=%.3f\n",
		    (t1 - t0) / (double)n, (now() - t1) / (double)n);
		return 0;
	} else {
		fprintf(stderr, "idxtool: bad command\n");
		return 2;
	}
	if (idx_close(&ix) == -1)
		die("idx_close");
	return 0;
}
