/*
 * qtool - test helper over libmail's relay queue (queue.h), for
 * tests/e2e/maildb_queue.sh:
 *   qtool [-u UID:GID] add DIR SENDER RCPT...   queue stdin; prints the id
 *   qtool [-u UID:GID] defer DIR ID SECONDS DIAG
 *        as after a failed attempt: attempts+1, last_try now, next_try
 *        now+SECONDS, every pending recipient gets status 4.4.1 and DIAG
 *   qtool [-u UID:GID] get DIR ID             the record, one field a line
 * With -u (as root): queue_prepare(DIR, UID, GID), then drop to UID:GID
 * before opening the store, as smtpd's enqueue child does.
 */
#include <sys/mman.h>

#include <grp.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "queue.h"
#include "util.h"

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: qtool [-u UID:GID] add DIR SENDER RCPT...\n"
	    "       qtool [-u UID:GID] defer DIR ID SECONDS DIAG\n"
	    "       qtool [-u UID:GID] get DIR ID\n");
	exit(2);
}

static void __attribute__((noreturn))
die(const char *what)
{
	perror(what);
	exit(1);
}

static int
cmd_add(struct queue *q, int argc, char **argv)
{
	char buf[65536], id[QID_MAX];
	ssize_t n;
	int fd;

	if (argc < 3)
		usage();
	if ((fd = memfd_create("msg", MFD_CLOEXEC)) == -1)
		die("memfd_create");
	while ((n = read(0, buf, sizeof(buf))) > 0)
		if (write_all(fd, buf, (size_t)n) == -1)
			die("write");
	if (n == -1)
		die("read");
	if (queue_add(q, fd, argv[1], NULL, (const char *const *)argv + 2,
	    (size_t)(argc - 2), id, sizeof(id)) == -1)
		die("queue_add");
	printf("%s\n", id);
	return 0;
}

static int
cmd_defer(struct queue *q, int argc, char **argv)
{
	struct qmsg m;
	uint64_t secs;
	int64_t now = (int64_t)time(NULL);
	size_t i;
	int r;

	if (argc != 4 || parse_u64(argv[2], 100000000, &secs) == -1)
		usage();
	if ((r = queue_get(q, argv[1], &m)) != 0) {
		fprintf(stderr, "qtool: %s: %s\n", argv[1],
		    r == 1 ? "no such record" : "error");
		return 1;
	}
	m.attempts++;
	m.last_try = now;
	m.next_try = now + (int64_t)secs;
	for (i = 0; i < m.nrcpt; i++)
		if (m.rcpts[i].state == QR_PENDING) {
			str_copy(m.rcpts[i].status, sizeof(m.rcpts[i].status),
			    "4.4.1");
			str_copy(m.rcpts[i].remote, sizeof(m.rcpts[i].remote),
			    "mx.remote.test [127.0.0.2]");
			str_copy(m.rcpts[i].diag, sizeof(m.rcpts[i].diag), argv[3]);
		}
	r = queue_update(q, &m);
	qmsg_free(&m);
	if (r != 0) {
		fprintf(stderr, "qtool: update: %d\n", r);
		return 1;
	}
	return 0;
}

static int
cmd_get(struct queue *q, int argc, char **argv)
{
	struct qmsg m;
	size_t i;
	int r;

	if (argc != 2)
		usage();
	if ((r = queue_get(q, argv[1], &m)) != 0) {
		printf("%s\n", r == 1 ? "absent" : "error");
		return r == 1 ? 3 : 1;
	}
	printf("id %s\nsender %s\nattempts %u\nnext_try %" PRId64 "\n"
	    "last_try %" PRId64 "\nsize %" PRIu64 "\nnrcpt %zu\n", m.id,
	    m.sender, m.attempts, m.next_try, m.last_try, m.size, m.nrcpt);
	for (i = 0; i < m.nrcpt; i++)
		printf("rcpt %s %d %s %s\n", m.rcpts[i].addr, m.rcpts[i].state,
		    m.rcpts[i].status[0] ? m.rcpts[i].status : "-",
		    m.rcpts[i].diag);
	qmsg_free(&m);
	return 0;
}

int
main(int argc, char **argv)
{
	struct queue *q;
	unsigned uid, gid;
	int r, drop = 0;

	log_open("qtool", 1);
	conf_defaults();
	if (argc > 2 && strcmp(argv[1], "-u") == 0) {
		if (sscanf(argv[2], "%u:%u", &uid, &gid) != 2)
			usage();
		drop = 1;
		argc -= 2;
		argv += 2;
	}
	if (argc < 3)
		usage();
	if (drop) {
		if (queue_prepare(argv[2], uid, gid) == -1)
			die("queue_prepare");
		if (setgroups(0, NULL) == -1 || setresgid(gid, gid, gid) == -1 ||
		    setresuid(uid, uid, uid) == -1)
			die("drop");
	}
	if (queue_open(&q, argv[2]) == -1)
		die(argv[2]);
	argv[2] = argv[1];	/* argv + 2: the command, then its arguments */
	if (strcmp(argv[1], "add") == 0)
		r = cmd_add(q, argc - 2, argv + 2);
	else if (strcmp(argv[1], "defer") == 0)
		r = cmd_defer(q, argc - 2, argv + 2);
	else if (strcmp(argv[1], "get") == 0)
		r = cmd_get(q, argc - 2, argv + 2);
	else
		usage();
	if (queue_close(&q) == -1)
		r = 1;
	return r;
}
