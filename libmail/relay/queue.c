/*
 * queue.c - the relay queue store (see queue.h): message files in msg/,
 * their records in a Berkeley DB under db/, following the store.h recipe
 * (flock on db/lock held from queue_open to queue_close, a private
 * transactional environment, recovery and DB->verify after an unclean
 * stop). Unlike the throttle store, every commit is synchronous
 * (DB_TXN_SYNC, which overrides the environment's WRITE_NOSYNC) and a
 * damaged store is never thrown away: it holds mail, so the opener fails
 * loudly and the administrator decides (queue.h, maildb(8)).
 *
 * Records, keyed by the 20-character id, little-endian, version first:
 *   u8 1 | u64 arrival | u64 next_try | u64 last_try | u32 attempts |
 *   u64 size | str sender | str auth_user | u32 nrcpt |
 *   nrcpt x (u8 state | str addr | str status | str remote | str diag)
 * where str is a u16 length then that many bytes (no NUL, no control
 * characters). Decoding checks every length, range and character and
 * refuses trailing bytes.
 */
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "privsep.h"
#include "queue.h"
#include "store.h"
#include "util.h"

#define Q_DB		"queue.db"
#define Q_VERSION	1
#define Q_FIXED		(1 + 8 + 8 + 8 + 4 + 8)	/* before the sender */
#define Q_ID_TRIES	8	/* fresh ids tried when one is taken */
#define Q_COPY_BUF	65536

