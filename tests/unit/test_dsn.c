/*
 * test_dsn.c - libmail/relay/dsn.c: the RFC 3464 bounce built from a queue
 * record and the queued file: its header, the three MIME parts, one
 * per-recipient block per failed recipient with the right Status,
 * Remote-MTA and Diagnostic-Code, the quoted original header (and never
 * the body), no bounce for the null sender or when nothing failed,
 * remote text that tries to inject lines, status codes that are not
 * codes, header-only and header-less messages, the size cap on the quoted
 * header, a boundary that the header tries to collide with, 8-bit text.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "buf.h"
#include "check.h"
#include "dsn.h"
#include "queue.h"
#include "util.h"

/* A file descriptor holding s (as a queued msg/ID file would). */
static int
msg_fd(const char *s, size_t len)
{
	int fd = memfd_create("test_dsn", MFD_CLOEXEC);

	if (fd == -1 || write_all(fd, s, len) == -1) {
		perror("memfd");
		exit(1);
	}
	return fd;
}

static void
rcpt(struct qmsg *m, const char *addr, int state, const char *status,
    const char *remote, const char *diag)
{
	struct qrcpt *r;

	m->rcpts = xreallocarray(m->rcpts, m->nrcpt + 1, sizeof(*m->rcpts));
	r = &m->rcpts[m->nrcpt++];
	memset(r, 0, sizeof(*r));
	str_copy(r->addr, sizeof(r->addr), addr);
	r->state = state;
	str_copy(r->status, sizeof(r->status), status);
	str_copy(r->remote, sizeof(r->remote), remote);
	str_copy(r->diag, sizeof(r->diag), diag);
}

static void
msg_init(struct qmsg *m, const char *sender)
{
	memset(m, 0, sizeof(*m));
	str_copy(m->id, sizeof(m->id), "0123456789ABCDEFGHJK");
	str_copy(m->sender, sizeof(m->sender), sender);
	m->arrival = 1767225600;	/* Thu, 01 Jan 2026 00:00:00 +0000 */
}

static int
starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;
	size_t len = strlen(needle);

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += len;
	}
	return n;
}

/* True when text has a line that is exactly line (without its LF). */
static int
has_line(const char *text, const char *line)
{
	size_t len = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && (p[len] == '\n' || p[len] == '\0'))
			return 1;
		p += len;
	}
	return 0;
}

/* The boundary declared in the report's header. */
static void
boundary_of(const char *text, char *out, size_t size)
{
	const char *p = strstr(text, "boundary=\"");
	const char *q;

	out[0] = '\0';
	if (p == NULL)
		return;
	p += 10;
	if ((q = strchr(p, '"')) == NULL || (size_t)(q - p) >= size)
		return;
	memcpy(out, p, (size_t)(q - p));
	out[q - p] = '\0';
}

/* Part n (1-based) of the report: the text between delimiters n and n+1. */
static char *
part(const char *text, const char *boundary, int n)
{
	char delim[128];
	const char *p = text, *q;
	int i;

	str_fmt(delim, sizeof(delim), "\n--%s", boundary);
	for (i = 0; i < n; i++) {
		if ((p = strstr(p, delim)) == NULL)
			return xstrdup("");
		p += strlen(delim);
	}
	if (*p == '\n')
		p++;
	if ((q = strstr(p, delim)) == NULL)
		q = p + strlen(p);
	return xstrndup(p, (size_t)(q - p));
}

static const char ORIG_HEADER[] =
    "Received: from client.test (client.test [127.0.0.1])\n"
    "\tby mx.test with ESMTPSA id ABC; Thu, 01 Jan 2026 00:00:00 +0000\n"
    "From: Alice <alice@example.test>\n"
    "To: bob@remote.test, carol@remote.test, dave@gone.test\n"
    "Subject: the original subject\n"
    "Message-ID: <orig@example.test>\n";
static const char ORIG_BODY[] = "\nSECRET BODY LINE\n.dotted\n";

