/*
 * dsn.h - delivery status notifications (RFC 3464): the bounce a queue
 * runner sends to the sender of a message it could not deliver.
 *
 * The report is a MIME multipart/report; report-type=delivery-status with
 * three parts: a human explanation (text/plain), the machine-readable
 * message/delivery-status (Reporting-MTA, Arrival-Date, and per failed
 * recipient Final-Recipient, Action: failed, Status, Remote-MTA,
 * Diagnostic-Code), and the original header (text/rfc822-headers). It is
 * sent with the null reverse-path so that it is never bounced itself.
 */
#ifndef INETMAIL_DSN_H
#define INETMAIL_DSN_H

#include <stdint.h>

#include "buf.h"
#include "queue.h"

/* At most this much of the original header is quoted (Postfix quotes the
 * header only, as we do; 64 KB holds any header a real client writes). */
#define DSN_HEADER_MAX	(64 * 1024)
/* A report is never larger than this: the quoted header, plus about 1.5 KB
 * for each of up to QUEUE_RCPT_MAX recipients. */
#define DSN_SIZE_MAX	(DSN_HEADER_MAX + 64 * 1024 + (size_t)QUEUE_RCPT_MAX * 1536)

/*
 * Appends to out the bounce for the QR_FAILED recipients of m, addressed
 * from MAILER-DAEMON@hostname to m->sender, dated now (Unix time), with
 * LF line ends and no Return-Path (the deliverer adds "<>"). msgfd is the
 * queued message, read with pread from offset 0 for its header (-1: none).
 * Remote text in the records is untrusted: control bytes are replaced, so
 * it can never start a header or a MIME part. Returns 0, or -1 when there
 * is nothing to report (no failed recipient, or the null sender: a bounce
 * is never bounced) or out's limit was reached.
 */
int	dsn_build(struct buf *out, const struct qmsg *m, int msgfd,
	    const char *hostname, int64_t now);

/* 1 if status is an enhanced status code "c.s.d" (RFC 3463: class 2, 4
 * or 5, subject and detail of 1-3 digits). */
int	dsn_status_ok(const char *status);

#endif
