/*
 * test_queue.c - libmail/relay/queue.c against a real Berkeley DB in a mkdtemp
 * directory: add/get/update/remove/list, ids, the retry schedule, a record
 * deleted meanwhile not recreated by an update, 10000 recipients, strict
 * decoding of damaged records (through the codec and through the store),
 * orphan cleaning, owner checks, concurrent writers, and kill -9 during
 * queue_add: every acknowledged message present, the store still opens.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "conf.h"
#include "log.h"
#include "queue.h"
#include "store.h"
#include "util.h"

#define KILLS	200

static char base[64];

static int
memfd_with(const char *text, size_t len)
{
	int fd = memfd_create("msg", MFD_CLOEXEC);

	if (fd == -1 || write_all(fd, text, len) == -1)
		abort();
	lseek(fd, 0, SEEK_SET);
	return fd;
}

static char *
file_text(const char *dir, const char *id, size_t *len)
{
	static char buf[1 << 16];
	int fd;
	ssize_t n;

	*len = 0;
	if ((fd = queue_msg_open(dir, id)) == -1)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

static void
path_of(char *out, size_t size, const char *dir, const char *rel)
{
	if (str_fmt(out, size, "%s/%s", dir, rel) == -1)
		abort();
}

struct collect {
	char	ids[200][QID_MAX];
	size_t	n;
	int	remove_each;	/* the callback removes what it sees */
	struct queue *q;
};

static int
collect_cb(const struct qmsg *m, void *arg)
{
	struct collect *c = arg;

	if (c->n < 200)
		str_copy(c->ids[c->n++], QID_MAX, m->id);
	if (c->remove_each && queue_remove(c->q, m->id) == -1)
		return -1;
	return 0;
}

static void
test_basics(void)
{
	conf.queue_retry_min = 300 * 1000;
	conf.queue_retry_max = 3600 * 1000;
	CHECK(queue_next_try(1, 1000) == 1300, "next_try after 1 failure: +retry_min");
	CHECK(queue_next_try(2, 1000) == 1600, "next_try after 2: doubled");
	CHECK(queue_next_try(4, 1000) == 3400, "next_try after 4: x8");
	CHECK(queue_next_try(5, 1000) == 4600, "next_try after 5: capped at retry_max");
	CHECK(queue_next_try(4000000000u, 1000) == 4600, "next_try after 4e9: capped, no overflow");
	CHECK(queue_next_try(0, 1000) == 1300, "next_try after 0: retry_min");
	CHECK(queue_id_ok("0123456789ABCDEFGHIJ"), "id: 20 of [0-9A-Z]");
	CHECK(!queue_id_ok("0123456789ABCDEFGHI"), "id: 19 refused");
	CHECK(!queue_id_ok("0123456789ABCDEFGHIJK"), "id: 21 refused");
	CHECK(!queue_id_ok("0123456789abcdefghij"), "id: lower case refused");
	CHECK(!queue_id_ok("../../../../etc/pass"), "id: a path refused");
}