static void
test_basic(void)
{
	struct qmsg m;
	struct buf out;
	char msg[2048], b[128], *p1, *p2, *p3;
	int fd;

	msg_init(&m, "alice@example.test");
	rcpt(&m, "bob@remote.test", QR_FAILED, "5.1.1",
	    "mx.remote.test [127.0.0.2]",
	    "550 5.1.1 <bob@remote.test>: user unknown (in reply to RCPT TO)");
	rcpt(&m, "ok@remote.test", QR_SENT, "2.0.0", "mx.remote.test [127.0.0.2]",
	    "250 2.0.0 ok");
	rcpt(&m, "later@remote.test", QR_PENDING, "4.2.0",
	    "mx.remote.test [127.0.0.2]", "450 4.2.0 try later");
	rcpt(&m, "dave@gone.test", QR_FAILED, "5.1.2", "",
	    "Host or domain name not found");
	str_fmt(msg, sizeof(msg), "%s%s", ORIG_HEADER, ORIG_BODY);
	fd = msg_fd(msg, strlen(msg));

	buf_init(&out, DSN_SIZE_MAX);
	CHECK(dsn_build(&out, &m, fd, "mx.test", 1767229200) == 0,
	    "basic: built");
	const char *t = buf_cstr(&out);

	CHECK(starts(t, "From: Mail Delivery System <MAILER-DAEMON@mx.test>\n"),
	    "basic: From: MAILER-DAEMON@hostname first");
	CHECK(has_line(t, "To: <alice@example.test>"), "basic: To: the sender");
	CHECK(has_line(t, "Subject: Undelivered Mail Returned to Sender"),
	    "basic: Subject");
	CHECK(has_line(t, "Auto-Submitted: auto-replied"), "basic: Auto-Submitted");
	CHECK(has_line(t, "Date: Thu, 01 Jan 2026 01:00:00 +0000"),
	    "basic: Date: now, numeric zone");
	CHECK(has_line(t, "MIME-Version: 1.0"), "basic: MIME-Version");
	CHECK(strstr(t, "Content-Type: multipart/report; report-type=delivery-status;\n\tboundary=\"") != NULL,
	    "basic: multipart/report; report-type=delivery-status");
	CHECK(strchr(t, '\r') == NULL, "basic: LF line ends only");
	CHECK(strstr(t, "Return-Path") == NULL, "basic: no Return-Path (the deliverer adds it)");
	boundary_of(t, b, sizeof(b));
	CHECK(b[0] != '\0', "basic: a boundary");
	CHECK(count(t, b) == 5, "basic: the boundary: declared, 3 delimiters, 1 close");
	{
		char close[160];

		str_fmt(close, sizeof(close), "\n--%s--\n", b);
		CHECK(strlen(t) > strlen(close) &&
		    strcmp(t + strlen(t) - strlen(close), close) == 0,
		    "basic: ends with the close delimiter");
	}

	p1 = part(t, b, 1);
	p2 = part(t, b, 2);
	p3 = part(t, b, 3);
	CHECK(starts(p1, "Content-Description: Notification\nContent-Type: text/plain; charset=us-ascii\n\n"),
	    "part 1: text/plain us-ascii");
	CHECK(strstr(p1, "<bob@remote.test>: host mx.remote.test [127.0.0.2] said: 550 5.1.1 <bob@remote.test>: user unknown (in reply to RCPT TO)") != NULL,
	    "part 1: the remote server's answer for the human");
	CHECK(strstr(p1, "<dave@gone.test>: Host or domain name not found") != NULL,
	    "part 1: our own reason");
	CHECK(strstr(p1, "ok@remote.test") == NULL && strstr(p1, "later@remote.test") == NULL,
	    "part 1: sent and pending recipients not listed");

	CHECK(starts(p2, "Content-Description: Delivery report\nContent-Type: message/delivery-status\n\n"),
	    "part 2: message/delivery-status");
	CHECK(has_line(p2, "Reporting-MTA: dns; mx.test"), "part 2: Reporting-MTA");
	CHECK(has_line(p2, "Arrival-Date: Thu, 01 Jan 2026 00:00:00 +0000"),
	    "part 2: Arrival-Date");
	CHECK(count(p2, "Final-Recipient:") == 2, "part 2: two per-recipient blocks");
	CHECK(strstr(p2, "\n\nFinal-Recipient: rfc822; bob@remote.test\n"
	    "Action: failed\nStatus: 5.1.1\nRemote-MTA: dns; mx.remote.test\n"
	    "Diagnostic-Code: smtp; 550 5.1.1 <bob@remote.test>: user unknown (in reply to RCPT TO)\n") != NULL,
	    "part 2: bob: failed, 5.1.1, Remote-MTA name, smtp diagnostic");
	CHECK(strstr(p2, "\n\nFinal-Recipient: rfc822; dave@gone.test\n"
	    "Action: failed\nStatus: 5.1.2\nDiagnostic-Code: X-inetmail; Host or domain name not found\n") != NULL,
	    "part 2: dave: 5.1.2, no Remote-MTA, our diagnostic type");
	CHECK(strstr(p2, "ok@remote.test") == NULL && strstr(p2, "later@") == NULL,
	    "part 2: only failed recipients");

	CHECK(starts(p3, "Content-Description: Undelivered Message Headers\nContent-Type: text/rfc822-headers\n\n"),
	    "part 3: text/rfc822-headers");
	CHECK(strstr(p3, "\n\n") != NULL &&
	    starts(strstr(p3, "\n\n") + 2, ORIG_HEADER),
	    "part 3: the original header, byte for byte");
	CHECK(strstr(t, "SECRET BODY") == NULL, "the original body is not quoted");
	free(p1);
	free(p2);
	free(p3);
	buf_free(&out);
	close(fd);
	free(m.rcpts);
}

