/*
 * test_store.c - libmail/base/store.c against a real Berkeley DB in a
 * mkdtemp directory: records, transactions, walks, the lock file's clean
 * flag, recovery after an unclean stop, and a damaged file set aside (or
 * refused).
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "log.h"
#include "store.h"
#include "util.h"

#define DB	"t.db"

static char dir[256];

static void
path_of(char *out, size_t size, const char *name)
{
	if (str_fmt(out, size, "%s/%s", dir, name) == -1)
		abort();
}

/* The lock file's content (first line), "" when unreadable. */
static void
lock_says(char *out, size_t size)
{
	char p[512];
	ssize_t n;
	int fd;

	out[0] = '\0';
	path_of(p, sizeof(p), "lock");
	if ((fd = open(p, O_RDONLY)) == -1)
		return;
	n = read(fd, out, size - 1);
	close(fd);
	out[n > 0 ? n : 0] = '\0';
	out[strcspn(out, "\n")] = '\0';
}

static struct store *
open_t(int flags)
{
	return store_open(dir, DB, "test", flags, "starting empty");
}

static int
put_s(struct store *s, const char *k, const char *v)
{
	return store_put(s, k, strlen(k), v, strlen(v), 0);
}

/* 1 if k holds exactly v. */
static int
has(struct store *s, const char *k, const char *v)
{
	void *got;
	size_t len;
	int ok;

	if (store_get(s, k, strlen(k), &got, &len, 0) != 0)
		return 0;
	ok = len == strlen(v) && memcmp(got, v, len) == 0;
	free(got);
	return ok;
}

static int
absent(struct store *s, const char *k)
{
	void *got;
	size_t len;

	return store_get(s, k, strlen(k), &got, &len, 0) == 1 && got == NULL;
}

struct counts {
	int	n;		/* records seen */
	int	keys_only;	/* every val was NULL, 0 */
};

/* Deletes the records whose key ends in an even digit. */
static int
del_even(const void *k, size_t klen, const void *v, size_t vlen, void *arg)
{
	struct counts *c = arg;

	(void)v;
	(void)vlen;
	c->n++;
	return (((const char *)k)[klen - 1] - '0') % 2 == 0 ? STORE_DEL :
	    STORE_NEXT;
}

static int
count(const void *k, size_t klen, const void *v, size_t vlen, void *arg)
{
	struct counts *c = arg;

	(void)k;
	(void)klen;
	c->n++;
	if (v != NULL || vlen != 0)
		c->keys_only = 0;
	return STORE_NEXT;
}

static int
stop_at_two(const void *k, size_t klen, const void *v, size_t vlen, void *arg)
{
	struct counts *c = arg;

	(void)k;
	(void)klen;
	(void)v;
	(void)vlen;
	return ++c->n == 2 ? STORE_STOP : STORE_NEXT;
}

static int
walk_count(struct store *s, int flags, struct counts *c)
{
	memset(c, 0, sizeof(*c));
	c->keys_only = 1;
	return store_walk(s, flags, count, c);
}

