/*
 * test_index.c - libmail/mailbox/index.c against a real Berkeley DB in a
 * mkdtemp directory: record format, UIDLs, put/get/del/iter/count, transactions,
 * the lock, idx_sync after changes made by hand, damaged indexes rebuilt,
 * and a process killed while it holds the index.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "index.h"
#include "maildir.h"
#include "util.h"

#include "check.h"

static char base[64], md[128];

static void
path(char *out, size_t size, const char *rel)
{
	if (str_fmt(out, size, "%s/%s", md, rel) == -1)
		abort();
}

static int
write_file(const char *rel, const char *content)
{
	char p[512];
	int fd;

	path(p, sizeof(p), rel);
	if ((fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		return -1;
	if (write_all(fd, content, strlen(content)) == -1) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static void
mkrec(struct idx_rec *r, const char *name, int64_t arrival, uint64_t size)
{
	memset(r, 0, sizeof(*r));
	str_copy(r->name, sizeof(r->name), name);
	r->arrival = arrival;
	r->size = size;
	r->wsize = size + 10;
	r->lines = 10;
	str_copy(r->subject, sizeof(r->subject), "subject of ");
	str_copy(r->from, sizeof(r->from), name);
}

static uint64_t
count_of(struct idx *ix, uint64_t *wsize)
{
	uint64_t c = UINT64_MAX;

	if (idx_count(ix, &c, wsize) == -1)
		return UINT64_MAX;
	return c;
}

/* ---- record format ---- */

static void
test_codec(void)
{
	unsigned char buf[IDX_REC_MAX], bad[IDX_REC_MAX + 1];
	struct idx_rec r, d;
	int len, i, rejected;

	mkrec(&r, "1700000000.M1P2Q3.host,S=5,W=6:2,S", 1700000000, 5);
	maildir_uidl(r.name, r.uidl);
	str_copy(r.msgid, sizeof(r.msgid), "<a@b>");
	r.dir = IDX_CUR;
	len = idx_rec_encode(&r, buf, sizeof(buf));
	CHECKF(len > 0 && len <= IDX_REC_MAX, "encode: length %d", len);
	CHECKF(buf[0] == IDX_REC_VERSION && buf[1] == IDX_CUR && buf[2] == 5 &&
	    buf[3] == 0, "encode: version, dir, little-endian size");
	CHECKF(idx_rec_decode(buf, (size_t)len, &d) == 0 &&
	    memcmp(&r, &d, sizeof(r)) == 0, "decode: round trip is exact");
	rejected = 0;
	for (i = 0; i < len; i++)
		rejected += idx_rec_decode(buf, (size_t)i, &d) == -1;
	CHECKF(rejected == len, "decode: every truncation rejected (%d/%d)",
	    rejected, len);
	memcpy(bad, buf, (size_t)len);
	bad[len] = 'x';
	CHECKF(idx_rec_decode(bad, (size_t)len + 1, &d) == -1,
	    "decode: trailing byte rejected");
	memcpy(bad, buf, (size_t)len);
	bad[0] = 2;
	CHECKF(idx_rec_decode(bad, (size_t)len, &d) == -1, "decode: version 2 rejected");
	memcpy(bad, buf, (size_t)len);
	bad[1] = 2;
	CHECKF(idx_rec_decode(bad, (size_t)len, &d) == -1, "decode: dir 2 rejected");
	memcpy(bad, buf, (size_t)len);
	bad[30] = 0xff;	/* name length low byte */
	bad[31] = 0xff;
	CHECKF(idx_rec_decode(bad, (size_t)len, &d) == -1,
	    "decode: overlong string length rejected");
	memcpy(bad, buf, (size_t)len);
	bad[33] = '\0';	/* a NUL inside the name */
	CHECKF(idx_rec_decode(bad, (size_t)len, &d) == -1, "decode: NUL in name rejected");
	memcpy(bad, buf, (size_t)len);
	bad[33] = '/';
	CHECKF(idx_rec_decode(bad, (size_t)len, &d) == -1, "decode: '/' in name rejected");
	memcpy(bad, buf, (size_t)len);
	bad[10] = 0;	/* wsize < size */
	CHECKF(idx_rec_decode(bad, (size_t)len, &d) == -1, "decode: wsize < size rejected");
	CHECKF(idx_rec_encode(&r, buf, 10) == -1, "encode: small buffer refused");
	r.subject[3] = '\n';
	CHECKF(idx_rec_encode(&r, buf, sizeof(buf)) == -1,
	    "encode: control byte in a header refused");
}