static const char id_chars[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

struct queue {
	struct store *s;	/* db/ */
	int	 dirfd;		/* queue_dir */
	int	 msgfd;		/* msg/ */
	int	 tmpfd;		/* tmp/ */
	char	 dir[PATH_MAX];
};

/* ---- ids, checks ---- */

int
queue_id_ok(const char *id)
{
	size_t i;

	for (i = 0; i < QID_LEN; i++)
		if (id[i] == '\0' || strchr(id_chars, id[i]) == NULL)
			return 0;
	return id[QID_LEN] == '\0';
}

static void
new_id(char id[QID_MAX])
{
	unsigned char r[QID_LEN];
	size_t i;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		fatal("getrandom");
	/* 256 % 36 = 4: the first four characters are a little likelier;
	 * ~103 bits remain, plenty for uniqueness */
	for (i = 0; i < QID_LEN; i++)
		id[i] = id_chars[r[i] % 36];
	id[QID_LEN] = '\0';
}

/* Text stored in a record: at most max-1 bytes, no control characters
 * (bytes >= 0x80 pass: SMTPUTF8 addresses). */
static int
text_ok(const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	if (n >= max)
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return 0;
	return 1;
}

int
queue_status_ok(const char *s)
{
	int part, n;

	if (s[0] == '\0')
		return 1;
	if (s[0] != '2' && s[0] != '4' && s[0] != '5')
		return 0;
	s++;
	for (part = 0; part < 2; part++) {
		if (*s++ != '.')
			return 0;
		for (n = 0; *s >= '0' && *s <= '9'; s++)
			n++;
		if (n < 1 || n > 3)
			return 0;
	}
	return *s == '\0';
}

static int
rcpt_ok(const struct qrcpt *r)
{
	return r->addr[0] != '\0' && text_ok(r->addr, sizeof(r->addr)) &&
	    (r->state == QR_PENDING || r->state == QR_SENT ||
	    r->state == QR_FAILED) && strnlen(r->status, sizeof(r->status)) <
	    sizeof(r->status) && queue_status_ok(r->status) &&
	    text_ok(r->remote, sizeof(r->remote)) &&
	    text_ok(r->diag, sizeof(r->diag));
}

static int
qmsg_ok(const struct qmsg *m)
{
	size_t i;

	if (strnlen(m->id, sizeof(m->id)) >= sizeof(m->id) ||
	    !queue_id_ok(m->id) || !text_ok(m->sender, sizeof(m->sender)) ||
	    !text_ok(m->auth_user, sizeof(m->auth_user)) ||
	    m->arrival < 0 || m->next_try < 0 || m->last_try < 0 ||
	    m->nrcpt < 1 || m->nrcpt > QUEUE_RCPT_MAX || m->rcpts == NULL)
		return 0;
	for (i = 0; i < m->nrcpt; i++)
		if (!rcpt_ok(&m->rcpts[i]))
			return 0;
	return 1;
}

/* ---- the record codec ---- */


static unsigned char *
put_str(unsigned char *p, const char *s)
{
	size_t n = strlen(s);	/* checked by qmsg_ok: < 65536 */

	p = put_le(p, n, 2);
	memcpy(p, s, n);
	return p + n;
}

unsigned char *
qmsg_encode(const struct qmsg *m, size_t *len)
{
	unsigned char *buf, *p;
	size_t n, i;

	if (!qmsg_ok(m))
		return NULL;
	/* bounded: every string is below 512 bytes, nrcpt <= 10000 */
	n = Q_FIXED + 2 + strlen(m->sender) + 2 + strlen(m->auth_user) + 4;
	for (i = 0; i < m->nrcpt; i++)
		n += 1 + 2 + strlen(m->rcpts[i].addr) + 2 +
		    strlen(m->rcpts[i].status) + 2 + strlen(m->rcpts[i].remote) +
		    2 + strlen(m->rcpts[i].diag);
	p = buf = xmalloc(n);
	*p++ = Q_VERSION;
	p = put_le(p, (uint64_t)m->arrival, 8);
	p = put_le(p, (uint64_t)m->next_try, 8);
	p = put_le(p, (uint64_t)m->last_try, 8);
	p = put_le(p, m->attempts, 4);
	p = put_le(p, m->size, 8);
	p = put_str(p, m->sender);
	p = put_str(p, m->auth_user);
	p = put_le(p, m->nrcpt, 4);
	for (i = 0; i < m->nrcpt; i++) {
		*p++ = (unsigned char)m->rcpts[i].state;
		p = put_str(p, m->rcpts[i].addr);
		p = put_str(p, m->rcpts[i].status);
		p = put_str(p, m->rcpts[i].remote);
		p = put_str(p, m->rcpts[i].diag);
	}
	if ((size_t)(p - buf) != n)
		fatalx("queue: record size mismatch");
	*len = n;
	return buf;
}

/* Reads a str into out (size bytes with the NUL): -1 if it does not fit
 * or the input ends. Characters are checked by qmsg_ok afterwards; a NUL
 * inside would make strlen disagree, so it is refused here. */
static int
get_str(const unsigned char **pp, const unsigned char *end, char *out,
    size_t size)
{
	size_t n;

	if (end - *pp < 2)
		return -1;
	n = (size_t)get_le(*pp, 2);
	*pp += 2;
	if (n >= size || (size_t)(end - *pp) < n || memchr(*pp, '\0', n) != NULL)
		return -1;
	memcpy(out, *pp, n);
	out[n] = '\0';
	*pp += n;
	return 0;
}

static int
get_i64(const unsigned char **pp, int64_t *out)
{
	uint64_t v = get_le(*pp, 8);

	*pp += 8;
	if (v > (uint64_t)INT64_MAX)
		return -1;
	*out = (int64_t)v;
	return 0;
}

int
qmsg_decode(const char *id, const unsigned char *p, size_t len,
    struct qmsg *m)
{
	const unsigned char *end = p + len;
	uint64_t n;
	size_t i;

	memset(m, 0, sizeof(*m));
	if (str_copy(m->id, sizeof(m->id), id) == -1 || !queue_id_ok(m->id))
		goto bad;
	if (len < Q_FIXED || p[0] != Q_VERSION)
		goto bad;
	p++;
	if (get_i64(&p, &m->arrival) == -1 || get_i64(&p, &m->next_try) == -1 ||
	    get_i64(&p, &m->last_try) == -1)
		goto bad;
	m->attempts = (unsigned)get_le(p, 4);
	p += 4;
	m->size = get_le(p, 8);
	p += 8;
	if (get_str(&p, end, m->sender, sizeof(m->sender)) == -1 ||
	    get_str(&p, end, m->auth_user, sizeof(m->auth_user)) == -1 ||
	    end - p < 4)
		goto bad;
	n = get_le(p, 4);
	p += 4;
	/* each recipient takes at least 10 bytes: a count the rest cannot
	 * hold is refused before anything is allocated */
	if (n < 1 || n > QUEUE_RCPT_MAX || n > (uint64_t)(end - p) / 10)
		goto bad;
	m->nrcpt = (size_t)n;
	m->rcpts = xcalloc(m->nrcpt, sizeof(*m->rcpts));
	for (i = 0; i < m->nrcpt; i++) {
		struct qrcpt *r = &m->rcpts[i];

		if (end - p < 1)
			goto bad;
		r->state = *p++;
		if (get_str(&p, end, r->addr, sizeof(r->addr)) == -1 ||
		    get_str(&p, end, r->status, sizeof(r->status)) == -1 ||
		    get_str(&p, end, r->remote, sizeof(r->remote)) == -1 ||
		    get_str(&p, end, r->diag, sizeof(r->diag)) == -1)
			goto bad;
	}
	if (p != end || !qmsg_ok(m))
		goto bad;
	return 0;
bad:
	qmsg_free(m);
	return -1;
}

void
qmsg_free(struct qmsg *m)
{
	free(m->rcpts);
	m->rcpts = NULL;
	m->nrcpt = 0;
}

int64_t
queue_next_try(unsigned attempts, int64_t now)
{
	uint64_t delay = conf.queue_retry_min / 1000;	/* ms to s */
	uint64_t max = conf.queue_retry_max / 1000;
	unsigned i;

	if (delay < 1)
		delay = 1;
	if (max < delay)
		max = delay;
	for (i = 1; i < attempts && delay < max; i++)
		delay *= 2;	/* both at most 86400: no overflow */
	if (delay > max)
		delay = max;
	return now + (int64_t)delay;
}

/* ---- directories ---- */

/* Opens name under dfd (or the path when dfd is AT_FDCWD) as a real
 * directory, creating it 0700 when create is set. */
static int
open_dir(int dfd, const char *name, int create)
{
	int fd;

	if (create && mkdirat(dfd, name, 0700) == -1 && errno != EEXIST)
		return -1;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 && errno == ENOTDIR)
		errno = ELOOP;	/* a symbolic link, or not a directory */
	return fd;
}

