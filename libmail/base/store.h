/*
 * store.h - one crash-safe Berkeley DB file, the recipe measured in
 * DESIGN.md ("Berkeley DB index"): a flock(2) on DIR/lock held from
 * store_open to store_close by every opener (so flock(1) excludes us), a
 * private transactional environment in DIR (DB_PRIVATE, small cache and
 * log files, WRITE_NOSYNC commits, logs removed automatically), and a
 * clean-shutdown flag in the lock file ("clean <boot_id>" after checkpoint
 * and close, "dirty" while open) so that recovery and DB->verify run only
 * after an unclean stop. A damaged file is set aside (DB.damaged) and the
 * store started empty, or refused, as the opener says. The mailbox index,
 * the throttle and greylist stores and the relay queue are stores.
 *
 * Keys and values are bytes; values read are owned copies (DBT data is
 * not NUL-terminated). Every failure is logged ("WHAT: DIR: op: error")
 * and sets errno; one that says the files are damaged (not a resource
 * problem such as ENOSPC) keeps the lock file "dirty", so that the next
 * opener recovers and verifies.
 */
#ifndef INETMAIL_STORE_H
#define INETMAIL_STORE_H

#include <stddef.h>

struct store;

/* store_open flags */
#define STORE_CREATE	0x01	/* mkdir DIR (0700) when missing */
#define STORE_PRIVATE	0x02	/* refuse a DIR writable by group or others */
#define STORE_DISCARD	0x04	/* damaged: set aside, start empty (else refuse) */
#define STORE_SYNC	0x08	/* commits survive power loss: DB_TXN_SYNC, fsync DIR */
#define STORE_CHECK	0x10	/* at every open: DB is whole pages, its first
				   record reads (cheap; verify only when unclean) */

/*
 * Opens DIR/dbname (a BTREE, created when missing) with the lock taken
 * (waiting for it). what names the store in log lines; damaged ends the
 * line logged when the files are damaged: with STORE_DISCARD
 * "WHAT: DIR: damaged (ERR), DAMAGED" before the set-aside and one retry,
 * else "WHAT: DIR/DB: DAMAGED (ERR): refusing to use it; DAMAGED".
 * NULL with errno set on failure (a missing DIR without STORE_CREATE is
 * ENOENT, silently; failures past the directory are logged).
 */
struct store *store_open(const char *dir, const char *dbname,
	    const char *what, int flags, const char *damaged);
/* Checkpoints, closes, marks the lock file clean (unless damaged) and
 * unlocks; aborts an open transaction. Sets *s to NULL. 0 or -1. */
int	store_close(struct store **s);

/*
 * One transaction per logical operation: the operations below run in it
 * until store_commit or store_abort; without one each write commits on
 * its own. A failure inside makes store_commit abort (-1, EIO).
 */
int	store_begin(struct store *);
int	store_commit(struct store *);
void	store_abort(struct store *);
/* 1 while a transaction is open. */
int	store_in_txn(const struct store *);
/* A checkpoint now (long operations: DESIGN.md). 0 or -1. */
int	store_checkpoint(struct store *);

/* flags of store_get and store_walk, store_put */
#define STORE_RMW	0x01	/* read for update: write-lock what is read */
#define STORE_BULK	0x02	/* walk: bulk reads (no STORE_DEL then) */
#define STORE_KEYS	0x04	/* walk: keys only (val is NULL, vlen 0) */
#define STORE_NOOVERWRITE 0x08	/* put: an existing key is an error */

/* 0 found (*val malloc'd, the caller frees it), 1 absent, -1 error. */
int	store_get(struct store *, const void *key, size_t klen, void **val,
	    size_t *vlen, int flags);
int	store_put(struct store *, const void *key, size_t klen,
	    const void *val, size_t vlen, int flags);
/* 0 deleted, 1 absent, -1 error. */
int	store_del(struct store *, const void *key, size_t klen);

/*
 * Calls fn for every record in key order, in the open transaction (if
 * any). fn returns STORE_NEXT, STORE_DEL (delete this record, go on) or
 * STORE_STOP. 0 when done or stopped, -1 on a store error.
 */
#define STORE_NEXT	0
#define STORE_DEL	1
#define STORE_STOP	(-1)
int	store_walk(struct store *, int flags, int (*fn)(const void *key,
	    size_t klen, const void *val, size_t vlen, void *arg), void *arg);

/*
 * For an inspector holding DIR/lock itself (maildb verify): 1 when the
 * lock file says "clean" from any boot; and the one write an inspector
 * makes, "dirty", so that the next opener recovers and verifies.
 */
int	store_lock_says_clean(int lockfd);
int	store_lock_mark_dirty(int lockfd);

#endif