static void
test_basic(void)
{
	struct store *s;
	struct stat st;
	char buf[128], p[512];

	errno = 0;
	CHECK(open_t(0) == NULL && errno == ENOENT,
	    "a missing directory without STORE_CREATE: ENOENT");
	s = open_t(STORE_CREATE);
	CHECK(s != NULL, "open with STORE_CREATE");
	if (s == NULL)
		return;
	CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700,
	    "the directory is made 0700");
	lock_says(buf, sizeof(buf));
	CHECK(strcmp(buf, "dirty") == 0, "the lock file says dirty while open");
	CHECK(store_begin(s) == 0 && put_s(s, "a", "apple") == 0 &&
	    put_s(s, "b", "banana") == 0 && store_commit(s) == 0,
	    "put two records in one transaction, commit");
	CHECK(has(s, "a", "apple") && has(s, "b", "banana"), "get reads them");
	CHECK(absent(s, "c"), "get of a missing key: 1, nothing returned");
	CHECK(store_put(s, "a", 1, "x", 1, STORE_NOOVERWRITE) == -1 &&
	    has(s, "a", "apple"), "STORE_NOOVERWRITE keeps the record");
	CHECK(store_close(&s) == 0 && s == NULL, "close");
	lock_says(buf, sizeof(buf));
	CHECK(strncmp(buf, "clean ", 6) == 0 && strlen(buf) > 6,
	    "the lock file says clean <boot_id> after close");
	path_of(p, sizeof(p), DB);
	CHECK(stat(p, &st) == 0 && S_ISREG(st.st_mode), "the database file is there");
	s = open_t(0);
	CHECK(s != NULL && has(s, "a", "apple") && has(s, "b", "banana"),
	    "reopen: the records are there");
	CHECK(s != NULL && store_del(s, "b", 1) == 0 && store_del(s, "b", 1) == 1 &&
	    absent(s, "b"), "del: 0, then 1 when absent");
	store_close(&s);
}

static void
test_abort(void)
{
	struct store *s = open_t(0);
	char buf[128];

	CHECK(s != NULL, "abort: open");
	if (s == NULL)
		return;
	CHECK(store_begin(s) == 0 && store_in_txn(s) && put_s(s, "z", "zz") == 0 &&
	    has(s, "z", "zz"), "a put inside a transaction reads back");
	store_abort(s);
	CHECK(!store_in_txn(s) && absent(s, "z"), "abort leaves nothing");
	CHECK(store_begin(s) == 0 && store_begin(s) == -1 && errno == EINVAL,
	    "one transaction at a time");
	CHECK(put_s(s, "y", "yy") == 0, "put inside the transaction");
	CHECK(store_close(&s) == 0, "close with a transaction open aborts it");
	s = open_t(0);
	CHECK(s != NULL && absent(s, "y"), "the open transaction's put is gone");
	store_close(&s);
	lock_says(buf, sizeof(buf));
	CHECK(strncmp(buf, "clean ", 6) == 0, "clean again after close");
}

static void
test_walk(void)
{
	struct store *s = open_t(0);
	struct counts c;
	char k[8];
	int i, ok = 1;

	CHECK(s != NULL, "walk: open");
	if (s == NULL)
		return;
	store_begin(s);
	for (i = 0; i < 10; i++) {
		str_fmt(k, sizeof(k), "k%d", i);
		ok &= put_s(s, k, "v") == 0;
	}
	CHECK(ok && store_commit(s) == 0, "ten records");
	CHECK(walk_count(s, 0, &c) == 0 && c.n == 11 && !c.keys_only,
	    "a walk sees every record (and a)");
	CHECK(walk_count(s, STORE_BULK, &c) == 0 && c.n == 11,
	    "a bulk walk sees the same");
	CHECK(walk_count(s, STORE_KEYS, &c) == 0 && c.n == 11 && c.keys_only,
	    "a keys-only walk passes no values");
	memset(&c, 0, sizeof(c));
	CHECK(store_walk(s, 0, stop_at_two, &c) == 0 && c.n == 2,
	    "STORE_STOP ends the walk");
	memset(&c, 0, sizeof(c));
	CHECK(store_begin(s) == 0 &&
	    store_walk(s, STORE_RMW, del_even, &c) == 0 && c.n == 11 &&
	    store_commit(s) == 0, "a walk deleting the even keys, committed");
	CHECK(absent(s, "k0") && absent(s, "k4") && has(s, "k1", "v") &&
	    has(s, "k9", "v") && walk_count(s, 0, &c) == 0 && c.n == 6,
	    "the even keys are gone, the others stay");
	store_close(&s);
}

/* A child commits and dies without closing: the lock file stays dirty and
 * the next open recovers the commit. */