static int
own_dir(int fd, const char *what, uid_t uid, gid_t gid)
{
	struct stat st;

	if (fstat(fd, &st) == -1 ||
	    ((st.st_uid != uid || st.st_gid != gid) &&
	    fchown(fd, uid, gid) == -1) ||
	    ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700) == -1)) {
		log_warn("queue: %s", what);
		return -1;
	}
	return 0;
}

/*
 * The files in db/ (lock, logs, queue.db) back to uid:gid: an admin running
 * db5.3_recover or db5.3_dump as root may have created some, and the store
 * is only ever opened as unpriv_user. Symbolic links are left alone.
 */
static int
own_files(int dfd, uid_t uid, gid_t gid)
{
	DIR *d;
	struct dirent *de;
	int fd, r, ret = 0;

	if ((fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		log_warn("queue: db/");
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		/* checked and chowned through one descriptor (ps_give_file) */
		if ((r = ps_give_file(dfd, "queue: db", de->d_name, uid,
		    gid)) == -1)
			ret = -1;
		else if (r == 1)
			log_info("queue: db/%s was root's, given back to %u",
			    pr(de->d_name), (unsigned)uid);
	}
	closedir(d);
	return ret;
}

/* Entries of the queue directory other than ours (logged): a queue_dir
 * set to an existing directory by mistake (/var/spool) is not taken over. */
static int
foreign_entries(int dfd, const char *dir)
{
	static const char *const ours[] = { ".", "..", "msg", "tmp", "db",
	    "runner.lock" };
	struct dirent *de;
	DIR *d;
	size_t i;
	int fd, n = 0;

	if ((fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		for (i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
			if (strcmp(de->d_name, ours[i]) == 0)
				break;
		if (i == sizeof(ours) / sizeof(ours[0]) && n++ == 0)
			log_warnx("queue: %s holds %s, not a queue: refused "
			    "(queue_dir must be a directory of its own)", dir,
			    pr(de->d_name));
	}
	closedir(d);
	return n;
}

int
queue_prepare(const char *dir, uid_t uid, gid_t gid)
{
	static const char *const sub[] = { "msg", "tmp", "db" };
	char buf[PATH_MAX], *p;
	struct stat st;
	size_t i;
	int fd, sfd, ret = 0;

	if (dir == NULL || dir[0] != '/' ||
	    str_copy(buf, sizeof(buf), dir) == -1) {
		log_warnx("queue: queue_dir must be an absolute path");
		errno = EINVAL;
		return -1;
	}
	/* parents as for any spool: root's, 0755 */
	for (p = buf + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(buf, 0755) == -1 && errno != EEXIST) {
			log_warn("queue: mkdir %s", buf);
			return -1;
		}
		*p = '/';
	}
	if ((fd = open_dir(AT_FDCWD, dir, 1)) == -1) {
		log_warn("queue: %s", dir);
		return -1;
	}
	/* queue_dir set to an existing directory by mistake is not taken
	 * over: it must be ours already, or root's (new) and hold only ours */
	if (ret == 0 && (fstat(fd, &st) == -1 ||
	    (st.st_uid != uid && st.st_uid != 0))) {
		log_warnx("queue: %s belongs to another user: refused", dir);
		errno = EPERM;
		ret = -1;
	}
	if (ret == 0 && foreign_entries(fd, dir) > 0) {
		errno = EPERM;
		ret = -1;
	}
	/* the subdirectories first: once the top one is unpriv_user's 0700,
	 * root without CAP_DAC_OVERRIDE (the shipped units) cannot enter it */
	for (i = 0; ret == 0 && i < sizeof(sub) / sizeof(sub[0]); i++) {
		if ((sfd = open_dir(fd, sub[i], 1)) == -1) {
			log_warn("queue: %s/%s", dir, sub[i]);
			ret = -1;
			break;
		}
		if (own_dir(sfd, sub[i], uid, gid) == -1 ||
		    (strcmp(sub[i], "db") == 0 && own_files(sfd, uid, gid) == -1))
			ret = -1;
		close(sfd);
	}
	if (ret == 0 && own_dir(fd, dir, uid, gid) == -1)
		ret = -1;
	close(fd);
	return ret;
}

/* ---- open, close ---- */

static void
q_free(struct queue *q)
{
	int saved = errno;

	if (q->dirfd != -1)
		close(q->dirfd);
	if (q->msgfd != -1)
		close(q->msgfd);
	if (q->tmpfd != -1)
		close(q->tmpfd);
	free(q);
	errno = saved;
}

/* The directory must be ours and writable by nobody else. */
static int
check_owner(int fd, const char *what)
{
	struct stat st;

	if (fstat(fd, &st) == -1)
		return -1;
	if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		log_warnx("queue: %s: owned by uid %u mode %03o, want uid %u "
		    "and not writable by others; refusing", what,
		    (unsigned)st.st_uid, (unsigned)(st.st_mode & 0777),
		    (unsigned)geteuid());
		errno = EPERM;
		return -1;
	}
	return 0;
}

int
queue_open(struct queue **qp, const char *dir)
{
	struct queue *q;
	char home[PATH_MAX];
	int dbfd = -1;

	*qp = NULL;
	q = xcalloc(1, sizeof(*q));
	q->dirfd = q->msgfd = q->tmpfd = -1;
	if (str_copy(q->dir, sizeof(q->dir), dir) == -1 ||
	    str_fmt(home, sizeof(home), "%s/db", dir) == -1) {
		errno = ENAMETOOLONG;
		log_warnx("queue: queue_dir too long");
		goto fail;
	}
	if ((q->dirfd = open_dir(AT_FDCWD, dir, 0)) == -1) {
		log_warn("queue: %s", dir);
		goto fail;
	}
	if (check_owner(q->dirfd, dir) == -1)
		goto fail;
	if ((q->msgfd = open_dir(q->dirfd, "msg", 1)) == -1 ||
	    (q->tmpfd = open_dir(q->dirfd, "tmp", 1)) == -1 ||
	    (dbfd = open_dir(q->dirfd, "db", 1)) == -1) {
		log_warn("queue: %s: msg, tmp, db", dir);
		goto fail;
	}
	if (check_owner(q->msgfd, "msg") == -1 ||
	    check_owner(q->tmpfd, "tmp") == -1 ||
	    check_owner(dbfd, "db") == -1)
		goto fail;
	close(dbfd);
	dbfd = -1;
	/* a damaged store is never discarded: it holds the envelopes of
	 * queued mail; every commit survives power loss */
	if ((q->s = store_open(home, Q_DB, "queue", STORE_SYNC,
	    "see maildb(8), QUEUE, to salvage it")) == NULL)
		goto fail;
	*qp = q;
	return 0;
fail:
	if (dbfd != -1)
		close(dbfd);
	q_free(q);
	return -1;
}

int
queue_close(struct queue **qp)
{
	struct queue *q = *qp;
	int ret;

	if (q == NULL)
		return 0;
	*qp = NULL;
	ret = store_close(&q->s);
	q_free(q);
	return ret;
}

/* ---- records ---- */

/* 0 found, 1 absent, -1 error, -2 present but undecodable. */
static int
get_rec(struct queue *q, const char *id, struct qmsg *m, int flags)
{
	void *v;
	size_t len;
	int r;

	if ((r = store_get(q->s, id, QID_LEN, &v, &len, flags)) != 0)
		return r;
	if (m == NULL) {
		free(v);
		return 0;
	}
	r = qmsg_decode(id, v, len, m);
	free(v);
	if (r == -1) {
		log_warnx("queue: id=%s: bad record (%u bytes)", id,
		    (unsigned)len);
		errno = EINVAL;
		return -2;
	}
	return 0;
}

int
queue_get(struct queue *q, const char *id, struct qmsg *m)
{
	int r;

	memset(m, 0, sizeof(*m));
	if (!queue_id_ok(id))
		return 1;	/* no such record can exist */
	r = get_rec(q, id, m, 0);
	return r == -2 ? -1 : r;
}

int
queue_update(struct queue *q, const struct qmsg *m)
{
	unsigned char *buf;
	size_t len;
	int r;

	if ((buf = qmsg_encode(m, &len)) == NULL) {
		log_warnx("queue: update: invalid record");
		errno = EINVAL;
		return -1;
	}
	if (store_begin(q->s) == -1) {
		free(buf);
		return -1;
	}
	/* under the write lock: a record deleted meanwhile stays deleted
	 * (a bad one is replaced: m is valid) */
	if ((r = get_rec(q, m->id, NULL, STORE_RMW)) == -1 || r == 1 ||
	    (r = store_put(q->s, m->id, QID_LEN, buf, len, 0)) == -1) {
		store_abort(q->s);
		free(buf);
		return r;
	}
	free(buf);
	return store_commit(q->s);
}

int
queue_remove(struct queue *q, const char *id)
{
	if (!queue_id_ok(id))
		return 0;
	if (store_begin(q->s) == -1)
		return -1;
	if (store_del(q->s, id, QID_LEN) == -1) {
		store_abort(q->s);
		return -1;
	}
	if (store_commit(q->s) == -1)
		return -1;
	/* the record is gone for good: a file left by a crash here is an
	 * orphan for queue_clean */
	if (unlinkat(q->msgfd, id, 0) == -1 && errno != ENOENT) {
		log_warn("queue: unlink msg/%s", id);
		return -1;
	}
	return 0;
}

/* ---- enqueue ---- */

static int
rcpts_ok(const char *const *rcpts, size_t nrcpt)
{
	size_t i;

	if (nrcpt < 1 || nrcpt > QUEUE_RCPT_MAX)
		return 0;
	for (i = 0; i < nrcpt; i++)
		if (rcpts[i] == NULL || rcpts[i][0] == '\0' ||
		    !text_ok(rcpts[i], SMTP_PATH_MAX + 1))
			return 0;
	return 1;
}

/* Copies msgfd into a new tmp/ file, fsync'd: its name in tid. */
static int
write_tmp(struct queue *q, int msgfd, char tid[QID_MAX], uint64_t *size)
{
	char *buf;
	off_t off = 0;
	ssize_t n;
	int fd = -1, tries, saved;

	for (tries = 0; fd == -1; tries++) {
		new_id(tid);
		fd = openat(q->tmpfd, tid, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd == -1 && (errno != EEXIST || tries >= Q_ID_TRIES)) {
			log_warn("queue: create tmp/%s", tid);
			return -1;
		}
	}
	buf = xmalloc(Q_COPY_BUF);
	for (;;) {
		n = pread(msgfd, buf, Q_COPY_BUF, off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			log_warn("queue: read message");
			goto fail;
		}
		if (n == 0)
			break;
		if (write_all(fd, buf, (size_t)n) == -1) {
			log_warn("queue: write tmp/%s", tid);
			goto fail;
		}
		off += n;
	}
	if (fsync(fd) == -1 || close(fd) == -1) {
		fd = -1;
		log_warn("queue: fsync tmp/%s", tid);
		goto fail;
	}
	free(buf);
	*size = (uint64_t)off;
	return 0;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlinkat(q->tmpfd, tid, 0);
	free(buf);
	errno = saved;
	return -1;
}

/* Moves tmp/tid to msg/ under a fresh id that has neither a file nor a
 * record (the lock is held: nobody adds one meanwhile). */
static int
publish(struct queue *q, const char *tid, char id[QID_MAX])
{
	int tries, r;

	for (tries = 0; tries < Q_ID_TRIES; tries++) {
		new_id(id);
		if ((r = get_rec(q, id, NULL, 0)) == -1)
			return -1;
		if (r != 1)
			continue;
		if (linkat(q->tmpfd, tid, q->msgfd, id, 0) == 0) {
			if (unlinkat(q->tmpfd, tid, 0) == -1)
				log_warn("queue: unlink tmp/%s", tid);
			return 0;
		}
		if (errno == EEXIST)
			continue;
		/* file systems without hard links */
		if (errno != EPERM && errno != EXDEV && errno != ENOSYS &&
		    errno != EOPNOTSUPP && errno != EMLINK)
			break;
		if (renameat2(q->tmpfd, tid, q->msgfd, id, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	log_warn("queue: publish tmp/%s", tid);
	return -1;
}

int
queue_add(struct queue *q, int msgfd, const char *sender,
    const char *auth_user, const char *const *rcpts, size_t nrcpt, char *id,
    size_t idsize)
{
	struct qmsg m;
	unsigned char *buf;
	char tid[QID_MAX];
	size_t len, i;
	uint64_t size;
	int r;

	if (auth_user == NULL)
		auth_user = "";
	if (sender == NULL || idsize < QID_MAX || !rcpts_ok(rcpts, nrcpt) ||
	    !text_ok(sender, SMTP_PATH_MAX + 1) ||
	    !text_ok(auth_user, QUSER_MAX)) {
		log_warnx("queue: add: invalid envelope");
		errno = EINVAL;
		return -1;
	}
	if (write_tmp(q, msgfd, tid, &size) == -1)
		return -1;
	if (publish(q, tid, m.id) == -1) {
		unlinkat(q->tmpfd, tid, 0);
		return -1;
	}
	/* the name in msg/ must survive power loss before the record does */
	if (fsync(q->msgfd) == -1) {
		log_warn("queue: fsync msg/");
		goto unpublish;
	}
	str_copy(m.sender, sizeof(m.sender), sender);
	str_copy(m.auth_user, sizeof(m.auth_user), auth_user);
	m.arrival = (int64_t)time(NULL);
	m.next_try = m.last_try = 0;
	m.attempts = 0;
	m.size = size;
	m.nrcpt = nrcpt;
	m.rcpts = xcalloc(nrcpt, sizeof(*m.rcpts));
	for (i = 0; i < nrcpt; i++) {
		str_copy(m.rcpts[i].addr, sizeof(m.rcpts[i].addr), rcpts[i]);
		m.rcpts[i].state = QR_PENDING;
	}
	buf = qmsg_encode(&m, &len);
	qmsg_free(&m);
	if (buf == NULL) {
		errno = EINVAL;
		goto unpublish;
	}
	if (store_begin(q->s) == -1) {
		free(buf);
		goto unpublish;
	}
	if (store_put(q->s, m.id, QID_LEN, buf, len, STORE_NOOVERWRITE) == -1) {
		store_abort(q->s);
		free(buf);
		goto unpublish;
	}
	free(buf);
	if (store_commit(q->s) == -1)
		goto unpublish;
	if (str_copy(id, idsize, m.id) == -1)
		fatalx("queue: id buffer");	/* checked above */
	log_info("queue: id=%s from=<%s> nrcpt=%zu size=%llu status=queued",
	    m.id, pr(sender), nrcpt, (unsigned long long)size);
	return 0;
unpublish:
	r = errno;
	if (unlinkat(q->msgfd, m.id, 0) == -1)
		log_warn("queue: unlink msg/%s", m.id);
	errno = r;
	return -1;
}

/* ---- listing, files, cleaning ---- */

struct idlist {
	char	(*v)[QID_MAX];
	size_t	 n, cap;
};

static int
collect_one(const void *k, size_t klen, const void *v, size_t vlen,
    void *arg)
{
	struct idlist *l = arg;

	(void)v;
	(void)vlen;
	if (klen != QID_LEN) {
		log_warnx("queue: a key of %u bytes, skipped", (unsigned)klen);
		return STORE_NEXT;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	memcpy(l->v[l->n], k, QID_LEN);
	l->v[l->n][QID_LEN] = '\0';
	if (!queue_id_ok(l->v[l->n])) {
		log_warnx("queue: a key that is no id, skipped");
		return STORE_NEXT;
	}
	l->n++;
	return STORE_NEXT;
}

/* The ids of every record: keys only (a zero-length read of each value). */
static int
collect_ids(struct queue *q, struct idlist *l)
{
	return store_walk(q->s, STORE_KEYS, collect_one, l);
}

int
queue_list(struct queue *q, int (*fn)(const struct qmsg *, void *),
    void *arg)
{
	struct idlist l = { NULL, 0, 0 };
	struct qmsg m;
	size_t i;
	int r, ret = 0;

	/* ids first, cursor closed: fn may then write to the store without
	 * meeting the cursor's page locks */
	if (collect_ids(q, &l) == -1) {
		free(l.v);
		return -1;
	}
	for (i = 0; i < l.n && ret == 0; i++) {
		r = get_rec(q, l.v[i], &m, 0);
		if (r == -1)
			ret = -1;
		else if (r == 0) {
			if (fn(&m, arg) == -1)
				ret = -1;
			qmsg_free(&m);
		}
		/* 1: removed meanwhile; -2: logged by get_rec */
	}
	free(l.v);
	return ret;
}

int
queue_msg_open(const char *dir, const char *id)
{
	char path[PATH_MAX];

	if (!queue_id_ok(id)) {
		errno = ENOENT;
		return -1;
	}
	if (str_fmt(path, sizeof(path), "%s/msg/%s", dir, id) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
}

/* Removes old files in one directory: in msg/ only those without a record. */
static int
clean_dir(struct queue *q, int dfd, const char *what, int check_rec,
    int64_t cutoff)
{
	DIR *d;
	struct dirent *de;
	struct stat st;
	int fd, n = 0, r;

	if ((fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		log_warn("queue: %s/%s", q->dir, what);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode) || (int64_t)st.st_mtime > cutoff)
			continue;
		if (check_rec) {
			if (!queue_id_ok(de->d_name))
				continue;	/* not ours: left alone */
			if ((r = get_rec(q, de->d_name, NULL, 0)) != 1) {
				if (r == -1) {
					closedir(d);
					return -1;
				}
				continue;
			}
		}
		if (unlinkat(dfd, de->d_name, 0) == -1) {
			log_warn("queue: unlink %s/%s", what, pr(de->d_name));
			continue;
		}
		log_info("queue: removed orphan %s/%s size=%lld", what,
		    pr(de->d_name), (long long)st.st_size);
		n++;
	}
	closedir(d);
	return n;
}

int
queue_clean(struct queue *q)
{
	int64_t cutoff = (int64_t)time(NULL) - QUEUE_ORPHAN_AGE;
	int a, b;

	if ((a = clean_dir(q, q->msgfd, "msg", 1, cutoff)) == -1 ||
	    (b = clean_dir(q, q->tmpfd, "tmp", 0, cutoff)) == -1)
		return -1;
	return a + b;
}
