/*
 * deliver.h - root's delivery work (deliver.c): recipient resolution and
 * the delivery of one message to its local accounts and, through the
 * relay queue, its remote recipients. The monitor and the queue runner's
 * root half (bounces to local senders) both deliver through it.
 */
#ifndef SMTPD_DELIVER_H
#define SMTPD_DELIVER_H

#include <stdint.h>

#include "params.h"
#include "user.h"

/* An address resolved: its accounts, and its alias targets in other
 * domains. */
struct resolved {
	char		 addr[SMTP_PATH_MAX + 1];
	int		 n;		/* accounts + remote targets */
	size_t		 nusers, nremote;
	struct mailuser	*users;
	char		(*remote)[SMTP_PATH_MAX + 1];
};

/* An address in a domain outside local_domains (a bare name is local). */
int	rcpt_is_remote(const char *addr);
/*
 * Resolves addr (remembered until the delivery is over, so an address
 * costs one lookup per transaction): > 0 accounts + remote targets, 0 no
 * such recipient, -1 temporary failure. *out stays valid until the next
 * call or delivery_reset().
 */
int	rcpt_resolve(const char *addr, struct resolved **out);

/*
 * Adds addr's accounts and remote targets to the pending delivery; an
 * address outside local_domains only when may_relay. ANS_OK, or ANS_RELAY,
 * ANS_NOUSER, ANS_TEMP, which also fail the pending delivery.
 */
uint32_t delivery_add(const char *addr, int may_relay);
/*
 * Delivers msgfd (offset 0) to the pending recipients, all or nothing
 * (auth_user goes into a queue record), then forgets them: ANS_OK,
 * ANS_FULL or ANS_TEMP (also for nothing pending, or a failed add).
 */
uint32_t delivery_run(int msgfd, const char *sender, const char *msgid,
	    const char *auth_user);
/* Forgets the pending delivery and the resolved addresses. */
void	delivery_reset(void);
/*
 * A bounce (null sender) to the local address to, for queue record qid
 * (runner_local_fn): 0 delivered, 1 no such recipient, -1 try later.
 */
int	delivery_bounce(const char *to, int msgfd, const char *qid, void *arg);

#endif