/* ---- UIDL ---- */

static void
test_uidl(void)
{
	static const struct { int len; const char *hex; } vec[] = {
		{ 55, "3eb90dbe628074929133fb0fd0b113fad0f988fa54fbfd334edb1db7773fac0c" },
		{ 56, "aab8e029b64f76792c999bf8260a90caf05e8e50536dd4d2a11a5b7d31fc61a5" },
		{ 64, "86d733411015f0a28930ece46590ef1a88537010bc9456e92652f3db394daa77" },
		{ 119, "a63d2ce6b1d6d85e80b7b5df068ec08582c62cfc85c351c34339400272500824" },
	};
	char u1[UIDL_MAX + 1], u2[UIDL_MAX + 1], name[300], want[80];
	size_t i;

	maildir_uidl("1700000000.M1P2Q3.host,S=5,W=6", u1);
	CHECKF(strcmp(u1, "1700000000.M1P2Q3.host") == 0, "uidl: unique part (%s)", u1);
	maildir_uidl("1700000000.M1P2Q3.host,S=5,W=6:2,RS", u2);
	CHECKF(strcmp(u1, u2) == 0, "uidl: same after flags are added");
	maildir_uidl("1700000000.M1P2Q3.host:2,", u2);
	CHECKF(strcmp(u1, u2) == 0, "uidl: same for a name without sizes");
	str_fmt(name, sizeof(name), "1700000000.M123456P1234Q1.%080d", 0);
	memset(name + 26, 'h', 80);
	maildir_uidl(name, u1);
	CHECKF(strcmp(u1, "~18254b13ea50c6b73d885fb13bc260dbbf0bd53c34198e11b26a5e6a6ff3f6fb")
	    == 0, "uidl: 106-char unique part is ~sha256 (%s)", u1);
	CHECKF(strlen(u1) <= UIDL_MAX, "uidl: hashed form fits UIDL_MAX");
	strcat(name, ",S=1:2,S");
	maildir_uidl(name, u2);
	CHECKF(strcmp(u1, u2) == 0, "uidl: hash stable across flags");
	name[60] = 'x';
	maildir_uidl(name, u2);
	CHECKF(strcmp(u1, u2) != 0, "uidl: different long names, different hashes");
	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		memset(name, 'a', (size_t)vec[i].len);
		name[0] = '~';
		name[vec[i].len] = '\0';
		maildir_uidl(name, u1);
		str_fmt(want, sizeof(want), "~%s", vec[i].hex);
		CHECKF(strcmp(u1, want) == 0, "uidl: '~' names hashed, SHA-256 "
		    "padding at %d bytes", vec[i].len);
	}
	maildir_uidl("abc def", u1);
	CHECKF(u1[0] == '~' && strlen(u1) == 65, "uidl: space hashed");
	maildir_uidl("abc\177", u1);
	CHECKF(u1[0] == '~', "uidl: DEL byte hashed");
	memset(name, 'b', UIDL_MAX);
	name[UIDL_MAX] = '\0';
	maildir_uidl(name, u1);
	CHECKF(strcmp(u1, name) == 0, "uidl: exactly %d chars kept", UIDL_MAX);
	name[UIDL_MAX] = 'b';
	name[UIDL_MAX + 1] = '\0';
	maildir_uidl(name, u1);
	CHECKF(u1[0] == '~', "uidl: %d chars hashed", UIDL_MAX + 1);
}

/* ---- basic operations ---- */

struct seen {
	char	names[16][64];
	int	n;
	int	stop_at;
};

static int
collect(const struct idx_rec *r, void *arg)
{
	struct seen *s = arg;

	if (s->n < 16)
		str_copy(s->names[s->n], sizeof(s->names[0]), r->name);
	s->n++;
	return s->stop_at && s->n == s->stop_at ? 42 : 0;
}

