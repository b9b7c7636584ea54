/*
 * params.h - every limit inetmail enforces, in one place, each with its reason.
 * Protocol limits cite the RFC section that sets them; the rest are policy
 * chosen so that a normal client never meets them.
 */
#ifndef INETMAIL_PARAMS_H
#define INETMAIL_PARAMS_H

#define INETMAIL_VERSION	"0.1"

/* SMTP, RFC 5321 4.5.3.1; all counts include the CRLF. */
#define SMTP_CMD_MAX		512	/* command line */
#define SMTP_AUTH_LINE_MAX	12288	/* RFC 4954 4: AUTH lines */
#define SMTP_TEXT_MAX		1000	/* text line in DATA */
#define SMTP_LOCAL_MAX		64	/* local-part */
#define SMTP_DOMAIN_MAX		255	/* domain */
#define SMTP_PATH_MAX		256	/* reverse-path / forward-path with <> */
#define SMTP_MAX_RECEIVED	100	/* 6.3: loop detection */
#define SMTP_MAX_COMMANDS	10000	/* commands per session, against idle loops */

/* POP3, RFC 1939 and RFC 2449. */
#define POP3_CMD_MAX		255	/* RFC 2449 4: commands up to 255 octets */
#define POP3_TIMEOUT_AUTH	60	/* seconds before login */

/* Privilege separation frames (SOCK_SEQPACKET, one frame per datagram). */
#define PS_PAYLOAD_MAX		8192

/* Index: header values kept per message, truncated to these. */
#define IDX_NAME_MAX		256	/* Maildir file name */
#define IDX_HDR_MAX		200	/* From, To, Subject, Date, Message-ID */
#define UIDL_MAX		70	/* RFC 1939 7 */

/* Logging: client text is made printable and cut to this. */
#define LOG_TEXT_MAX		200
/* pr() results valid at once: the client fields of one log line. */
#define LOG_PR_SLOTS		4

/* Aliases: expansion depth and fan-out. */
#define ALIAS_DEPTH_MAX		8
#define ALIAS_TARGETS_MAX	100

#endif