static void
test_refusals(void)
{
	struct qmsg m;
	struct buf out;
	int fd = msg_fd("Subject: x\n\nbody\n", 17);

	msg_init(&m, "");
	rcpt(&m, "bob@remote.test", QR_FAILED, "5.1.1", "", "no");
	buf_init(&out, DSN_SIZE_MAX);
	CHECK(dsn_build(&out, &m, fd, "mx.test", 0) == -1 && out.len == 0,
	    "null sender: no bounce (a bounce is never bounced)");
	free(m.rcpts);

	msg_init(&m, "alice@example.test");
	rcpt(&m, "bob@remote.test", QR_SENT, "2.0.0", "", "250 ok");
	rcpt(&m, "c@remote.test", QR_PENDING, "", "", "");
	CHECK(dsn_build(&out, &m, fd, "mx.test", 0) == -1 && out.len == 0,
	    "nothing failed: no bounce");
	free(m.rcpts);

	msg_init(&m, "alice@example.test");
	rcpt(&m, "bob@remote.test", QR_FAILED, "5.1.1", "", "no");
	buf_init(&out, 100);
	CHECK(dsn_build(&out, &m, fd, "mx.test", 0) == -1,
	    "the buffer's limit: -1, not a truncated report");
	buf_free(&out);
	free(m.rcpts);
	close(fd);
}

static void
test_hostile(void)
{
	struct qmsg m;
	struct buf out;
	char b[128];
	const char *t;
	int fd = msg_fd("Subject: x\n\nbody\n", 17);

	msg_init(&m, "alice@example.test");
	rcpt(&m, "bob@remote.test", QR_FAILED, "5.1.1",
	    "evil.test [127.0.0.9]\nX-Injected-Remote: 1",
	    "550 nope\nX-Injected: yes\r\n--=_inetmail_fake\n");
	rcpt(&m, "c@remote.test", QR_FAILED, "9.9.9", "", "weird status");
	rcpt(&m, "d@remote.test", QR_FAILED, "2.0.0", "", "a success code on a failure");
	rcpt(&m, "e@remote.test", QR_FAILED, "5.1234.1", "", "too many digits");
	rcpt(&m, "f@remote.test", QR_FAILED, "", "", "");
	buf_init(&out, DSN_SIZE_MAX);
	CHECK(dsn_build(&out, &m, fd, "mx.test", 0) == 0, "hostile: built");
	t = buf_cstr(&out);
	CHECK(!has_line(t, "X-Injected: yes") && strstr(t, "\nX-Injected") == NULL,
	    "hostile: a LF in the remote reply starts no line");
	CHECK(strstr(t, "\nX-Injected-Remote") == NULL,
	    "hostile: a LF in the remote name starts no line");
	CHECK(strchr(t, '\r') == NULL, "hostile: no CR in the report");
	CHECK(strstr(t, "\n--=_inetmail_fake") == NULL,
	    "hostile: no forged MIME delimiter");
	boundary_of(t, b, sizeof(b));
	CHECK(count(t, b) == 5, "hostile: still exactly three parts");
	CHECK(strstr(t, "Diagnostic-Code: smtp; 550 nope?X-Injected: yes?" "?--=_inetmail_fake?\n") != NULL,
	    "hostile: control bytes shown as '?'");
	CHECK(strstr(t, "Final-Recipient: rfc822; c@remote.test\nAction: failed\nStatus: 5.0.0\n") != NULL,
	    "status 9.9.9 replaced by 5.0.0");
	CHECK(strstr(t, "Final-Recipient: rfc822; d@remote.test\nAction: failed\nStatus: 5.0.0\n") != NULL,
	    "a 2.x.x status on a failure replaced by 5.0.0");
	CHECK(strstr(t, "Final-Recipient: rfc822; e@remote.test\nAction: failed\nStatus: 5.0.0\n") != NULL,
	    "status with a 4-digit subject replaced by 5.0.0");
	CHECK(strstr(t, "Final-Recipient: rfc822; f@remote.test\nAction: failed\nStatus: 5.0.0\nLast-Attempt-Date") != NULL,
	    "no status and no diagnostic: 5.0.0, no Diagnostic-Code");
	CHECK(strstr(t, "<f@remote.test>: delivery failed") != NULL,
	    "no diagnostic: a generic reason for the human");
	buf_free(&out);
	free(m.rcpts);
	close(fd);
}