static void
test_ops(void)
{
	struct idx *ix;
	struct idx_rec r, g;
	struct seen s;
	uint64_t ws;
	char p[512], buf[128];
	int fd;
	ssize_t n;

	CHECKF(idx_open(&ix, md, 0) == -1 && errno == ENOENT,
	    "open without IDX_CREATE and no index: ENOENT");
	CHECKF(idx_open(&ix, md, IDX_CREATE) == 0, "open with IDX_CREATE");
	path(p, sizeof(p), "inetmail/lock");
	fd = open(p, O_RDONLY);
	n = fd == -1 ? -1 : pread(fd, buf, sizeof(buf) - 1, 0);
	CHECKF(n == 6 && memcmp(buf, "dirty\n", 6) == 0, "lock says dirty while open");
	CHECKF(fd != -1 && flock(fd, LOCK_EX | LOCK_NB) == -1 && errno == EWOULDBLOCK,
	    "lock is held (flock(1) excluded)");
	CHECKF(count_of(ix, &ws) == 0 && ws == 0, "empty: count 0");

	mkrec(&r, "300.M1P1Q1.h,S=100,W=110", 300, 100);
	CHECKF(idx_put(ix, &r) == 0, "put a");
	mkrec(&r, "100.M1P1Q2.h,S=200,W=210", 100, 200);
	CHECKF(idx_put(ix, &r) == 0, "put b");
	mkrec(&r, "200.M1P1Q3.h,S=300,W=310", 100, 300);
	CHECKF(idx_put(ix, &r) == 0, "put c (same arrival as b)");
	CHECKF(count_of(ix, &ws) == 3 && ws == 630, "count 3, wsize 630");
	CHECKF(idx_get(ix, "300.M1P1Q1.h,S=100,W=110:2,S", &g) == 0 &&
	    strcmp(g.name, "300.M1P1Q1.h,S=100,W=110") == 0 && g.size == 100 &&
	    g.wsize == 110 && g.arrival == 300 &&
	    strcmp(g.uidl, "300.M1P1Q1.h") == 0 &&
	    strcmp(g.from, "300.M1P1Q1.h,S=100,W=110") == 0,
	    "get by unique part, fields and uidl back");
	CHECKF(idx_get(ix, "999.nope", &g) == 1, "get absent: 1");
	mkrec(&r, "300.M1P1Q1.h,S=100,W=110:2,S", 300, 150);
	r.dir = IDX_CUR;
	CHECKF(idx_put(ix, &r) == 0 && count_of(ix, &ws) == 3 && ws == 680,
	    "put over the same unique part: count kept, wsize adjusted");
	CHECKF(idx_get(ix, "300.M1P1Q1.h", &g) == 0 && g.dir == IDX_CUR &&
	    strcmp(g.name, "300.M1P1Q1.h,S=100,W=110:2,S") == 0, "renamed record");

	memset(&s, 0, sizeof(s));
	CHECKF(idx_iter(ix, collect, &s) == 0 && s.n == 3 &&
	    strcmp(s.names[0], "100.M1P1Q2.h,S=200,W=210") == 0 &&
	    strcmp(s.names[1], "200.M1P1Q3.h,S=300,W=310") == 0 &&
	    strncmp(s.names[2], "300.", 4) == 0,
	    "iter: arrival order, then name");
	memset(&s, 0, sizeof(s));
	s.stop_at = 2;
	CHECKF(idx_iter(ix, collect, &s) == 42 && s.n == 2, "iter: stops on fn != 0");

	CHECKF(idx_begin(ix) == 0, "begin");
	mkrec(&r, "400.M1P1Q4.h", 400, 1);
	CHECKF(idx_put(ix, &r) == 0 && count_of(ix, NULL) == 4,
	    "put inside a transaction is visible to it");
	idx_abort(ix);
	CHECKF(idx_get(ix, "400.M1P1Q4.h", &g) == 1 && count_of(ix, NULL) == 3,
	    "abort: record and count rolled back");
	CHECKF(idx_begin(ix) == 0 && idx_put(ix, &r) == 0 &&
	    idx_del(ix, "100.M1P1Q2.h,S=200,W=210") == 0 && idx_commit(ix) == 0,
	    "begin, put, del, commit");
	CHECKF(idx_get(ix, "400.M1P1Q4.h", &g) == 0 && count_of(ix, &ws) == 3 &&
	    ws == 680 - 210 + 11, "commit: both applied, count 3");
	CHECKF(idx_del(ix, "100.M1P1Q2.h") == 1, "del absent: 1");
	CHECKF(idx_del(ix, ",S=1") == -1 && errno == EINVAL, "empty unique part: EINVAL");
	CHECKF(idx_close(&ix) == 0 && ix == NULL, "close clears the pointer");

	n = fd == -1 ? -1 : pread(fd, buf, sizeof(buf) - 1, 0);
	if (n >= 0)
		buf[n] = '\0';
	CHECKF(n > 6 && strncmp(buf, "clean ", 6) == 0, "lock says clean after close");
	CHECKF(flock(fd, LOCK_EX | LOCK_NB) == 0 && flock(fd, LOCK_UN) == 0,
	    "lock released after close");
	close(fd);
	CHECKF(idx_open(&ix, md, 0) == 0 && count_of(ix, NULL) == 3 &&
	    idx_get(ix, "400.M1P1Q4.h", &g) == 0, "reopen: data persisted");
	idx_close(&ix);
}