static void
test_store(const char *dir)
{
	static const char body1[] = "Received: from x\nSubject: one\n\nbody one\n";
	static const char body2[] = "Subject: two\n\nbody two\n";
	const char *r1[] = { "a@remote.test", "b@remote.test", "c@other.test" };
	const char *r2[] = { "z@remote.test" };
	char id1[QID_MAX], id2[QID_MAX], id3[QID_MAX], small[8], p[512];
	struct queue *q;
	struct qmsg m;
	struct collect c;
	struct stat st;
	size_t len;
	const char *t;
	int fd;
	time_t now = time(NULL);

	CHECK(queue_prepare(dir, getuid(), getgid()) == 0, "queue_prepare");
	path_of(p, sizeof(p), dir, "msg");
	CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode) &&
	    (st.st_mode & 0777) == 0700, "msg/ made 0700");
	CHECK(queue_open(&q, dir) == 0, "queue_open");
	if (q == NULL)
		return;
	fd = memfd_with(body1, sizeof(body1) - 1);
	lseek(fd, 5, SEEK_SET);	/* copied from offset 0 whatever the position */
	CHECK(queue_add(q, fd, "s@here.test", "alice", r1, 3, id1,
	    sizeof(id1)) == 0, "add 1: 3 recipients");
	close(fd);
	CHECK(queue_id_ok(id1), "add 1: the id is valid");
	fd = memfd_with(body2, sizeof(body2) - 1);
	CHECK(queue_add(q, fd, "", NULL, r2, 1, id2, sizeof(id2)) == 0,
	    "add 2: null sender, no auth user");
	CHECK(queue_add(q, fd, "", NULL, r2, 1, small, sizeof(small)) == -1,
	    "add: a too small id buffer refused");
	CHECK(queue_add(q, fd, "", NULL, r2, 0, id3, sizeof(id3)) == -1,
	    "add: no recipients refused");
	{
		const char *bad[] = { "x@y.test\r\nRCPT TO:<evil@z>" };
		const char *empty[] = { "" };

		CHECK(queue_add(q, fd, "", NULL, bad, 1, id3, sizeof(id3)) == -1,
		    "add: a recipient with CR LF refused");
		CHECK(queue_add(q, fd, "", NULL, empty, 1, id3, sizeof(id3)) == -1,
		    "add: an empty recipient refused");
		CHECK(queue_add(q, fd, "a\nb", NULL, r2, 1, id3, sizeof(id3)) == -1,
		    "add: a sender with LF refused");
	}
	CHECK(queue_add(q, fd, "x@y.test", NULL, r2, 1, id3, sizeof(id3)) == 0,
	    "add 3");
	close(fd);
	CHECK(strcmp(id1, id2) != 0 && strcmp(id2, id3) != 0, "ids differ");

	CHECK(queue_get(q, id1, &m) == 0, "get 1");
	CHECK(strcmp(m.id, id1) == 0 && strcmp(m.sender, "s@here.test") == 0 &&
	    strcmp(m.auth_user, "alice") == 0, "get 1: id, sender, auth_user");
	CHECK(m.nrcpt == 3 && strcmp(m.rcpts[2].addr, "c@other.test") == 0 &&
	    m.rcpts[0].state == QR_PENDING && m.rcpts[2].state == QR_PENDING,
	    "get 1: recipients, all pending");
	CHECK(m.size == sizeof(body1) - 1, "get 1: size is the file's");
	CHECK(m.next_try == 0 && m.attempts == 0 && m.last_try == 0,
	    "get 1: due now, never tried");
	CHECK(m.arrival >= now - 1 && m.arrival <= now + 5, "get 1: arrival now");
	t = file_text(dir, id1, &len);
	CHECK(t != NULL && len == sizeof(body1) - 1 && memcmp(t, body1, len) == 0,
	    "msg/ID holds exactly the octets handed over");
	path_of(p, sizeof(p), dir, "msg");
	if (str_fmt(p, sizeof(p), "%s/msg/%s", dir, id1) == 0)
		CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0600,
		    "msg/ID is 0600");

	/* update: verdicts, attempts */
	m.rcpts[0].state = QR_SENT;
	str_copy(m.rcpts[0].status, sizeof(m.rcpts[0].status), "2.0.0");
	str_copy(m.rcpts[0].remote, sizeof(m.rcpts[0].remote),
	    "mx.remote.test [127.0.0.2]");
	m.rcpts[1].state = QR_FAILED;
	str_copy(m.rcpts[1].status, sizeof(m.rcpts[1].status), "5.1.1");
	str_copy(m.rcpts[1].diag, sizeof(m.rcpts[1].diag),
	    "550 5.1.1 user unknown (in reply to RCPT TO)");
	str_copy(m.rcpts[2].status, sizeof(m.rcpts[2].status), "4.4.1");
	m.attempts = 1;
	m.last_try = now;
	m.next_try = queue_next_try(1, now);
	CHECK(queue_update(q, &m) == 0, "update 1");
	qmsg_free(&m);
	CHECK(queue_get(q, id1, &m) == 0 && m.attempts == 1 &&
	    m.rcpts[0].state == QR_SENT && m.rcpts[1].state == QR_FAILED &&
	    m.rcpts[2].state == QR_PENDING &&
	    strcmp(m.rcpts[1].diag, "550 5.1.1 user unknown (in reply to RCPT TO)") == 0 &&
	    strcmp(m.rcpts[0].remote, "mx.remote.test [127.0.0.2]") == 0 &&
	    m.next_try == now + 300, "get after update: every field kept");
	/* an invalid record is refused by update */
	m.rcpts[0].state = 7;
	CHECK(queue_update(q, &m) == -1, "update: state 7 refused");
	m.rcpts[0].state = QR_SENT;
	str_copy(m.rcpts[0].status, sizeof(m.rcpts[0].status), "6.0.0");
	CHECK(queue_update(q, &m) == -1, "update: status 6.0.0 refused");
	qmsg_free(&m);

	/* list in id order */
	memset(&c, 0, sizeof(c));
	CHECK(queue_list(q, collect_cb, &c) == 0 && c.n == 3, "list: 3 records");
	CHECK(c.n == 3 && strcmp(c.ids[0], c.ids[1]) < 0 &&
	    strcmp(c.ids[1], c.ids[2]) < 0, "list: in id order");

	/* remove, then an update of the removed record is not a re-creation */
	CHECK(queue_get(q, id2, &m) == 0, "get 2");
	CHECK(queue_remove(q, id2) == 0, "remove 2");
	CHECK(queue_msg_open(dir, id2) == -1 && errno == ENOENT,
	    "remove 2: its file is gone");
	m.attempts = 5;
	CHECK(queue_update(q, &m) == 1, "update of a removed record: 1 (absent)");
	qmsg_free(&m);
	CHECK(queue_get(q, id2, &m) == 1, "the removed record stayed removed");
	CHECK(queue_remove(q, id2) == 0, "remove of an absent record: no error");
	CHECK(queue_get(q, "NOSUCHIDNOSUCHIDNOSU", &m) == 1, "get absent: 1");
	CHECK(queue_get(q, "../msg", &m) == 1, "get of a bad id: 1");
	CHECK(queue_close(&q) == 0 && q == NULL, "close");

	/* a writer in another process removes a record after we read it */
	CHECK(queue_open(&q, dir) == 0 && queue_get(q, id3, &m) == 0,
	    "get 3");
	queue_close(&q);
	{
		pid_t pid = fork();
		int status;

		if (pid == 0) {
			struct queue *q2;

			_exit(queue_open(&q2, dir) == 0 &&
			    queue_remove(q2, id3) == 0 && queue_close(&q2) == 0 ?
			    0 : 1);
		}
		CHECK(pid > 0 && waitpid(pid, &status, 0) == pid &&
		    WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "another process removed record 3");
	}
	CHECK(queue_open(&q, dir) == 0, "reopen");
	m.rcpts[0].state = QR_SENT;
	CHECK(queue_update(q, &m) == 1, "update after the other's remove: 1");
	qmsg_free(&m);
	CHECK(queue_get(q, id3, &m) == 1, "record 3 not recreated");

	/* the callback of list may remove */
	memset(&c, 0, sizeof(c));
	c.remove_each = 1;
	c.q = q;
	CHECK(queue_list(q, collect_cb, &c) == 0 && c.n == 1,
	    "list whose callback removes: no deadlock");
	memset(&c, 0, sizeof(c));
	CHECK(queue_list(q, collect_cb, &c) == 0 && c.n == 0, "list: empty now");
	queue_close(&q);
}

