/*
 * smtpd.h - what the smtpd processes share: the monitor request types and
 * the entry points of the session (unprivileged) and monitor (root) halves.
 */
#ifndef SMTPD_H
#define SMTPD_H

#include <stdint.h>
#include <sys/types.h>

#include "daemon.h"
#include "user.h"

/* Session -> monitor requests. */
enum {
	REQ_RCPT = 1,		/* str address: may it receive? */
	REQ_EXPN,		/* str address: which accounts? */
	REQ_DELIVER_RCPT,	/* str address: one recipient of the next DELIVER */
	REQ_DELIVER,		/* fd message, str sender, str id */
	REQ_TLS,		/* no payload, no answer: the session is in TLS now */
	REQ_CONNECT,		/* no payload, before the greeting: may this
				   client go on? ANS_OK or ANS_BLOCKED (DNSBL) */
	REQ_TX_RCPT,		/* str address, str sender ("" = null sender):
				   RCPT in a transaction: REQ_RCPT's answers,
				   ANS_GREYLISTED, or ANS_RELAY for an address
				   outside local_domains from a client that
				   neither authenticated nor is trusted */
	REQ_AUTH,		/* str user, u32 len + bytes password, str
				   mechanism (PLAIN|LOGIN): role submission
				   only, at most SMTP_AUTH_TRIES failures;
				   ANS_OK (detail: the account name),
				   ANS_AUTH_FAIL, ANS_TEMP or ANS_AUTH_BLOCKED */
	REQ_SENDER,		/* str address: MAIL FROM on role submission
				   with sender_check: ANS_OK, ANS_NOT_OWNER
				   (detail: the authenticated user), ANS_TEMP */
	REQ_BOUNCE,		/* queue runner worker -> its root half only:
				   fd message, str local address, str queue
				   id: ANS_OK, ANS_NOUSER or ANS_TEMP */
};

/* Monitor -> session answers (u32 status, then a str detail). */
enum {
	ANS_OK = 100,		/* detail: for EXPN the account list */
	ANS_NOUSER,		/* no such local recipient */
	ANS_TEMP,		/* try again later */
	ANS_FULL,		/* mailbox full / no space */
	ANS_GREYLISTED,		/* detail: seconds until a retry can pass */
	ANS_BLOCKED,		/* detail: the DNSBL zone listing the client */
	ANS_RELAY,		/* relay access denied */
	ANS_AUTH_FAIL,		/* wrong credentials (535) */
	ANS_AUTH_BLOCKED,	/* throttled: refused unchecked (421) */
	ANS_NOT_OWNER,		/* the sender is not the authenticated user's */
};

#define SMTP_AUTH_TRIES	3	/* failed AUTH per connection, then 421 */
#define SMTP_PASS_MAX	1024	/* longer passwords fail unchecked */

/* The message as the session hands it to the monitor (LF line ends). */
#define MSG_SENDER_MAX	256


void	session_run(int monitor_fd, const struct peer *);
/*
 * Answers the session child's requests until it closes, then reaps it.
 * peer is the client as root saw it (its address decides relaying, DNSBL,
 * greylisting, throttling); a 421 goes to fd 1 when the child dies.
 */
void	monitor_run(int session_fd, const struct peer *, pid_t child);
/*
 * smtpd -q, after daemon_start(): one run of the relay queue (runner.h),
 * its bounces to local senders delivered as root. The exit status.
 */
int	runner_main(void);

/*
 * The policy child (policy.c): the DNSBL lookup and greylisting, as
 * unpriv_user, for the monitor, which gets range-checked numbers from it.
 * A dead, slow or garbled child means not listed and not greylisted (fail
 * open, as a DNS or store error), logged.
 */
struct policy {
	pid_t		 pid;
	int		 fd;		/* -1: no child (none needed, or lost) */
	int		 dnsbl_done;	/* its first verdict was read */
	unsigned	 zone;		/* listed in the zone'th of dnsbl_zones */
};
/* Starts the child when a DNSBL or greylisting applies to ip (giving it
 * greylist_db first); it looks ip up at once. */
void	 policy_start(struct policy *, const char *ip);
/* The DNSBL verdict: 0 not listed, else the listing zone's number. */
unsigned policy_dnsbl(struct policy *);
/* Greylisting of a triplet: 0 pass, else seconds until a retry passes. */
int64_t	 policy_grey(struct policy *, const char *sender, const char *rcpt);
/* Stops the child. */
void	 policy_stop(struct policy *);

/* Address syntax (address.c). */
#define ADDR_UTF8	0x01	/* contains bytes >= 0x80 */
int	parse_path(const char *s, char *addr, size_t size, const char **rest,
	    int *flags);

#endif