/* ---- symlinks ---- */

static void
test_symlinks(void)
{
	char d[256], p[512];
	struct idx *ix;

	str_fmt(d, sizeof(d), "%s/sl", base);
	mkdir(d, 0700);
	str_fmt(p, sizeof(p), "%s/elsewhere", base);
	mkdir(p, 0700);
	str_fmt(d, sizeof(d), "%s/sl/inetmail", base);
	CHECKF(symlink(p, d) == 0, "symlink MAILDIR/inetmail -> elsewhere");
	str_fmt(d, sizeof(d), "%s/sl", base);
	CHECKF(idx_open(&ix, d, IDX_CREATE) == -1 && errno == ELOOP,
	    "symlinked index directory refused");
	str_fmt(p, sizeof(p), "%s/elsewhere/index.db", base);
	CHECKF(access(p, F_OK) == -1, "nothing created through it");
	str_fmt(d, sizeof(d), "%s/sl/inetmail", base);
	unlink(d);
	mkdir(d, 0700);
	str_fmt(p, sizeof(p), "%s/sl/inetmail/lock", base);
	str_fmt(d, sizeof(d), "%s/elsewhere/target", base);
	CHECKF(symlink(d, p) == 0, "symlink lock -> elsewhere/target");
	str_fmt(d, sizeof(d), "%s/sl", base);
	CHECKF(idx_open(&ix, d, IDX_CREATE) == -1 && errno == ELOOP,
	    "symlinked lock file refused");
}

/* ---- sync ---- */

static int
deliver(const char *body, struct idx_rec *rec)
{
	char p[] = "/tmp/test_index.XXXXXX";
	int fd = mkstemp(p), r;

	unlink(p);
	if (fd == -1 || write_all(fd, body, strlen(body)) == -1)
		return -1;
	r = maildir_deliver(md, NULL, fd, rec);
	close(fd);
	return r;
}

static void
set_mtime(const char *rel, time_t t)
{
	struct timespec ts[2] = { { t, 0 }, { t, 0 } };
	char p[512];

	path(p, sizeof(p), rel);
	utimensat(AT_FDCWD, p, ts, 0);
}