/* The expired case as the runner writes it: 4.4.7 with the last reply. */
static void
test_expired(void)
{
	struct qmsg m;
	struct buf out;
	int fd = msg_fd("Subject: x\n\nbody\n", 17);

	msg_init(&m, "alice@example.test");
	rcpt(&m, "slow@remote.test", QR_FAILED, "4.4.7", "",
	    "message expired after 5 days in queue: 451 4.3.0 try later");
	buf_init(&out, DSN_SIZE_MAX);
	CHECK(dsn_build(&out, &m, fd, "mx.test", 0) == 0 &&
	    strstr(buf_cstr(&out), "Action: failed\nStatus: 4.4.7\n"
	    "Diagnostic-Code: X-inetmail; message expired after 5 days in queue: 451 4.3.0 try later\n") != NULL,
	    "expired: Action failed, Status 4.4.7, the reason");
	buf_free(&out);
	free(m.rcpts);
	close(fd);
}

static char *
quoted_header(const char *msg, size_t len, int use_fd)
{
	struct qmsg m;
	struct buf out;
	char b[128], *p, *r;
	int fd = use_fd ? msg_fd(msg, len) : -1;

	msg_init(&m, "alice@example.test");
	rcpt(&m, "bob@remote.test", QR_FAILED, "5.1.1", "", "no");
	buf_init(&out, DSN_SIZE_MAX);
	if (dsn_build(&out, &m, fd, "mx.test", 0) == -1) {
		buf_free(&out);
		free(m.rcpts);
		return NULL;
	}
	boundary_of(buf_cstr(&out), b, sizeof(b));
	p = part(buf_cstr(&out), b, 3);
	/* after the part's own header */
	r = xstrdup(strstr(p, "\n\n") ? strstr(p, "\n\n") + 2 : "");
	free(p);
	buf_free(&out);
	free(m.rcpts);
	if (fd != -1)
		close(fd);
	return r;
}

