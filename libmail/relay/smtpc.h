/*
 * smtpc.h - the outbound SMTP client the queue runner delivers with.
 *
 * smtpc_deliver() routes one message for the recipients of one domain
 * (relay_host, or the domain's MX hosts, its own address without MX,
 * or an address literal), talks to the hosts in order until one takes the
 * transaction, and leaves a verdict per recipient: sent, failed (permanent)
 * or pending (try again later), with the enhanced status code, the host
 * and the reply (or our own reason) that decided it.
 *
 * Everything a remote server says is untrusted: replies go through
 * smtpc_reply_line(), a pure, bounded parser (smtpc_reply.c, with the
 * DATA encoding; fuzzed by tests/fuzz/fuzz_smtp_reply.c), and their
 * text is made printable.
 */
#ifndef INETMAIL_SMTPC_H
#define INETMAIL_SMTPC_H

#include <stddef.h>
#include <stdint.h>

#include "params.h"

/* QR_PENDING/QR_SENT/QR_FAILED and QERR_MAX: the queue record keeps the same verdicts. */
#include "queue.h"

/* Remote replies (RFC 5321 4.5.3.1.5: a reply line is at most 512 octets). */
#define SMTPC_LINE_MAX	512	/* octets of a reply line without CR LF */
#define SMTPC_LINES_MAX	100	/* lines of one reply */
#define SMTPC_TEXT_MAX	(QERR_MAX - 40)	/* reply text kept; room for " (in reply to ...)" */

/* Per recipient: the caller sets addr, smtpc_deliver() everything else. */
struct smtpc_rcpt {
	const char	*addr;		/* without <>, e.g. "bob@remote.test" */
	int		 state;		/* QR_PENDING | QR_SENT | QR_FAILED */
	char		 status[8];	/* enhanced status code "5.1.1" ("" none) */
	char		 remote[300];	/* "mx.remote.test [127.0.0.2]" that answered, "" */
	char		 diag[QERR_MAX];/* "550 5.1.1 no such user (in reply to RCPT TO)"
					   or our own reason; printable ASCII */
};

/*
 * Checks relay_host, relay_tls and builds the TLS client context
 * (relay_tls_ca_file is read now: call as root before a privilege drop).
 * smtpc_deliver() calls it itself when it was not called. 0 ok; -1 with a
 * one-line reason in err.
 */
int	smtpc_init(char *err, size_t errsize);

/*
 * 1 when relay_host (as smtpc_init parsed it) is the address literal
 * [127.0.0.1] or [::1], any port: a filter or tunnel on this machine, with
 * no name lookup between. Not a name (localhost is looked up like any
 * other) and not the rest of 127.0.0.0/8. 0 otherwise, or before smtpc_init.
 */
int	smtpc_relay_local(void);

/*
 * Credentials for AUTH PLAIN at relay_host (never used for MX delivery).
 * Copied; NULL or "" user clears them. They are only sent over TLS, or to
 * a relay host on a loopback address.
 */
void	smtpc_set_auth(const char *user, const char *pass);

/*
 * Sends the message in fd (read from offset 0 with pread; LF line ends;
 * size octets, announced with SIZE=) from sender ("" = the null sender) to
 * rcpts, all of one domain (or all through relay_host when it is set).
 * Fills in every rcpts[i]. Returns 0, or -1 for a local error (the message
 * could not be read, ...: every recipient is then left QR_PENDING with the
 * reason in diag).
 */
int	smtpc_deliver(const char *domain, const char *sender, int fd, uint64_t size,
	    struct smtpc_rcpt *rcpts, size_t n);

/* ---- the pieces, exposed for the unit tests and the fuzzer ---- */

/* EHLO keywords we act on (smtpc_reply.ext). */
#define SMTPC_EXT_STARTTLS	0x01
#define SMTPC_EXT_SIZE		0x02
#define SMTPC_EXT_SMTPUTF8	0x04
#define SMTPC_EXT_AUTH_PLAIN	0x08
#define SMTPC_EXT_8BITMIME	0x10
#define SMTPC_EXT_PIPELINING	0x20

struct smtpc_reply {
	int		 code;		/* 200..599 (after the first line); 0 before */
	unsigned	 nlines;
	int		 done;		/* the last line was seen */
	char		 status[8];	/* enhanced code of the first line ("" none), RFC 3463 */
	char		 text[SMTPC_TEXT_MAX];	/* "550 5.1.1 text; next line text..."
					   printable ASCII, cut to fit */
	unsigned	 ext;		/* SMTPC_EXT_* named by lines 2.. (EHLO) */
	uint64_t	 size_max;	/* the SIZE value, 0 = none or no limit */
	char		 error[80];	/* why SR_ERROR */
};

/* smtpc_reply_line() results. */
#define SR_MORE		0	/* a continuation line: read another */
#define SR_DONE		1	/* the reply is complete */
#define SR_ERROR	(-1)	/* not a valid reply: a protocol error */

void	smtpc_reply_init(struct smtpc_reply *);
/*
 * Adds one reply line (without its line end; may hold any bytes, len is
 * the length). Lines must read "DDD", "DDD text" or "DDD-text" with the
 * first digit 2..5, the second 0..5, the same code on every line, at most
 * SMTPC_LINE_MAX octets and SMTPC_LINES_MAX lines. After SR_DONE or
 * SR_ERROR the reply must be re-initialised before another line.
 */
int	smtpc_reply_line(struct smtpc_reply *, const char *line, size_t len);
/*
 * A complete reply's verdict for the recipients it answers: QR_SENT for
 * 2xx, QR_FAILED for 5xx, QR_PENDING (queued for a retry) for anything
 * else, 4xx above all.
 */
int	smtpc_reply_verdict(int code);

/* DATA encoding: LF -> CR LF, a "." starting a line doubled (RFC 5321 4.5.2). */
struct smtpc_dot {
	int	bol;	/* at the beginning of a line */
};
void	smtpc_dot_init(struct smtpc_dot *);
/* Encodes len octets of in into out, which has room for 2 * len; returns the length. */
size_t	smtpc_dot_encode(struct smtpc_dot *, const char *in, size_t len, char *out);
/* The end of data: CR LF when the last line was unterminated, then ".\r\n"
   (out has room for 5); returns the length. */
size_t	smtpc_dot_end(struct smtpc_dot *, char *out);

#endif