static void
fill_rcpt(struct qrcpt *r, size_t i)
{
	size_t k;

	memset(r, 0, sizeof(*r));
	if (str_fmt(r->addr, sizeof(r->addr), "user%zu@", i) == -1)
		abort();
	for (k = strlen(r->addr); k < sizeof(r->addr) - 6; k++)
		r->addr[k] = 'a' + (char)(k % 26);
	str_copy(r->addr + k, sizeof(r->addr) - k, ".test");
	r->state = (int)(i % 3);
	str_copy(r->status, sizeof(r->status), "5.123.123");
	memset(r->remote, 'r', sizeof(r->remote) - 1);
	memset(r->diag, 'd', sizeof(r->diag) - 1);
}

static void
test_big(const char *dir)
{
	struct queue *q;
	struct qmsg m, g;
	const char **rc;
	char (*addrs)[SMTP_PATH_MAX + 1];
	char id[QID_MAX];
	size_t i;
	int fd, same;

	rc = xcalloc(QUEUE_RCPT_MAX + 1, sizeof(*rc));
	addrs = xcalloc(QUEUE_RCPT_MAX + 1, sizeof(*addrs));
	for (i = 0; i <= QUEUE_RCPT_MAX; i++) {
		struct qrcpt r;

		fill_rcpt(&r, i);
		str_copy(addrs[i], sizeof(addrs[i]), r.addr);
		rc[i] = addrs[i];
	}
	CHECK(strlen(addrs[0]) == SMTP_PATH_MAX, "big: addresses of 256 octets");
	if (queue_open(&q, dir) != 0) {
		CHECK(0, "big: open");
		return;
	}
	fd = memfd_with("Subject: big\n\nx\n", 16);
	CHECK(queue_add(q, fd, "s@x.test", "", rc, QUEUE_RCPT_MAX + 1, id,
	    sizeof(id)) == -1, "big: 10001 recipients refused");
	CHECK(queue_add(q, fd, "s@x.test", "", rc, QUEUE_RCPT_MAX, id,
	    sizeof(id)) == 0, "big: 10000 recipients queued");
	close(fd);
	CHECK(queue_get(q, id, &m) == 0 && m.nrcpt == QUEUE_RCPT_MAX &&
	    strcmp(m.rcpts[9999].addr, addrs[9999]) == 0, "big: read back");
	if (m.nrcpt == QUEUE_RCPT_MAX) {
		/* every field at its maximum */
		for (i = 0; i < m.nrcpt; i++)
			fill_rcpt(&m.rcpts[i], i);
		m.attempts = 4000000000u;
		CHECK(queue_update(q, &m) == 0, "big: update with every field full");
		CHECK(queue_get(q, id, &g) == 0 && g.nrcpt == m.nrcpt,
		    "big: read back after update");
		same = g.nrcpt == m.nrcpt && g.attempts == m.attempts;
		for (i = 0; same && i < g.nrcpt; i++)
			same = memcmp(&g.rcpts[i], &m.rcpts[i], sizeof(g.rcpts[i])) == 0;
		CHECK(same, "big: 10000 full recipients identical");
		qmsg_free(&g);
	}
	qmsg_free(&m);
	CHECK(queue_remove(q, id) == 0, "big: removed");
	CHECK(queue_close(&q) == 0, "big: close");
	free(rc);
	free(addrs);
}