static void
test_headers(void)
{
	struct buf big;
	char *q, line[128];
	size_t i;

	q = quoted_header("Subject: only a header", 22, 1);
	CHECK(q != NULL && strcmp(q, "Subject: only a header\n") == 0,
	    "header-only message without a final LF: quoted with one");
	free(q);
	q = quoted_header("\nbody only\n", 11, 1);
	CHECK(q != NULL && strcmp(q, "") == 0, "message without a header: nothing quoted");
	free(q);
	q = quoted_header("", 0, 1);
	CHECK(q != NULL && strcmp(q, "") == 0, "empty message: nothing quoted");
	free(q);
	q = quoted_header(NULL, 0, 0);
	CHECK(q != NULL && strcmp(q, "") == 0, "no message file (-1): report still built");
	free(q);

	/* 200 KB of header lines: cut at a line end within DSN_HEADER_MAX */
	buf_init(&big, 1 << 20);
	for (i = 0; big.len < 200 * 1024; i++) {
		str_fmt(line, sizeof(line), "X-Filler-%06zu: %s\n", i,
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
		buf_addstr(&big, line);
	}
	buf_addstr(&big, "\nbody\n");
	q = quoted_header(big.ptr, big.len, 1);
	CHECK(q != NULL && strlen(q) <= DSN_HEADER_MAX && strlen(q) > DSN_HEADER_MAX - 200,
	    "huge header: quoted up to DSN_HEADER_MAX");
	CHECK(q != NULL && strncmp(q, big.ptr, strlen(q)) == 0 &&
	    q[strlen(q) - 1] == '\n', "huge header: a prefix of whole lines");
	free(q);
	/* a header whose end lies just past the cap */
	buf_reset(&big);
	while (big.len < DSN_HEADER_MAX - 10)
		buf_addstr(&big, "X-A: b\n");
	buf_addstr(&big, "X-Last: cccccccccccccccccccccccc\n\nbody\n");
	q = quoted_header(big.ptr, big.len, 1);
	CHECK(q != NULL && strlen(q) <= DSN_HEADER_MAX && strstr(q, "X-Last") == NULL &&
	    q[strlen(q) - 1] == '\n', "header ending past the cap: cut at a line end");
	free(q);
	buf_free(&big);
}

static void
test_collision(void)
{
	struct qmsg m;
	struct buf out;
	char hdr[512], b[128];
	int fd;

	msg_init(&m, "alice@example.test");
	rcpt(&m, "bob@remote.test", QR_FAILED, "5.1.1", "", "no");
	/* the boundary the first try would choose, planted in the header */
	str_fmt(hdr, sizeof(hdr), "Subject: x\n--=_inetmail_%s_%d_0: y\n\nbody\n",
	    m.id, 42);
	fd = msg_fd(hdr, strlen(hdr));
	buf_init(&out, DSN_SIZE_MAX);
	CHECK(dsn_build(&out, &m, fd, "mx.test", 42) == 0, "collision: built");
	boundary_of(buf_cstr(&out), b, sizeof(b));
	CHECK(strstr(hdr, b) == NULL, "collision: a boundary not in the quoted header");
	CHECK(count(buf_cstr(&out), b) == 5, "collision: three parts");
	buf_free(&out);
	free(m.rcpts);
	close(fd);
}

static void
test_8bit(void)
{
	struct qmsg m;
	struct buf out;
	const char *t;
	int fd = msg_fd("Subject: caf\xc3\xa9\n\nbody\n", 20);

	msg_init(&m, "alice@example.test");
	rcpt(&m, "j\xc3\xb6rg@remote.test", QR_FAILED, "5.1.1", "", "no");
	buf_init(&out, DSN_SIZE_MAX);
	CHECK(dsn_build(&out, &m, fd, "mx.test", 0) == 0, "8bit: built");
	t = buf_cstr(&out);
	CHECK(has_line(t, "Content-Transfer-Encoding: 8bit"), "8bit: declared 8bit");
	CHECK(strstr(t, "Final-Recipient: utf-8; j\xc3\xb6rg@remote.test\n") != NULL,
	    "8bit: a UTF-8 address is of type utf-8 (RFC 6533)");
	CHECK(strstr(t, "charset=utf-8") != NULL, "8bit: the notification in utf-8");
	CHECK(strstr(t, "Subject: caf\xc3\xa9\n") != NULL, "8bit: header quoted as is");
	buf_free(&out);
	free(m.rcpts);
	close(fd);

	fd = msg_fd("Subject: plain\n\nbody\n", 21);
	msg_init(&m, "alice@example.test");
	rcpt(&m, "bob@remote.test", QR_FAILED, "5.1.1", "", "no");
	buf_init(&out, DSN_SIZE_MAX);
	dsn_build(&out, &m, fd, "mx.test", 0);
	CHECK(has_line(buf_cstr(&out), "Content-Transfer-Encoding: 7bit"),
	    "ascii: declared 7bit");
	buf_free(&out);
	free(m.rcpts);
	close(fd);
}

static void
test_status_ok(void)
{
	CHECK(dsn_status_ok("5.1.1"), "status 5.1.1");
	CHECK(dsn_status_ok("4.4.7"), "status 4.4.7");
	CHECK(dsn_status_ok("2.0.0"), "status 2.0.0");
	CHECK(dsn_status_ok("5.123.999"), "status 5.123.999");
	CHECK(dsn_status_ok("5.1.10"), "status 5.1.10 (RFC 7505)");
	CHECK(!dsn_status_ok(""), "status empty");
	CHECK(!dsn_status_ok("3.1.1"), "status class 3");
	CHECK(!dsn_status_ok("5.1"), "status two parts");
	CHECK(!dsn_status_ok("5.1.1."), "status trailing dot");
	CHECK(!dsn_status_ok("5..1"), "status empty part");
	CHECK(!dsn_status_ok("5.1.1 "), "status trailing space");
	CHECK(!dsn_status_ok("5.1234.1"), "status 4 digits");
}

int
main(void)
{
	test_basic();
	test_refusals();
	test_hostile();
	test_expired();
	test_headers();
	test_collision();
	test_8bit();
	test_status_ok();
	return CHECK_DONE();
}
