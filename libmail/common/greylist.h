/*
 * greylist.h - greylisting for smtpd (classic postgrey semantics). A
 * triplet is (client /24 or /64 prefix, sender, recipient), both addresses
 * lower-cased, the null sender as "<>". The first attempt of a triplet is
 * refused for greylist_delay seconds; a retry after that and within
 * greylist_retry_window of the first attempt passes and whitelists the
 * triplet, which then passes at once until it has not been seen for
 * greylist_expire. A first attempt never retried in time starts over.
 *
 * The store is the throttle store's recipe (throttle.h: a private
 * transactional Berkeley DB environment under flock, crash-safe, discarded
 * and restarted empty when damaged) in greylist_db, file greylist.db, owned
 * by unpriv_user 0700: smtpd's policy child (as unpriv_user) and maildb
 * open it; smtpd's monitor gives the directory to unpriv_user first
 * (ps_give_dir), a store of an older install's root included.
 *
 * Fail open: an unusable store is logged and the recipient passes.
 */
#ifndef INETMAIL_GREYLIST_H
#define INETMAIL_GREYLIST_H

#include <stdint.h>

#include "throttle.h"

/* 1 when ip is never greylisted: greylist = no, greylist_db = "",
 * ip in greylist_exempt, or "pipe" (no peer; any other non-address is
 * not exempt). */
int	grey_exempt(const char *ip);

/*
 * At RCPT, for a recipient that exists: 0 pass, else the seconds until a
 * retry would pass (the caller answers 450 4.2.0). Logs event=greylisted,
 * and event=greylist_pass when a retry whitelists the triplet.
 */
int64_t	grey_check(const char *ip, const char *sender, const char *rcpt);

/* ---- the store itself (maildb) ---- */

struct grey_entry {
	char	 net[64];
	char	 sender[300];
	char	 rcpt[300];
	int	 passed;	/* whitelisted */
	uint32_t count;		/* attempts seen */
	int64_t	 first;		/* Unix time of the first attempt (this round) */
	int64_t	 last;		/* Unix time of the last attempt */
};

/* Opens greylist_db (thr_close closes it). */
int	grey_open(struct thr **, int flags);
/* fn for every triplet still in effect, in key order. */
int	grey_list(struct thr *, int (*fn)(const struct grey_entry *, void *),
	    void *);
/* Removes the triplets of an address's prefix (any address in it, or the
 * prefix as listed), of a sender or recipient address, or "all": returns
 * how many, or -1. */
int	grey_clear(struct thr *, const char *what);

#endif
