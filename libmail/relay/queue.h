/*
 * queue.h - the relay queue: messages waiting for delivery to other hosts,
 * each a file plus a record of its envelope and per-recipient state.
 *
 * Layout of queue_dir (owned by unpriv_user, 0700; queue_prepare makes it):
 *   msg/ID   the message as handed over (LF line ends, our Received:, no
 *            Return-Path), 0600; written in tmp/, fsync'd, renamed, msg/
 *            fsync'd
 *   tmp/     files being written
 *   db/      the records: the store.h recipe (flock on db/lock, private
 *            environment, recovery after an unclean stop) with every commit
 *            synchronous (DB_TXN_SYNC): power loss must not lose a message
 *            or resend one already delivered
 * A message is queued once its record commits. A msg/ file without a
 * record is an interrupted enqueue (queue_clean removes it after an hour).
 * The store is opened for one short operation at a time: the lock must not
 * be held across network I/O, so that smtpd can always enqueue.
 */
#ifndef INETMAIL_QUEUE_H
#define INETMAIL_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "params.h"

#define QID_LEN		20	/* [0-9A-Z], from getrandom: ~103 bits */
#define QID_MAX		24	/* buffer for an id and its NUL */
#define QERR_MAX	300	/* diagnostic text per recipient (with NUL) */
#define QREMOTE_MAX	300	/* "mx.remote.test [127.0.0.2]" (with NUL) */
#define QUSER_MAX	65	/* auth_user: USER_NAME_MAX + NUL */
/* A record holds at most this many recipients (conf max_recipients is at
 * most 10000, and an alias fans out to at most ALIAS_TARGETS_MAX). */
#define QUEUE_RCPT_MAX	10000
#define QUEUE_ORPHAN_AGE 3600	/* seconds before a msg/ or tmp/ orphan goes */

enum { QR_PENDING = 0, QR_SENT, QR_FAILED };

struct qrcpt {
	char	addr[SMTP_PATH_MAX + 1];	/* without <> */
	int	state;				/* QR_* */
	char	status[8];	/* "5.1.1": last answer's enhanced code, "" */
	char	remote[QREMOTE_MAX];	/* who gave the last answer, "" */
	char	diag[QERR_MAX];	/* "550 5.1.1 user unknown" or our text */
};

struct qmsg {
	char	 id[QID_MAX];
	char	 sender[SMTP_PATH_MAX + 1];	/* "" = the null sender */
	char	 auth_user[QUSER_MAX];		/* who submitted, "" = none */
	int64_t	 arrival;	/* Unix time the record committed */
	int64_t	 next_try;	/* due when <= now; 0 = now */
	int64_t	 last_try;	/* 0 = never tried */
	unsigned attempts;
	uint64_t size;		/* octets of msg/ID */
	size_t	 nrcpt;
	struct qrcpt *rcpts;	/* malloc'd; qmsg_free */
};

struct queue;

/* As root: mkdir -p dir (parents 0755); dir, msg, tmp, db 0700 and the
 * files in db/ owned by uid:gid (symbolic links refused). 0, or -1 logged. */
int	queue_prepare(const char *dir, uid_t uid, gid_t gid);
/* Opens the store, waiting for its lock. dir must exist (queue_prepare);
 * msg, tmp and db are created when missing. Refuses symbolic links and
 * directories not owned by the effective uid or writable by others
 * (EPERM), and a damaged queue.db (never discarded: it holds mail).
 * 0, or -1 (errno set, logged). */
int	queue_open(struct queue **, const char *dir);
/* Checkpoints, closes, marks clean, unlocks; sets *q to NULL. 0 or -1. */
int	queue_close(struct queue **);
/*
 * Copies msgfd (from offset 0 to its end) into msg/ID durably, then commits
 * the record (rcpts all QR_PENDING, next_try 0 = due now) synchronously.
 * Fills id (idsize >= QID_MAX). Only a 0 return means queued; on -1 nothing
 * is left behind (but an orphan file after a crash).
 */
int	queue_add(struct queue *, int msgfd, const char *sender,
	    const char *auth_user, const char *const *rcpts, size_t nrcpt,
	    char *id, size_t idsize);
/* 0 (m filled; qmsg_free it), 1 absent, -1 error (a bad record is -1). */
int	queue_get(struct queue *, const char *id, struct qmsg *m);
/* Rewrites m's record: 0, 1 absent (deleted meanwhile: not recreated),
 * -1 error or m not valid. */
int	queue_update(struct queue *, const struct qmsg *m);
/* Deletes the record, then the file. Absent is no error: 0 or -1. */
int	queue_remove(struct queue *, const char *id);
/* Calls fn for every record, in id order; fn may queue_update or
 * queue_remove (the ids are collected first). fn returns 0 to go on,
 * -1 to stop (queue_list then returns -1). A record that does not decode
 * is logged and skipped. */
int	queue_list(struct queue *, int (*fn)(const struct qmsg *, void *),
	    void *arg);
/* O_RDONLY fd of msg/ID, -1 with errno (ENOENT when missing). */
int	queue_msg_open(const char *dir, const char *id);
/* Removes msg/ files without a record and tmp/ files, older than
 * QUEUE_ORPHAN_AGE: the count, or -1. */
int	queue_clean(struct queue *);
void	qmsg_free(struct qmsg *);
/* 1 if status is "" (none yet) or an RFC 3463 code: class 2, 4 or 5,
 * then "." and 1-3 digits, twice. */
int	queue_status_ok(const char *status);
/* 1 if id is QID_LEN characters of [0-9A-Z]. */
int	queue_id_ok(const char *id);
/* The next attempt after `attempts` failures at now:
 * now + min(queue_retry_min << (attempts - 1), queue_retry_max). */
int64_t	queue_next_try(unsigned attempts, int64_t now);

/* The record codec, exposed for tests and the fuzzer: encode returns a
 * malloc'd buffer (NULL if m is not valid); decode is strict (version,
 * bounds, character sets, no trailing bytes): 0 or -1. */
unsigned char *qmsg_encode(const struct qmsg *m, size_t *len);
int	qmsg_decode(const char *id, const unsigned char *p, size_t len,
	    struct qmsg *m);

#endif