static void
test_unclean(void)
{
	struct store *s;
	char buf[128];
	pid_t pid;
	int status;

	if ((pid = fork()) == 0) {
		s = open_t(0);
		if (s == NULL || store_begin(s) == -1 ||
		    put_s(s, "kill", "survived") == -1 || store_commit(s) == -1 ||
		    store_begin(s) == -1 || put_s(s, "lost", "x") == -1)
			_exit(1);
		_exit(0);	/* no checkpoint, no close, one txn open */
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid &&
	    WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "a child commits and exits without close");
	lock_says(buf, sizeof(buf));
	CHECK(strcmp(buf, "dirty") == 0, "the lock file says dirty");
	s = open_t(0);
	CHECK(s != NULL, "reopen after the unclean stop (recovery, verify)");
	CHECK(s != NULL && has(s, "kill", "survived"),
	    "the committed record survived");
	CHECK(s != NULL && absent(s, "lost"), "the uncommitted one did not");
	CHECK(s != NULL && has(s, "a", "apple"), "older records are intact");
	CHECK(store_close(&s) == 0, "close");
	lock_says(buf, sizeof(buf));
	CHECK(strncmp(buf, "clean ", 6) == 0, "the lock file says clean again");
}

/* Garbage in place of the database: refused, or set aside and fresh. */
static void
test_damaged(void)
{
	struct store *s;
	struct stat st;
	char p[512], pd[512], junk[8192];
	int fd;

	path_of(p, sizeof(p), DB);
	path_of(pd, sizeof(pd), DB ".damaged");
	memset(junk, 0x5a, sizeof(junk));
	fd = open(p, O_WRONLY | O_TRUNC);
	CHECK(fd != -1 && write(fd, junk, sizeof(junk)) == (ssize_t)sizeof(junk),
	    "garbage written over the database");
	if (fd != -1)
		close(fd);
	errno = 0;
	CHECK(open_t(0) == NULL && errno != 0,
	    "without STORE_DISCARD a damaged store is refused");
	CHECK(stat(p, &st) == 0 && st.st_size == (off_t)sizeof(junk) &&
	    stat(pd, &st) == -1, "and left where it is");
	s = open_t(STORE_DISCARD);
	CHECK(s != NULL, "with STORE_DISCARD a fresh store opens");
	CHECK(stat(pd, &st) == 0 && st.st_size == (off_t)sizeof(junk),
	    "the damaged file is set aside as DB.damaged");
	CHECK(s != NULL && absent(s, "a") && put_s(s, "new", "one") == 0 &&
	    has(s, "new", "one"), "the fresh store is empty and usable");
	CHECK(store_close(&s) == 0, "close");
	s = open_t(STORE_CHECK);
	CHECK(s != NULL && has(s, "new", "one"), "reopen (STORE_CHECK): kept");
	store_close(&s);
}

static void
test_private(void)
{
	struct store *s;

	CHECK(chmod(dir, 0770) == 0, "the directory made group-writable");
	errno = 0;
	s = open_t(STORE_PRIVATE);
	CHECK(s == NULL && errno == EPERM, "STORE_PRIVATE refuses it: EPERM");
	CHECK(chmod(dir, 0700) == 0 && (s = open_t(STORE_PRIVATE)) != NULL,
	    "0700: it opens");
	store_close(&s);
}

int
main(void)
{
	char base[64], cmd[128];
	int ret;

	log_open("test_store", 0);
	if (mkdtemp(strcpy(base, "/tmp/test_store.XXXXXX")) == NULL ||
	    str_fmt(dir, sizeof(dir), "%s/store", base) == -1) {
		perror("mkdtemp");
		return 1;
	}
	test_basic();
	test_abort();
	test_walk();
	test_unclean();
	test_damaged();
	test_private();
	ret = CHECK_DONE();
	if (str_fmt(cmd, sizeof(cmd), "rm -rf '%s'", base) == 0 && system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", base);
	return ret;
}