static void
test_sync(void)
{
	struct idx *ix;
	struct idx_rec a, b, g;
	unsigned add, rem;
	uint64_t ws;
	int r;
	char p1[512], p2[512], rel[400];

	CHECKF(deliver("Subject: one\n\nbody\n", &a) == 0 &&
	    deliver("Subject: two\n\nbody two\n", &b) == 0, "two deliveries");
	CHECKF(write_file("new/1600000000.M5P5Q5.other", "From: x\nSubject: by "
	    "hand\n\nhi\nthere") == 0, "a file added by hand to new/ (no sizes)");
	CHECKF(write_file("cur/1600000001.M6P6Q6.other,S=4,W=6:2,S", "a\nb\n") == 0,
	    "a file added by hand to cur/ (with sizes)");
	write_file("new/.hidden", "x");
	path(p1, sizeof(p1), "new/1600000002.link");
	symlink("/etc/passwd", p1);
	path(p1, sizeof(p1), "new/1600000003.dir");
	mkdir(p1, 0700);
	CHECKF(idx_open(&ix, md, 0) == 0, "open");
	r = idx_sync(ix, md, 0, &add, &rem);
	CHECKF(r == 0 && add == 4 && rem == 3,
	    "sync adds the 2 delivered and the 2 hand-made files, drops the 3 "
	    "records test_ops made without files (added %u removed %u)", add, rem);
	CHECKF(count_of(ix, &ws) == 2 + 2, "count: 2 delivered + 2 by hand");
	CHECKF(idx_get(ix, "1600000000.M5P5Q5.other", &g) == 0 && g.size == 34 &&
	    g.wsize == 34 + 4 + 2 && g.lines == 5 && g.dir == IDX_NEW &&
	    strcmp(g.subject, "by hand") == 0 && strcmp(g.from, "x") == 0 &&
	    g.arrival == 1600000000, "scanned file: sizes, lines, headers, arrival");
	CHECKF(idx_get(ix, "1600000001.M6P6Q6.other", &g) == 0 && g.size == 4 &&
	    g.wsize == 6 && g.lines == 2 && g.dir == IDX_CUR,
	    "sized file in cur/: sizes from the name, lines from W-S");
	CHECKF(idx_get(ix, ".hidden", &g) == 1 && idx_get(ix, "1600000002.link",
	    &g) == 1 && idx_get(ix, "1600000003.dir", &g) == 1,
	    "dotfile, symlink, directory ignored");
	r = idx_sync(ix, md, 0, &add, &rem);
	CHECKF(r == 0 && add == 0 && rem == 0,
	    "second sync: nothing to do");

	/* removed and renamed by hand */
	path(p1, sizeof(p1), "new/1600000000.M5P5Q5.other");
	unlink(p1);
	str_fmt(rel, sizeof(rel), "new/%s", a.name);
	path(p1, sizeof(p1), rel);
	str_fmt(rel, sizeof(rel), "cur/%s:2,S", a.name);
	path(p2, sizeof(p2), rel);
	CHECKF(rename(p1, p2) == 0, "by hand: one file removed, one moved to cur/");
	r = idx_sync(ix, md, 0, &add, &rem);
	CHECKF(r == 0 && add == 0 && rem == 1,
	    "sync removes the vanished one (removed %u)", rem);
	CHECKF(idx_get(ix, a.name, &g) == 0 && g.dir == IDX_CUR &&
	    strcmp(g.name, strrchr(p2, '/') + 1) == 0 &&
	    strcmp(g.uidl, a.uidl) == 0 && g.size == a.size,
	    "moved file: record follows, same uidl and size");
	CHECKF(count_of(ix, &ws) == 3, "count 3");

	/* cur/ skipped while its mtime is unchanged, seen by a full sync */
	set_mtime("cur", 1000000000);
	set_mtime("new", 1000000000);
	CHECKF(idx_sync(ix, md, 0, NULL, NULL) == 0, "sync stores old mtimes");
	write_file("cur/1600000009.M9P9Q9.other:2,", "Subject: sneaky\n\n");
	set_mtime("cur", 1000000000);
	r = idx_sync(ix, md, 0, &add, &rem);
	CHECKF(r == 0 && add == 0,
	    "quick sync skips cur/ with an unchanged mtime");
	r = idx_sync(ix, md, IDX_SYNC_FULL, &add, &rem);
	CHECKF(r == 0 && add == 1,
	    "full sync finds the file");
	write_file("cur/1600000010.M1P1Q1.other:2,", "x\n");
	r = idx_sync(ix, md, 0, &add, &rem);
	CHECKF(r == 0 && add == 1,
	    "quick sync sees cur/ once its mtime changed");
	CHECKF(idx_get(ix, "400.M1P1Q4.h", &g) == 1, "records without files removed");
	idx_close(&ix);
}

/* ---- damage ---- */

static int
count_files(void)
{
	char cmd[600];
	FILE *f;
	int n = -1;

	str_fmt(cmd, sizeof(cmd), "find %s/new %s/cur -type f ! -name '.*' | "
	    "wc -l", md, md);
	if ((f = popen(cmd, "r")) != NULL) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		pclose(f);
	}
	return n;
}

static void
damage(const char *how)
{
	char p[512], junk[8192];
	int fd;
	size_t i;
	struct stat st;

	path(p, sizeof(p), "inetmail/index.db");
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 131 + 7);
	if (strcmp(how, "garbage") == 0) {
		fd = open(p, O_WRONLY);
		fstat(fd, &st);
		for (i = 0; i < (size_t)st.st_size; i += sizeof(junk))
			write_all(fd, junk, sizeof(junk));
		close(fd);
	} else if (strcmp(how, "truncate") == 0) {
		truncate(p, 1000);
	} else if (strcmp(how, "empty") == 0) {
		truncate(p, 0);
	} else if (strcmp(how, "page") == 0) {
		/* the second page, after a crash (lock dirty): verify catches it */
		fd = open(p, O_WRONLY);
		pwrite(fd, junk, 4096, 4096);
		close(fd);
		path(p, sizeof(p), "inetmail/lock");
		fd = open(p, O_WRONLY | O_TRUNC);
		write_all(fd, "dirty\n", 6);
		close(fd);
	}
}

