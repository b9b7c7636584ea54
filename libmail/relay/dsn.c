/*
 * dsn.c - the RFC 3464 bounce (see dsn.h). Everything in it comes from the
 * queue record and the queued file; the remote servers' replies in the
 * record are untrusted text and are cleaned once more here, since a CR or
 * LF in them could otherwise forge a header or a MIME boundary.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "dsn.h"
#include "queue.h"
#include "util.h"

int
dsn_status_ok(const char *s)
{
	return s[0] != '\0' && queue_status_ok(s);
}

/* Copies s into out with every control byte (and DEL) made a '?'. */
static void
clean(const char *s, char *out, size_t size)
{
	size_t i;

	str_copy(out, size, s);
	for (i = 0; out[i] != '\0'; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			out[i] = '?';
}

static int
has_8bit(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 1;
	return 0;
}

/* RFC 5322 date in UTC (the runner may have no time zone files). */
static void
rfc5322_date(int64_t t, char *out, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, size, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
		str_copy(out, size, "Thu, 01 Jan 1970 00:00:00 +0000");
}

/*
 * Reads the header of the queued message into hdr: everything before the
 * first empty line, cut after the last whole line that fits DSN_HEADER_MAX,
 * always ending in LF (or empty). 0, or -1 on a read error.
 */
static int
read_header(int fd, struct buf *hdr)
{
	char chunk[8192], *p;
	off_t off = 0;
	ssize_t n;
	size_t i;
	int found = 0, more = 0;

	if (fd == -1)
		return 0;
	for (;;) {
		n = pread(fd, chunk, sizeof(chunk), off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			break;
		off += n;
		if (buf_add(hdr, chunk, (size_t)n) == -1)
			return -1;	/* cannot happen: max has room */
		if (hdr->ptr[0] == '\n') {
			hdr->len = 0;	/* an empty header */
			return 0;
		}
		if ((p = memmem(hdr->ptr, hdr->len, "\n\n", 2)) != NULL) {
			hdr->len = (size_t)(p - hdr->ptr) + 1;
			found = 1;
			break;
		}
		if (hdr->len > DSN_HEADER_MAX) {
			more = 1;
			break;
		}
	}
	if (hdr->len > DSN_HEADER_MAX) {
		/* too long: whole lines only, up to the cap */
		for (i = DSN_HEADER_MAX; i > 0 && hdr->ptr[i - 1] != '\n'; i--)
			;
		hdr->len = i;
	} else if (!found && !more && hdr->len > 0 &&
	    hdr->ptr[hdr->len - 1] != '\n' && buf_add(hdr, "\n", 1) == -1)
		return -1;	/* a header-only message without a final LF */
	/* smtpd never queues a CR or a NUL, but the bounce may go out by
	 * SMTP: nothing read from a file may put one on the wire */
	for (i = 0; i < hdr->len; i++)
		if (hdr->ptr[i] == '\r' || hdr->ptr[i] == '\0')
			hdr->ptr[i] = ' ';
	return 0;
}

/* "mx.remote.test [127.0.0.2]" -> "mx.remote.test" (the MTA's name). */
static void
remote_name(const char *remote, char *out, size_t size)
{
	const char *sp;

	clean(remote, out, size);
	if ((sp = strstr(out, " [")) != NULL && sp != out)
		out[sp - out] = '\0';
}

/* RFC 6533: an address with non-ASCII characters is of type utf-8. */
static const char *
addr_type(const char *addr)
{
	return has_8bit(addr, strlen(addr)) ? "utf-8" : "rfc822";
}

int
dsn_build(struct buf *out, const struct qmsg *m, int msgfd,
    const char *hostname, int64_t now)
{
	char boundary[80], date[64], arrival[64], host[300], diag[QERR_MAX];
	char addr[SMTP_PATH_MAX + 1], sender[SMTP_PATH_MAX + 1];
	struct buf hdr;
	size_t i, nfailed = 0;
	int try, eight = 0, rv = -1, r = 0;

	if (m->sender[0] == '\0')
		return -1;	/* never bounce a bounce */
	for (i = 0; i < m->nrcpt; i++)
		if (m->rcpts[i].state == QR_FAILED)
			nfailed++;
	if (nfailed == 0)
		return -1;

	buf_init(&hdr, DSN_HEADER_MAX + 8192 + 1);
	if (read_header(msgfd, &hdr) == -1)
		goto done;
	/* A boundary that occurs nowhere in the quoted header (ids are
	 * random, so only a header written to collide could need a retry). */
	for (try = 0; try < 100; try++) {
		str_fmt(boundary, sizeof(boundary), "=_inetmail_%s_%lld_%d",
		    m->id, (long long)now, try);
		if (memmem(hdr.ptr ? hdr.ptr : "", hdr.len, boundary,
		    strlen(boundary)) == NULL)
			break;
	}
	if (try == 100)
		goto done;
	eight = has_8bit(hdr.ptr ? hdr.ptr : "", hdr.len) ||
	    has_8bit(m->sender, strlen(m->sender));
	for (i = 0; i < m->nrcpt; i++)
		if (m->rcpts[i].state == QR_FAILED &&
		    (has_8bit(m->rcpts[i].addr, strlen(m->rcpts[i].addr)) ||
		    has_8bit(m->rcpts[i].diag, strlen(m->rcpts[i].diag))))
			eight = 1;

	clean(m->sender, sender, sizeof(sender));
	clean(hostname, host, sizeof(host));
	rfc5322_date(now, date, sizeof(date));
	rfc5322_date(m->arrival, arrival, sizeof(arrival));

	/* The header of the report. */
	r |= buf_printf(out,
	    "From: Mail Delivery System <MAILER-DAEMON@%s>\n"
	    "To: <%s>\n"
	    "Subject: Undelivered Mail Returned to Sender\n"
	    "Date: %s\n"
	    "Message-ID: <%s.%lld.dsn@%s>\n"
	    "Auto-Submitted: auto-replied\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\n"
	    "\tboundary=\"%s\"\n"
	    "Content-Transfer-Encoding: %s\n"
	    "\n"
	    "This is a MIME-encapsulated message.\n"
	    "\n",
	    host, sender, date, m->id, (long long)now, host, boundary,
	    eight ? "8bit" : "7bit");

	/* (1) for the human reader */
	r |= buf_printf(out,
	    "--%s\n"
	    "Content-Description: Notification\n"
	    "Content-Type: text/plain; charset=%s\n"
	    "\n"
	    "This is the mail system at host %s.\n"
	    "\n"
	    "Your message could not be delivered to one or more recipients.\n"
	    "The reasons are given below, and the header of your message is\n"
	    "attached. This report was generated automatically: please do not\n"
	    "reply to it.\n"
	    "\n",
	    boundary, eight ? "utf-8" : "us-ascii", host);
	for (i = 0; i < m->nrcpt; i++) {
		const struct qrcpt *rc = &m->rcpts[i];

		if (rc->state != QR_FAILED)
			continue;
		clean(rc->addr, addr, sizeof(addr));
		clean(rc->diag[0] ? rc->diag : "delivery failed", diag,
		    sizeof(diag));
		if (rc->remote[0] != '\0') {
			char remote[QREMOTE_MAX];

			clean(rc->remote, remote, sizeof(remote));
			r |= buf_printf(out, "<%s>: host %s said: %s\n\n", addr,
			    remote, diag);
		} else
			r |= buf_printf(out, "<%s>: %s\n\n", addr, diag);
	}

	/* (2) for programs */
	r |= buf_printf(out,
	    "--%s\n"
	    "Content-Description: Delivery report\n"
	    "Content-Type: message/delivery-status\n"
	    "\n"
	    "Reporting-MTA: dns; %s\n"
	    "X-Inetmail-Queue-ID: %s\n"
	    "Arrival-Date: %s\n",
	    boundary, host, m->id, arrival);
	for (i = 0; i < m->nrcpt; i++) {
		const struct qrcpt *rc = &m->rcpts[i];
		char name[QREMOTE_MAX];

		if (rc->state != QR_FAILED)
			continue;
		clean(rc->addr, addr, sizeof(addr));
		r |= buf_printf(out,
		    "\n"
		    "Final-Recipient: %s; %s\n"
		    "Action: failed\n"
		    "Status: %s\n",
		    addr_type(addr), addr,
		    dsn_status_ok(rc->status) && rc->status[0] != '2' ?
		    rc->status : "5.0.0");
		if (rc->remote[0] != '\0') {
			remote_name(rc->remote, name, sizeof(name));
			r |= buf_printf(out, "Remote-MTA: dns; %s\n", name);
		}
		if (rc->diag[0] != '\0') {
			clean(rc->diag, diag, sizeof(diag));
			/* a server's reply starts with its three digits;
			 * anything else is our own explanation */
			r |= buf_printf(out, "Diagnostic-Code: %s; %s\n",
			    rc->remote[0] != '\0' && diag[0] >= '2' &&
			    diag[0] <= '5' ? "smtp" : "X-inetmail", diag);
		}
		r |= buf_printf(out, "Last-Attempt-Date: %s\n", date);
	}

	/* (3) what was sent, up to its body */
	r |= buf_printf(out,
	    "\n"
	    "--%s\n"
	    "Content-Description: Undelivered Message Headers\n"
	    "Content-Type: text/rfc822-headers\n"
	    "%s"
	    "\n",
	    boundary, eight ? "Content-Transfer-Encoding: 8bit\n" : "");
	if (hdr.len > 0)
		r |= buf_add(out, hdr.ptr, hdr.len);
	r |= buf_printf(out, "\n--%s--\n", boundary);
	rv = r == 0 ? 0 : -1;
done:
	buf_free(&hdr);
	return rv;
}
