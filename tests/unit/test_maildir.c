/*
 * test_maildir.c - libmail/mailbox/maildir.c in a mkdtemp directory: directory
 * creation and symlink refusal, delivery (name, sizes, mode, no tmp file
 * left, index record), exact sizes with and without a final LF, header
 * parsing, name sizes, sync's per-file records, undo, failure cleanup.
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index.h"
#include "maildir.h"
#include "util.h"

#include "check.h"

static char base[64];

/* A message fd holding len bytes of s. */
static int
msg_fd(const char *s, size_t len)
{
	char p[] = "/tmp/test_maildir.XXXXXX";
	int fd = mkstemp(p);

	if (fd == -1)
		return -1;
	unlink(p);
	if (write_all(fd, s, len) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static int
scan_str(const char *s, size_t len, struct idx_rec *r)
{
	int fd = msg_fd(s, len), ret;

	memset(r, 0, sizeof(*r));
	if (fd == -1)
		return -1;
	ret = maildir_scan_message(fd, r);
	close(fd);
	return ret;
}

static void
test_sizes(void)
{
	static const struct {
		const char *s;
		uint64_t size, wsize;
		uint32_t lines;
	} v[] = {
		{ "", 0, 0, 0 },
		{ "\n", 1, 2, 1 },
		{ "a\nb\n", 4, 6, 2 },
		{ "a\nb", 3, 6, 2 },		/* CRLF added for the last line */
		{ "abc", 3, 5, 1 },
		{ "a\n\n\n", 4, 7, 3 },
		{ "x\r\n", 3, 4, 1 },		/* a stored CR is data */
	};
	struct idx_rec r;
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int rc = scan_str(v[i].s, strlen(v[i].s), &r);

		CHECKF(rc == 0 && r.size == v[i].size && r.wsize == v[i].wsize &&
		    r.lines == v[i].lines, "sizes of message %zu: size %" PRIu64
		    " wsize %" PRIu64 " lines %" PRIu32, i, r.size, r.wsize,
		    r.lines);
	}
}

static void
test_headers(void)
{
	struct idx_rec r;
	char big[2000];
	const char *m;
	size_t i;

	m = "Received: x\nSUBJECT: hello\n world\n\tagain\nfRoM: Alice "
	    "<a@x.test>\nTo: b@x.test\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n"
	    "Message-ID: <1@x>\nSubject: second\n\nSubject: in body\n";
	CHECKF(scan_str(m, strlen(m), &r) == 0, "scan a header");
	CHECKF(strcmp(r.subject, "hello world\tagain") != 0 &&
	    strcmp(r.subject, "hello world again") == 0,
	    "folded Subject unfolded, tab made a space: '%s'", r.subject);
	CHECKF(strcmp(r.from, "Alice <a@x.test>") == 0, "From, any case: '%s'", r.from);
	CHECKF(strcmp(r.to, "b@x.test") == 0 && strcmp(r.msgid, "<1@x>") == 0 &&
	    strcmp(r.date, "Mon, 1 Jan 2024 00:00:00 +0000") == 0,
	    "To, Message-ID, Date");
	m = "Subject: crlf\r\n line\r\nFrom: f\r\n\r\nTo: body\r\n";
	CHECKF(scan_str(m, strlen(m), &r) == 0 && strcmp(r.subject, "crlf line") == 0 &&
	    strcmp(r.from, "f") == 0 && r.to[0] == '\0',
	    "CRLF header, stops at the empty line");
	m = "Subject: a\001b\033[31m\xc3\xa9  \n\n";
	scan_str(m, strlen(m), &r);
	CHECKF(strcmp(r.subject, "a?b?[31m??") == 0,
	    "control and 8-bit bytes made printable, trailing space cut: '%s'",
	    r.subject);
	memcpy(big, "Subject: ", 9);
	for (i = 9; i < sizeof(big) - 3; i++)
		big[i] = (char)('a' + i % 26);
	memcpy(big + sizeof(big) - 3, "\n\n", 3);
	CHECKF(scan_str(big, strlen(big), &r) == 0 &&
	    strlen(r.subject) == IDX_HDR_MAX && r.subject[0] == 'j',
	    "long header cut to %d", IDX_HDR_MAX);
	m = "From x@y Mon Jan 1\nNo colon line\nSubject:nospace\n";
	CHECKF(scan_str(m, strlen(m), &r) == 0 && r.from[0] == '\0' &&
	    strcmp(r.subject, "nospace") == 0,
	    "mbox From_ line is not From:, no empty line needed");
	m = "Subject: \0zero\n\n";
	scan_str(m, 16, &r);
	CHECKF(strcmp(r.subject, "?zero") == 0,
	    "NUL byte in a header: '%s'", r.subject);
}

static void
test_name_sizes(void)
{
	uint64_t s, w;

	CHECKF(maildir_name_sizes("1.M1P1Q1.h,S=12,W=14", &s, &w) == 0 &&
	    s == 12 && w == 14, "name sizes");
	CHECKF(maildir_name_sizes("1.M1P1Q1.h,W=14,S=12:2,S", &s, &w) == 0 &&
	    s == 12 && w == 14, "name sizes, any order, with flags");
	CHECKF(maildir_name_sizes("1.M1P1Q1.h,S=12", &s, &w) == -1 && s == 12 &&
	    w == UINT64_MAX, "W= absent");
	CHECKF(maildir_name_sizes("1.M1P1Q1.h:2,S=12,W=1", &s, &w) == -1 &&
	    s == UINT64_MAX, "fields after ':' ignored");
	CHECKF(maildir_name_sizes("1.M1P1Q1.h,S=1x,W=-1", &s, &w) == -1 &&
	    s == UINT64_MAX && w == UINT64_MAX, "bad numbers rejected");
	CHECKF(maildir_name_sizes("1.M1P1Q1.h,S=,W=99999999999999999999999", &s,
	    &w) == -1, "empty and overflowing numbers rejected");
}

static void
test_create(void)
{
	char md[256], p[512], t[512];
	struct stat st;
	struct idx_rec r;
	int fd;

	str_fmt(md, sizeof(md), "%s/create", base);
	CHECKF(maildir_create(md) == 0, "create");
	str_fmt(p, sizeof(p), "%s/tmp", md);
	CHECKF(stat(p, &st) == 0 && S_ISDIR(st.st_mode) &&
	    (st.st_mode & 07777) == 0700, "tmp/ is a 0700 directory");
	CHECKF(maildir_create(md) == 0, "create again: fine");

	str_fmt(t, sizeof(t), "%s/target", base);
	mkdir(t, 0700);
	str_fmt(md, sizeof(md), "%s/link", base);
	symlink(t, md);
	CHECKF(maildir_create(md) == -1 && errno == ELOOP, "symlinked Maildir refused");

	str_fmt(md, sizeof(md), "%s/symtmp", base);
	mkdir(md, 0700);
	str_fmt(p, sizeof(p), "%s/tmp", md);
	symlink(t, p);
	fd = msg_fd("Subject: x\n\nx\n", 14);
	CHECKF(maildir_deliver(md, NULL, fd, &r) == -1 && errno == ELOOP,
	    "delivery refuses a symlinked tmp/");
	CHECKF(entries(t) == 0, "nothing written through the symlink");

	str_fmt(md, sizeof(md), "%s/symnew", base);
	mkdir(md, 0700);
	str_fmt(p, sizeof(p), "%s/new", md);
	symlink(t, p);
	CHECKF(maildir_deliver(md, NULL, fd, &r) == -1 && errno == ELOOP,
	    "delivery refuses a symlinked new/");
	CHECKF(entries(t) == 0, "nothing written through the symlink");
	str_fmt(p, sizeof(p), "%s/tmp", md);
	CHECKF(entries(p) == 0, "and nothing left in tmp/");
	close(fd);
}

static void
test_deliver(void)
{
	const char *msg = "From: Bob <b@x.test>\nSubject: hi\nMessage-ID: <m@x>\n"
	    "\nline one\nlast line without LF";
	char md[256], p[512], buf[512], rest[IDX_NAME_MAX];
	struct idx_rec r, r2, g;
	struct stat st;
	struct idx *ix;
	long long t;
	long us, pid;
	unsigned long q;
	uint64_t s, w, cnt;
	int fd, n, rd;

	str_fmt(md, sizeof(md), "%s/deliver", base);
	fd = msg_fd(msg, strlen(msg));
	CHECKF(maildir_deliver(md, "Return-Path: <b@x.test>\n", fd, &r) == 0,
	    "deliver into a missing Maildir (created)");
	n = sscanf(r.name, "%lld.M%6ldP%ldQ%lu.%255s", &t, &us, &pid, &q, rest);
	CHECKF(n == 5 && pid == (long)getpid() && strchr(rest, '/') == NULL &&
	    strchr(rest, ':') == NULL, "name is TIME.MusecPpidQn.host: %s",
	    r.name);
	CHECKF(maildir_name_sizes(r.name, &s, &w) == 0 && s == r.size &&
	    w == r.wsize, "name carries ,S= and ,W= equal to the record");
	CHECKF(r.size == strlen(msg) + 24 && r.wsize == r.size + 6 + 2 &&
	    r.lines == 7, "sizes: header added, last line counted with CRLF");
	CHECKF(strcmp(r.subject, "hi") == 0 && strcmp(r.from, "Bob <b@x.test>") == 0 &&
	    strcmp(r.msgid, "<m@x>") == 0 && r.dir == IDX_NEW,
	    "record headers filled");
	str_fmt(p, sizeof(p), "%s/new/%s", md, r.name);
	CHECKF(stat(p, &st) == 0 && (uint64_t)st.st_size == s &&
	    (st.st_mode & 07777) == 0600, "file in new/, size S=, mode 0600");
	rd = open(p, O_RDONLY);
	n = rd == -1 ? -1 : (int)read(rd, buf, sizeof(buf) - 1);
	if (rd != -1)
		close(rd);
	CHECKF(n == (int)s && memcmp(buf, "Return-Path: <b@x.test>\n", 24) == 0 &&
	    memcmp(buf + 24, msg, strlen(msg)) == 0, "content is header + message");
	str_fmt(p, sizeof(p), "%s/tmp", md);
	CHECKF(entries(p) == 0, "delivery leaves no tmp file");
	CHECKF(maildir_deliver(md, NULL, fd, &r2) == 0 && strcmp(r.name, r2.name) != 0,
	    "second delivery, different name");
	str_fmt(p, sizeof(p), "%s/inetmail", md);
	CHECKF(access(p, F_OK) == -1 && errno == ENOENT,
	    "delivery leaves the index alone (no index directory)");
	CHECKF(idx_open(&ix, md, IDX_CREATE) == 0 &&
	    idx_sync(ix, md, 0, NULL, NULL) == 0 && idx_get(ix, r.name, &g) == 0 &&
	    g.size == r.size && g.wsize == r.wsize && g.lines == r.lines &&
	    strcmp(g.uidl, r.uidl) == 0 && strcmp(g.subject, r.subject) == 0 &&
	    idx_count(ix, &cnt, NULL) == 0 && cnt == 2,
	    "the next sync indexes both, as delivery described them");
	if (ix != NULL)
		idx_close(&ix);

	/* undo, also after the file was moved to cur/ with flags */
	CHECKF(idx_undo(md, r.name) == 0, "undo the first");
	str_fmt(p, sizeof(p), "%s/new/%s", md, r.name);
	CHECKF(access(p, F_OK) == -1 && errno == ENOENT, "file gone");
	str_fmt(p, sizeof(p), "%s/new/%s", md, r2.name);
	str_fmt(buf, sizeof(buf), "%s/cur/%s:2,S", md, r2.name);
	rename(p, buf);
	CHECKF(idx_undo(md, r2.name) == 0 && access(buf, F_OK) == -1,
	    "undo finds it in cur/ by its unique part");
	CHECKF(idx_undo(md, r2.name) == -1 && errno == ENOENT, "undo again: ENOENT");
	CHECKF(idx_open(&ix, md, 0) == 0 && idx_count(ix, &cnt, NULL) == 0 &&
	    cnt == 0, "records removed");
	if (ix != NULL)
		idx_close(&ix);
	close(fd);

	/* failures leave nothing behind and keep errno */
	CHECKF(maildir_deliver(md, NULL, -1, &r) == -1 && errno == EBADF,
	    "unreadable message: -1, EBADF");
	str_fmt(p, sizeof(p), "%s/tmp", md);
	str_fmt(buf, sizeof(buf), "%s/new", md);
	CHECKF(entries(p) == 0 && entries(buf) == 0, "nothing left in tmp/ or new/");
	{
		struct rlimit rl, old;
		char large[100];
		int ffd, rc, err;

		memset(large, 'x', sizeof(large));
		ffd = msg_fd(large, sizeof(large));
		signal(SIGXFSZ, SIG_IGN);
		getrlimit(RLIMIT_FSIZE, &old);
		rl = old;
		rl.rlim_cur = 10;	/* soft limit only: it can be raised back */
		fflush(stdout);
		setrlimit(RLIMIT_FSIZE, &rl);
		rc = maildir_deliver(md, NULL, ffd, &r);
		err = errno;
		setrlimit(RLIMIT_FSIZE, &old);
		CHECKF(rc == -1 && err == EFBIG, "write failure (file too big): "
		    "-1, errno kept (%s)", strerror(err));
		CHECKF(entries(p) == 0 && entries(buf) == 0,
		    "nothing left in tmp/ or new/");
		close(ffd);
	}
}

static void
test_index_file(void)
{
	char md[256], p[512];
	struct idx_rec r;
	int dfd, fd;
	const char *body = "Subject: s\n\nno final LF";	/* 23 bytes, 2 LF */

	str_fmt(md, sizeof(md), "%s/ixfile", base);
	maildir_create(md);
	str_fmt(p, sizeof(p), "%s/cur/1650000000.a,S=23,W=27:2,S", md);
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	write_all(fd, body, strlen(body));
	close(fd);
	str_fmt(p, sizeof(p), "%s/cur/1650000001.b,S=99,W=99", md);
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	write_all(fd, "a\nb\n", 4);
	close(fd);
	str_fmt(p, sizeof(p), "%s/cur", md);
	dfd = open(p, O_RDONLY | O_DIRECTORY);
	CHECKF(maildir_index_file(dfd, "1650000000.a,S=23,W=27:2,S", IDX_CUR, &r) == 0 &&
	    r.size == 23 && r.wsize == 27 && r.lines == 3 &&
	    strcmp(r.subject, "s") == 0 && r.arrival == 1650000000 &&
	    strcmp(r.uidl, "1650000000.a") == 0,
	    "sized name, unterminated: lines from W-S-1, header read");
	CHECKF(maildir_index_file(dfd, "1650000001.b,S=99,W=99", IDX_CUR, &r) == 0 &&
	    r.size == 4 && r.wsize == 6 && r.lines == 2,
	    "S= not the file size: scanned instead");
	CHECKF(maildir_index_file(dfd, "gone", IDX_CUR, &r) == 1, "vanished file: 1");
	close(dfd);
}

int
main(void)
{
	str_copy(base, sizeof(base), "/tmp/test_maildir.XXXXXX");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_sizes();
	test_headers();
	test_name_sizes();
	test_create();
	test_deliver();
	test_index_file();
	if (check_failed == 0) {
		char cmd[200];

		str_fmt(cmd, sizeof(cmd), "rm -rf %s", base);
		system(cmd);
	} else
		CHECK_DIAG("left %s for inspection", base);
	return CHECK_DONE();
}