/* Writes raw bytes as the record of id, behind the API (the same store),
 * and leaves the lock file "dirty": recovery and verify at the next open. */
static int
put_raw(const char *dir, const char *id, const void *val, size_t len)
{
	struct store *s;
	char home[512], lock[512];
	int fd, r;

	path_of(home, sizeof(home), dir, "db");
	path_of(lock, sizeof(lock), home, "lock");
	if ((s = store_open(home, "queue.db", "test", 0, "")) == NULL)
		return -1;
	r = store_put(s, id, strlen(id), val, len, 0);
	store_close(&s);
	if ((fd = open(lock, O_RDWR)) == -1)
		return -1;
	if (pwrite(fd, "dirty\n", 6, 0) != 6 || ftruncate(fd, 6) == -1)
		r = -1;
	close(fd);
	return r == 0 ? 0 : -1;
}

static void
test_corrupt(const char *dir)
{
	struct qmsg m, g;
	struct qrcpt r[2];
	struct queue *q;
	struct collect c;
	unsigned char *enc, *bad;
	size_t len, i, cut_ok = 0;
	char id[QID_MAX];

	memset(&m, 0, sizeof(m));
	memset(r, 0, sizeof(r));
	str_copy(m.id, sizeof(m.id), "AAAAAAAAAAAAAAAAAAAA");
	str_copy(m.sender, sizeof(m.sender), "s@x.test");
	str_copy(r[0].addr, sizeof(r[0].addr), "a@b.test");
	str_copy(r[1].addr, sizeof(r[1].addr), "c@d.test");
	str_copy(r[1].status, sizeof(r[1].status), "4.4.1");
	r[1].state = QR_FAILED;
	m.nrcpt = 2;
	m.rcpts = r;
	m.arrival = 1700000000;
	enc = qmsg_encode(&m, &len);
	CHECK(enc != NULL, "codec: encode");
	if (enc == NULL)
		return;
	CHECK(qmsg_decode(m.id, enc, len, &g) == 0 && g.nrcpt == 2 &&
	    g.rcpts[1].state == QR_FAILED && strcmp(g.rcpts[1].status, "4.4.1") == 0,
	    "codec: round trip");
	qmsg_free(&g);
	CHECK(qmsg_decode("bad id", enc, len, &g) == -1, "codec: a bad key refused");
	for (i = 0; i < len; i++)
		if (qmsg_decode(m.id, enc, i, &g) == -1)
			cut_ok++;
		else
			qmsg_free(&g);
	CHECK(cut_ok == len, "codec: every truncation refused");
	bad = xmalloc(len + 1);
	memcpy(bad, enc, len);
	bad[len] = 0;
	CHECK(qmsg_decode(m.id, bad, len + 1, &g) == -1, "codec: a trailing byte refused");
#define MUTATE(off, val, name) do {					\
	memcpy(bad, enc, len);						\
	bad[(off)] = (unsigned char)(val);				\
	CHECK(qmsg_decode(m.id, bad, len, &g) == -1, name);		\
} while (0)
	/* offsets: 0 version, 1 arrival, 9 next_try, 17 last_try,
	 * 25 attempts, 29 size, 37 sender length (2), 39 sender (8),
	 * 47 auth_user length, 49 nrcpt (4), 53 state of the first */
	MUTATE(0, 2, "codec: version 2 refused");
	MUTATE(8, 0x80, "codec: a negative arrival refused");
	MUTATE(16, 0xff, "codec: a negative next_try refused");
	MUTATE(37, 9, "codec: a sender length past its bytes refused");
	MUTATE(38, 2, "codec: a sender of 520 bytes refused");
	MUTATE(40, '\n', "codec: LF in the sender refused");
	MUTATE(40, 0, "codec: NUL in the sender refused");
	MUTATE(40, 0x7f, "codec: DEL in the sender refused");
	MUTATE(47, 1, "codec: an auth_user length past its bytes refused");
	MUTATE(49, 0, "codec: 0 recipients refused");
	MUTATE(49, 3, "codec: more recipients than present refused");
	MUTATE(52, 0xff, "codec: 4 billion recipients refused");
	MUTATE(53, 3, "codec: state 3 refused");
	MUTATE(53, 0xff, "codec: state 255 refused");
	MUTATE(54, 0, "codec: an empty recipient refused");
	MUTATE(56, '\r', "codec: CR in a recipient refused");
	/* the second recipient's status "4.4.1": find it and spoil it */
	for (i = 0; i + 5 <= len; i++)
		if (memcmp(enc + i, "4.4.1", 5) == 0)
			break;
	CHECK(i + 5 <= len, "codec: status found");
	if (i + 5 <= len) {
		MUTATE(i, '6', "codec: status class 6 refused");
		MUTATE(i + 1, ',', "codec: status 4,4.1 refused");
		MUTATE(i + 4, 'x', "codec: status 4.4.x refused");
		MUTATE(i - 2, 8, "codec: a status of 8 bytes refused");
	}
