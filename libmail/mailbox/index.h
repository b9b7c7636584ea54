/*
 * index.h - the Berkeley DB index of one Maildir: a cache of what is in new/
 * and cur/ (name, sizes, lines, arrival, a few headers) so that listings need
 * no message file opened. The Maildir is the truth; the index can always be
 * rebuilt from it (idx_sync with IDX_SYNC_FULL).
 *
 * Storage (see DESIGN.md "Berkeley DB index"): MAILDIR/inetmail/ holds
 * `lock` (flock(2), exclusive, held from idx_open to idx_close), a private
 * transactional environment (DB_PRIVATE, DB_RECOVER at open, small log files)
 * and index.db. Every opener - smtpd delivery, pop3d, maildb - takes the lock,
 * so `flock DIR/lock db5.3_dump -h DIR index.db` is a safe admin inspection.
 * A kill -9 at any instant leaves an index the next opener recovers without
 * hanging.
 */
#ifndef INETMAIL_INDEX_H
#define INETMAIL_INDEX_H

#include <stdint.h>
#include <sys/types.h>

#include "maildir.h"
#include "params.h"

#define IDX_DIRNAME	"inetmail"	/* no leading dot: not a Maildir++ folder */
#define IDX_DB		"index.db"	/* in IDX_DIRNAME: the BTREE */
#define IDX_LOCK	"lock"		/* in IDX_DIRNAME: the flock(2) file */
/* in IDX_DIRNAME: the maildrop lock pop3d holds (flock, exclusive) for a
 * whole session, while its message numbers are in use */
#define IDX_POP3_LOCK	"pop3.lock"

struct idx;


/*
 * Opens (IDX_CREATE: creating MAILDIR/inetmail as needed) the index of the
 * Maildir at path, taking the exclusive lock (waiting for it). Runs recovery.
 * Returns -1 with errno set (and a log line) on failure.
 */
#define IDX_CREATE	0x01
int	idx_open(struct idx **, const char *maildir, int flags);
/* Checkpoints, closes, marks clean and releases the lock. Sets *ix to NULL. */
int	idx_close(struct idx **);

/*
 * One transaction per logical operation. Outside idx_begin/idx_commit each
 * put/del is its own transaction. Commits are WRITE_NOSYNC: they survive a
 * kill -9 of the process (the OS has the log), not a power loss.
 */
int	idx_begin(struct idx *);
int	idx_commit(struct idx *);
void	idx_abort(struct idx *);

int	idx_put(struct idx *, const struct idx_rec *);
/* 0 found, 1 not found, -1 error. Looks up by the unique part of name. */
int	idx_get(struct idx *, const char *name, struct idx_rec *);
/* 0 deleted, 1 not found, -1 error. */
int	idx_del(struct idx *, const char *name);
/*
 * Undoes a delivery to the Maildir at maildir: maildir_undo(), then removes
 * the record of name from the index when there is an index (a failure
 * there is logged, not returned: the next idx_sync drops the record).
 * 0 ok, -1 with errno as maildir_undo() sets it.
 */
int	idx_undo(const char *maildir, const char *name);
/* Calls fn for each record in arrival order (then by name); stops if fn != 0. */
int	idx_iter(struct idx *, int (*fn)(const struct idx_rec *, void *), void *);
/* Number of messages and total wsize. */
int	idx_count(struct idx *, uint64_t *count, uint64_t *wsize);

/*
 * Brings the index in line with the Maildir: records for files that vanished
 * are removed, files not indexed are added (their headers parsed), records
 * whose name changed (new/ -> cur/, flags) are updated. Without IDX_SYNC_FULL
 * it skips cur/ when cur/ has not changed since the last sync (stored
 * mtime). Reports counts of added/removed when the pointers are not NULL.
 */
#define IDX_SYNC_FULL	0x01
int	idx_sync(struct idx *, const char *maildir, int flags,
	    unsigned *added, unsigned *removed);

/*
 * The stored record format (version 1), portable and fixed: version byte,
 * dir byte, size u64, wsize u64, lines u32, arrival i64 (little-endian), then
 * name, uidl, from, to, subject, date, msgid, each a u16 LE length and that
 * many bytes (no NUL). idx_rec_encode returns the length written (at most
 * IDX_REC_MAX) or -1 if rec is invalid or size too small. idx_rec_decode
 * validates every length and byte and the exact total: 0 ok, -1 bad input.
 */
#define IDX_REC_VERSION	1
#define IDX_REC_MAX	(2 + 8 + 8 + 4 + 8 + 7 * 2 + (IDX_NAME_MAX - 1) + \
			 UIDL_MAX + 5 * IDX_HDR_MAX)
int	idx_rec_encode(const struct idx_rec *, void *buf, size_t size);
int	idx_rec_decode(const void *buf, size_t len, struct idx_rec *);

/*
 * For a read-only look at index.db (index_check.h): the key of a record
 * is the unique part of its file name, idx_key_len(name) bytes; the one
 * meta record is the key for which idx_is_meta_key() is 1, and
 * idx_meta_decode() gives its count and total wsize (0, or -1 when the
 * value is not a meta record of this version).
 */
size_t	idx_key_len(const char *name);
int	idx_is_meta_key(const void *key, size_t len);
int	idx_meta_decode(const void *buf, size_t len, uint64_t *count,
	    uint64_t *wsize);

#endif
