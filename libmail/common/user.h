/*
 * user.h - local accounts and recipients: an account lookup, the mailbox
 * path of an account (setting `mailbox`), and the resolution of a local
 * part (user, user+tag, postmaster, aliases) to the accounts that get a copy
 * (and the remote addresses an alias forwards to).
 */
#ifndef INETMAIL_USER_H
#define INETMAIL_USER_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#include "params.h"

#define USER_NAME_MAX	64

struct mailuser {
	char	name[USER_NAME_MAX + 1];
	uid_t	uid;
	gid_t	gid;
	char	home[PATH_MAX];
};

/* 0 found, 1 no such account, -1 lookup error (temporary). */
int	user_lookup(const char *name, struct mailuser *);
/* Expands `mailbox` (~/..., %u, %h) for u into out. -1 if too long/bad. */
int	user_maildir(const struct mailuser *u, char *out, size_t size);
/* True if name is a safe account name: [a-z0-9_.-], not leading '-' or '.'. */
int	user_name_ok(const char *name);

/*
 * Resolves a local part (already without @domain) to accounts: strips
 * +tag, lower-cases, looks up aliases (recursively, ALIAS_DEPTH_MAX deep),
 * then accounts. Accounts below min_uid receive only through an alias (and
 * postmaster, always accepted, falls back to root). Fills up to max users
 * (duplicates removed). Returns the count, 0 for "no such user", -1 for a
 * temporary failure.
 */
int	user_resolve(const char *local, struct mailuser *out, size_t max);

/*
 * user_resolve, and also the alias targets outside local_domains
 * (forwarding, delivered through the relay queue): up to rmax of them are
 * copied into remote (lower case, duplicates removed), *nremote set.
 * Returns the number of accounts plus remote addresses, 0 for "no such
 * user", -1 for a temporary failure.
 */
int	user_resolve_all(const char *addr, struct mailuser *out, size_t max,
	    char (*remote)[SMTP_PATH_MAX + 1], size_t rmax, size_t *nremote);

#endif