#undef MUTATE
	m.next_try = -1;
	CHECK(qmsg_encode(&m, &len) == NULL, "codec: encode refuses next_try -1");
	m.next_try = 0;
	m.nrcpt = 0;
	CHECK(qmsg_encode(&m, &len) == NULL, "codec: encode refuses 0 recipients");

	/* through the store: a bad record is an error for get, skipped by list */
	memcpy(bad, enc, len);
	bad[53] = 9;
	if (queue_open(&q, dir) == 0) {
		int fd = memfd_with("x\n", 2);
		const char *rc[] = { "ok@x.test" };

		CHECK(queue_add(q, fd, "", NULL, rc, 1, id, sizeof(id)) == 0,
		    "store: a good record beside");
		close(fd);
		queue_close(&q);
	}
	CHECK(put_raw(dir, "AAAAAAAAAAAAAAAAAAAA", bad, len) == 0,
	    "store: a damaged record written behind the API");
	CHECK(put_raw(dir, "short", "x", 1) == 0, "store: a bad key written");
	CHECK(queue_open(&q, dir) == 0, "store: opens with a damaged record");
	if (q != NULL) {
		CHECK(queue_get(q, "AAAAAAAAAAAAAAAAAAAA", &g) == -1,
		    "store: get of the damaged record is an error");
		memset(&c, 0, sizeof(c));
		CHECK(queue_list(q, collect_cb, &c) == 0 && c.n == 1 &&
		    strcmp(c.ids[0], id) == 0,
		    "store: list skips the damaged record and the bad key");
		CHECK(queue_remove(q, "AAAAAAAAAAAAAAAAAAAA") == 0 &&
		    queue_remove(q, id) == 0, "store: the damaged record can be removed");
		queue_close(&q);
	}
	free(bad);
	free(enc);
}