static void
test_damage(void)
{
	static const char *const hows[] = { "garbage", "truncate", "empty", "page" };
	struct idx *ix;
	struct idx_rec r;
	unsigned add, rem;
	char p[512];
	size_t i;
	int files = count_files(), j, rc;

	/* enough records for a multi-page database */
	CHECKF(idx_open(&ix, md, 0) == 0, "open for damage tests");
	for (j = 0; j < 300; j++) {
		char name[64];

		str_fmt(name, sizeof(name), "1.M%dP1Q1.fake", j);
		mkrec(&r, name, 1, 10);
		idx_put(ix, &r);
	}
	idx_close(&ix);
	for (i = 0; i < sizeof(hows) / sizeof(hows[0]); i++) {
		if (idx_open(&ix, md, 0) == 0) {
			idx_sync(ix, md, IDX_SYNC_FULL, NULL, NULL);
			for (j = 0; j < 300; j++) {
				char name[64];

				str_fmt(name, sizeof(name), "1.M%dP1Q1.fake", j);
				mkrec(&r, name, 1, 10);
				idx_put(ix, &r);
			}
			idx_close(&ix);
		}
		path(p, sizeof(p), "inetmail/index.db.damaged");
		unlink(p);
		damage(hows[i]);
		CHECKF(idx_open(&ix, md, 0) == 0, "%s: open succeeds", hows[i]);
		if (ix == NULL)
			continue;
		CHECKF(count_of(ix, NULL) == 0, "%s: index recreated empty", hows[i]);
		CHECKF(access(p, F_OK) == 0, "%s: damaged file moved aside", hows[i]);
		rc = idx_sync(ix, md, IDX_SYNC_FULL, &add, &rem);
		CHECKF(rc == 0 && count_of(ix, NULL) == (uint64_t)files,
		    "%s: full sync rebuilds, count %d (added %u removed %u)",
		    hows[i], files, add, rem);
		idx_close(&ix);
	}
	{
		char cmd[700];

		str_fmt(cmd, sizeof(cmd), "flock %s/inetmail/lock db5.3_verify "
		    "-h %s/inetmail index.db >/dev/null 2>&1", md, md);
		CHECKF(system(cmd) == 0, "db5.3_verify passes after rebuild");
	}
}

/* ---- kill -9 while holding the index, lock waiting ---- */

static void
test_kill(void)
{
	struct idx *ix;
	struct idx_rec r, g;
	pid_t pid;
	int pfd[2], st;
	char c;
	uint64_t t0;

	if (pipe(pfd) == -1)
		return;
	if ((pid = fork()) == 0) {
		close(pfd[0]);
		if (idx_open(&ix, md, 0) == -1)
			_exit(1);
		mkrec(&r, "1.killed.committed", 1, 1);
		idx_put(ix, &r);
		idx_begin(ix);
		mkrec(&r, "1.killed.uncommitted", 1, 1);
		idx_put(ix, &r);
		write(pfd[1], "x", 1);
		sleep_ms(300);
		kill(getpid(), SIGKILL);
		_exit(1);
	}
	close(pfd[1]);
	CHECKF(read(pfd[0], &c, 1) == 1, "child holds the index");
	t0 = now_ms();
	alarm(20);
	CHECKF(idx_open(&ix, md, 0) == 0, "open after the holder was killed -9");
	alarm(0);
	t0 = now_ms() - t0;
	CHECKF(t0 >= 200, "open waited for the lock (%llu ms)",
	    (unsigned long long)t0);
	waitpid(pid, &st, 0);
	CHECKF(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "child died of SIGKILL");
	CHECKF(ix != NULL && idx_get(ix, "1.killed.committed", &g) == 0,
	    "committed put survived the kill");
	CHECKF(ix != NULL && idx_get(ix, "1.killed.uncommitted", &g) == 1,
	    "uncommitted put rolled back");
	if (ix != NULL) {
		idx_del(ix, "1.killed.committed");
		idx_close(&ix);
	}
	close(pfd[0]);
}

int
main(void)
{
	str_copy(base, sizeof(base), "/tmp/test_index.XXXXXX");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	str_fmt(md, sizeof(md), "%s/Maildir", base);
	if (maildir_create(md) == -1) {
		perror("maildir_create");
		return 1;
	}
	test_codec();
	test_uidl();
	test_ops();
	test_symlinks();
	test_sync();
	test_damage();
	test_kill();
	if (check_failed == 0) {
		char cmd[200];

		str_fmt(cmd, sizeof(cmd), "rm -rf %s", base);
		system(cmd);
	} else
		CHECK_DIAG("left %s for inspection", base);
	return CHECK_DONE();
}