static void
old_file(const char *dir, const char *rel, time_t age)
{
	char p[512];
	struct timespec ts[2];
	int fd;

	path_of(p, sizeof(p), dir, rel);
	if ((fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    write_all(fd, "x\n", 2) == -1)
		abort();
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - age;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	futimens(fd, ts);
	close(fd);
}

static int
exists(const char *dir, const char *rel)
{
	char p[512];
	struct stat st;

	path_of(p, sizeof(p), dir, rel);
	return lstat(p, &st) == 0;
}

static void
test_clean(const char *dir)
{
	struct queue *q;
	struct timespec ts[2];
	char id[QID_MAX], rel[64], p[512];
	const char *rc[] = { "r@x.test" };
	int fd;

	if (queue_open(&q, dir) != 0) {
		CHECK(0, "clean: open");
		return;
	}
	fd = memfd_with("x\n", 2);
	CHECK(queue_add(q, fd, "", NULL, rc, 1, id, sizeof(id)) == 0,
	    "clean: a queued message");
	close(fd);
	/* the queued message's file is old too: it must stay */
	str_fmt(rel, sizeof(rel), "msg/%s", id);
	path_of(p, sizeof(p), dir, rel);
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - 7200;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	utimensat(AT_FDCWD, p, ts, 0);
	old_file(dir, "msg/OLDORPHAN0123456789012", 7200);
	old_file(dir, "msg/OLDORPHAN01234567890", 7200);	/* 20 chars */
	old_file(dir, "msg/NEWORPHAN01234567890", 60);
	old_file(dir, "msg/not-an-id", 7200);
	old_file(dir, "tmp/OLDTMP", 7200);
	old_file(dir, "tmp/NEWTMP", 60);
	CHECK(queue_clean(q) == 2, "clean: two orphans removed");
	CHECK(exists(dir, rel), "clean: an old file with a record kept");
	CHECK(!exists(dir, "msg/OLDORPHAN01234567890"), "clean: old orphan removed");
	CHECK(exists(dir, "msg/NEWORPHAN01234567890"), "clean: recent orphan kept");
	CHECK(exists(dir, "msg/OLDORPHAN0123456789012"), "clean: not an id (22 chars): kept");
	CHECK(exists(dir, "msg/not-an-id"), "clean: a foreign name kept");
	CHECK(!exists(dir, "tmp/OLDTMP"), "clean: old tmp file removed");
	CHECK(exists(dir, "tmp/NEWTMP"), "clean: recent tmp file kept");
	queue_remove(q, id);
	queue_close(&q);
}

static void
test_owner(const char *dir)
{
	struct queue *q;
	char p[512];

	chmod(dir, 0777);
	CHECK(queue_open(&q, dir) == -1 && errno == EPERM,
	    "open: a world-writable queue_dir refused");
	CHECK(queue_prepare(dir, getuid(), getgid()) == 0, "prepare repairs the mode");
	CHECK(queue_open(&q, dir) == 0, "open after prepare");
	queue_close(&q);
	if (geteuid() == 0) {
		path_of(p, sizeof(p), dir, "msg");
		CHECK(chown(p, 12345, 12345) == 0 && queue_open(&q, dir) == -1 &&
		    errno == EPERM, "open: msg/ owned by another uid refused");
		CHECK(queue_prepare(dir, 0, 0) == 0 && queue_open(&q, dir) == 0,
		    "prepare gives it back");
		queue_close(&q);
	}
	/* an existing directory holding other things is not taken over */
	path_of(p, sizeof(p), base, "notaqueue");
	mkdir(p, 0755);
	{
		char f[600];
		int fd;

		str_fmt(f, sizeof(f), "%s/important", p);
		fd = open(f, O_WRONLY | O_CREAT, 0644);
		if (fd != -1)
			close(fd);
		CHECK(queue_prepare(p, getuid(), getgid()) == -1 && errno == EPERM &&
		    access(f, F_OK) == 0, "prepare: a directory with other files "
		    "in it refused (queue_dir = /var/spool by mistake)");
		str_fmt(f, sizeof(f), "%s/msg", p);
		CHECK(access(f, F_OK) == -1, "prepare: nothing created in it");
	}
	path_of(p, sizeof(p), base, "link");
	CHECK(symlink(dir, p) == 0 && queue_open(&q, p) == -1,
	    "open: a symbolic link as queue_dir refused");
	CHECK(queue_prepare(p, getuid(), getgid()) == -1,
	    "prepare: a symbolic link refused");
}

static void
test_concurrent(const char *dir)
{
	struct queue *q;
	struct collect c;
	pid_t pids[4];
	int i, ok = 1, status;

	for (i = 0; i < 4; i++) {
		if ((pids[i] = fork()) == 0) {
			const char *rc[] = { "r@x.test", "s@y.test" };
			char id[QID_MAX];
			int k, fd = memfd_with("Subject: c\n\nx\n", 14);

			for (k = 0; k < 25; k++) {
				if (queue_open(&q, dir) == -1 ||
				    queue_add(q, fd, "", NULL, rc, 2, id,
				    sizeof(id)) == -1 || queue_close(&q) == -1)
					_exit(1);
			}
			_exit(0);
		}
	}
	for (i = 0; i < 4; i++)
		if (waitpid(pids[i], &status, 0) != pids[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			ok = 0;
	CHECK(ok, "concurrent: 4 writers x 25 succeeded");
	if (queue_open(&q, dir) == 0) {
		memset(&c, 0, sizeof(c));
		c.remove_each = 1;
		c.q = q;
		CHECK(queue_list(q, collect_cb, &c) == 0 && c.n == 100,
		    "concurrent: 100 records");
		queue_close(&q);
	}
}

/*
 * kill -9 at random moments during queue_add: a writer appends each id
 * queue_add returned to ack (one write each). Afterwards every acknowledged
 * id has its record and its complete file, no record lacks its file, and
 * the store opens (recovering) without hanging.
 */
static void
test_kill(const char *dir)
{
	static const char body[] = "Subject: kill\n\nthe body of a killed writer\n";
	char ackpath[512], line[64], id[QID_MAX];
	struct queue *q;
	struct collect c;
	struct qmsg m;
	FILE *f;
	pid_t pid;
	int i, kills = 0, errors = 0, status, afd;
	size_t acked = 0, missing = 0, wrong = 0, nofile = 0, len;
	const char *t;

	path_of(ackpath, sizeof(ackpath), base, "ack");
	if ((afd = open(ackpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0600)) == -1)
		abort();
	srand((unsigned)getpid());
	for (i = 0; i < KILLS; i++) {
		struct stat before, now;
		int waited;

		if (fstat(afd, &before) == -1)
			abort();
		if ((pid = fork()) == 0) {
			const char *rc[] = { "a@x.test", "b@y.test" };
			int fd = memfd_with(body, sizeof(body) - 1);

			for (;;) {
				if (queue_open(&q, dir) == -1 ||
				    queue_add(q, fd, "s@x.test", NULL, rc, 2, id,
				    sizeof(id)) == -1)
					_exit(1);
				/* acknowledged: one write */
				str_fmt(line, sizeof(line), "%s\n", id);
				if (write_all(afd, line, strlen(line)) == -1 ||
				    queue_close(&q) == -1)
					_exit(1);
			}
		}
		/* Every other writer is killed only after it acknowledged a
		 * message (within 10 s), so progress does not depend on how
		 * fast the machine is; the others die at any moment. */
		for (waited = 0; i % 2 == 0 && waited < 10000; waited++) {
			if (fstat(afd, &now) == -1)
				abort();
			if (now.st_size > before.st_size)
				break;
			sleep_ms(1);
		}
		sleep_ms((unsigned)(rand() % 80));
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
			kills++;
		else
			errors++;
	}
	close(afd);
	CHECK(kills == KILLS && errors == 0, "kill: 200 writers killed, none failed on its own");
	/* the next open recovers and does not hang: a child under a deadline */
	if ((pid = fork()) == 0) {
		alarm(30);
		_exit(queue_open(&q, dir) == 0 && queue_close(&q) == 0 ? 0 : 1);
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "kill: the store opens after the kills");
	if (queue_open(&q, dir) == -1)
		return;
	if ((f = fopen(ackpath, "r")) == NULL)
		abort();
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		acked++;
		if (queue_get(q, line, &m) != 0) {
			missing++;
			continue;
		}
		if (m.nrcpt != 2 || m.size != sizeof(body) - 1)
			wrong++;
		qmsg_free(&m);
		t = file_text(dir, line, &len);
		if (t == NULL || len != sizeof(body) - 1 || memcmp(t, body, len) != 0)
			wrong++;
	}
	fclose(f);
	CHECK_DIAG("kill: %d kills, %zu acknowledged", kills, acked);
	CHECK(acked >= KILLS / 2, "kill: the writers made progress (one acknowledged message at least from every other writer)");
	CHECK(missing == 0, "kill: every acknowledged message has its record");
	CHECK(wrong == 0, "kill: every acknowledged message complete");
	/* no record without its file */
	memset(&c, 0, sizeof(c));
	queue_list(q, collect_cb, &c);	/* first 200 ids suffice for files */
	for (i = 0; (size_t)i < c.n; i++) {
		int fd = queue_msg_open(dir, c.ids[i]);

		if (fd == -1)
			nofile++;
		else
			close(fd);
	}
	CHECK(c.n > 0 && nofile == 0, "kill: no record without its file");
	queue_close(&q);
}

int
main(void)
{
	char dir[128];

	log_open("test_queue", 0);
	conf_defaults();
	if (mkdtemp(strcpy(base, "/tmp/test_queue.XXXXXX")) == NULL)
		return 1;
	str_fmt(dir, sizeof(dir), "%s/spool/queue", base);
	test_basics();
	test_store(dir);
	test_big(dir);
	test_corrupt(dir);
	test_clean(dir);
	test_owner(dir);
	test_concurrent(dir);
	test_kill(dir);
	if (check_failed == 0) {
		char cmd[128];

		str_fmt(cmd, sizeof(cmd), "rm -rf %s", base);
		if (system(cmd) != 0)
			CHECK_DIAG("could not remove %s", base);
	} else
		CHECK_DIAG("left %s", base);
	return CHECK_DONE();
}
