/*
 * store.c - the crash-safe Berkeley DB store (see store.h): the one copy
 * of the recipe the index, the throttle and greylist stores and the queue
 * share. Knows no mail: its openers say what the store is called, whether
 * a damaged one is thrown away, and whether commits must survive power loss.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <db.h>

#include "log.h"
#include "store.h"
#include "util.h"

#define STORE_LOCK	"lock"
#define STORE_CACHE	(256 * 1024)	/* DESIGN.md: small cache */
#define STORE_LG_MAX	(64 * 1024)	/* DB_RECOVER zero-fills the log file */
#define STORE_LG_BSIZE	(16 * 1024)
#define STORE_LK_MAX	10000		/* an index sync batch touches many pages */
#define STORE_BULK_BUF	(1024 * 1024)	/* bulk read buffer, a multiple of 1024 */

struct store {
	DB_ENV	*env;
	DB	*db;
	DB_TXN	*txn;		/* store_begin's transaction, or NULL */
	int	 txn_err;	/* an operation inside txn failed */
	int	 damaged;	/* a DB error said so: never mark clean */
	int	 flags;		/* STORE_* of store_open */
	int	 dirfd;		/* DIR: fsync'd after a STORE_SYNC commit */
	int	 lockfd;	/* DIR/lock, flock'd */
	const char *dbname;
	const char *what;
	char	 home[PATH_MAX];
};

/* ---- the lock file and its clean flag ---- */

static int lock_mark(int fd, int clean);

/* Errors that say nothing about the files' state: never damage. */
static int
resource_error(int r)
{
	return r == ENOENT || r == EACCES || r == EPERM || r == ENOSPC ||
	    r == EDQUOT || r == ENOMEM || r == EROFS || r == EMFILE ||
	    r == ENFILE || r == EINTR || r == EAGAIN || r == ENOTDIR ||
	    r == ELOOP;
}

static void
boot_id(char *out, size_t size)
{
	int fd;
	ssize_t n;

	out[0] = '\0';
	if ((fd = open("/proc/sys/kernel/random/boot_id",
	    O_RDONLY | O_CLOEXEC)) == -1)
		return;
	n = read(fd, out, size - 1);
	close(fd);
	if (n <= 0) {
		out[0] = '\0';
		return;
	}
	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
}

int
store_lock_says_clean(int fd)
{
	char buf[16];
	ssize_t n;

	if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return 0;
	buf[n] = '\0';
	return strncmp(buf, "clean ", 6) == 0;
}

int
store_lock_mark_dirty(int fd)
{
	return lock_mark(fd, 0);
}

/* 1 if the lock file says "clean <this boot>". */
static int
lock_is_clean(int fd)
{
	char buf[128], want[128], id[64];
	ssize_t n;

	boot_id(id, sizeof(id));
	if (id[0] == '\0' || str_fmt(want, sizeof(want), "clean %s\n", id) == -1)
		return 0;
	if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return 0;
	buf[n] = '\0';
	return strcmp(buf, want) == 0;
}

/* Writes "clean <boot_id>" (clean) or "dirty" into the lock file. */
static int
lock_mark(int fd, int clean)
{
	char buf[128], id[64];

	boot_id(id, sizeof(id));
	if (clean && id[0] != '\0') {
		if (str_fmt(buf, sizeof(buf), "clean %s\n", id) == -1)
			return -1;
	} else
		str_copy(buf, sizeof(buf), "dirty\n");
	if (pwrite(fd, buf, strlen(buf), 0) != (ssize_t)strlen(buf) ||
	    ftruncate(fd, (off_t)strlen(buf)) == -1)
		return -1;
	return 0;
}

/* ---- the environment ---- */

static void
db_errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
	(void)env;
	log_warnx("%s: db: %s", pfx != NULL ? pfx : "db", pr(msg));
}

/* Closes db and environment without a checkpoint (after a failure). */
static void
env_close(struct store *s)
{
	if (s->db != NULL)
		s->db->close(s->db, DB_NOSYNC);
	s->db = NULL;
	if (s->env != NULL)
		s->env->close(s->env, 0);
	s->env = NULL;
}

/* STORE_CHECK: the file is whole pages and its first record reads. */
static int
cheap_check(struct store *s, const char *path, int *damage)
{
	struct stat st;
	u_int32_t pagesize;
	DBC *c;
	DBT k, d;
	int r;

	if (lstat(path, &st) == -1)
		return errno;
	if ((r = s->db->get_pagesize(s->db, &pagesize)) != 0)
		return r;
	if (!S_ISREG(st.st_mode) || pagesize == 0 ||
	    st.st_size % pagesize != 0) {
		log_warnx("%s: %s: %s is not whole pages", s->what, s->home,
		    s->dbname);
		*damage = 1;
		return EINVAL;
	}
	if ((r = s->db->cursor(s->db, NULL, &c, 0)) != 0)
		return r;
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.flags = d.flags = DB_DBT_MALLOC;
	r = c->get(c, &k, &d, DB_FIRST);
	c->close(c);
	if (r == 0) {
		free(k.data);
		free(d.data);
	}
	if (r != 0 && r != DB_NOTFOUND) {
		*damage = !resource_error(r);
		return r;
	}
	return 0;
}

/*
 * One attempt at opening the environment (DB_RECOVER when recover is set)
 * and the database (DB->verify first when verify is set and it exists).
 * 0, or a Berkeley DB / errno code with *damage set when it says the
 * files are damaged; nothing is left open then.
 */
static int
env_open(struct store *s, int recover, int verify, int *damage)
{
	DB_ENV *env;
	DB *db;
	struct stat st;
	char path[PATH_MAX];
	int r;

	*damage = 0;
	if ((r = db_env_create(&env, 0)) != 0)
		return r;
	s->env = env;
	env->set_errcall(env, db_errcall);
	env->set_errpfx(env, s->what);
	if ((r = env->set_cachesize(env, 0, STORE_CACHE, 1)) != 0 ||
	    (r = env->set_lg_max(env, STORE_LG_MAX)) != 0 ||
	    (r = env->set_lg_bsize(env, STORE_LG_BSIZE)) != 0 ||
	    (r = env->set_lk_max_locks(env, STORE_LK_MAX)) != 0 ||
	    (r = env->set_lk_max_objects(env, STORE_LK_MAX)) != 0 ||
	    (r = env->log_set_config(env, DB_LOG_AUTO_REMOVE, 1)) != 0 ||
	    (r = env->set_flags(env, DB_TXN_WRITE_NOSYNC, 1)) != 0)
		goto fail;
	r = env->open(env, s->home, DB_CREATE | DB_PRIVATE | DB_INIT_TXN |
	    DB_INIT_LOCK | DB_INIT_LOG | DB_INIT_MPOOL |
	    (recover ? DB_RECOVER : 0), 0600);
	if (r != 0) {
		*damage = !resource_error(r);
		goto fail;
	}
	if (str_fmt(path, sizeof(path), "%s/%s", s->home, s->dbname) == -1) {
		r = ENAMETOOLONG;
		goto fail;
	}
	if (verify && lstat(path, &st) == 0) {
		if ((r = db_create(&db, env, 0)) != 0)
			goto fail;
		/* verify destroys the handle whatever it returns */
		if ((r = db->verify(db, s->dbname, NULL, NULL, 0)) != 0) {
			log_warnx("%s: %s: verify failed", s->what, s->home);
			*damage = !resource_error(r);
			goto fail;
		}
	}
	if ((r = db_create(&db, env, 0)) != 0)
		goto fail;
	s->db = db;
	if ((r = db->open(db, NULL, s->dbname, NULL, DB_BTREE,
	    DB_CREATE | DB_AUTO_COMMIT, 0600)) != 0) {
		*damage = !resource_error(r);
		goto fail;
	}
	if ((s->flags & STORE_CHECK) && (r = cheap_check(s, path, damage)) != 0)
		goto fail;
	return 0;
fail:
	env_close(s);
	return r;
}

/* Sets the damaged store aside: its logs removed first (a database
 * without its logs fails to open and is set aside again; logs without
 * it could rebuild a part of it), then DB moved to DB.damaged. */
static void
discard(struct store *s)
{
	DIR *d;
	struct dirent *de;
	char from[PATH_MAX], to[PATH_MAX];

	if ((d = opendir(s->home)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if ((strncmp(de->d_name, "log.", 4) == 0 ||
			    strncmp(de->d_name, "__db.", 5) == 0) &&
			    unlinkat(dirfd(d), de->d_name, 0) == -1)
				log_warn("%s: unlink %s/%s", s->what, s->home,
				    pr(de->d_name));
		closedir(d);
	}
	if (str_fmt(from, sizeof(from), "%s/%s", s->home, s->dbname) == 0 &&
	    str_fmt(to, sizeof(to), "%s/%s.damaged", s->home,
	    s->dbname) == 0 && rename(from, to) == -1 && errno != ENOENT)
		log_warn("%s: rename %s", s->what, from);
}

/* ---- open, close ---- */

static void
store_free(struct store *s)
{
	int saved = errno;

	if (s->dirfd != -1)
		close(s->dirfd);
	if (s->lockfd != -1)
		close(s->lockfd);	/* releases the flock */
	free(s);
	errno = saved;
}

/* DIR as a real directory (no symbolic link), and DIR/lock flock'd. */
static int
lock_dir(struct store *s)
{
	struct stat st, st2;

	if (lstat(s->home, &st) == -1) {
		if (errno != ENOENT || !(s->flags & STORE_CREATE))
			return -1;
		if ((mkdir(s->home, 0700) == -1 && errno != EEXIST) ||
		    lstat(s->home, &st) == -1)
			return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		errno = S_ISLNK(st.st_mode) ? ELOOP : ENOTDIR;
		return -1;
	}
	/* only its owner may change what is in it */
	if ((s->flags & STORE_PRIVATE) && (st.st_mode & (S_IWGRP | S_IWOTH))) {
		errno = EPERM;
		return -1;
	}
	if ((s->dirfd = open(s->home, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 || fstat(s->dirfd, &st2) == -1)
		return -1;
	if (st2.st_dev != st.st_dev || st2.st_ino != st.st_ino) {
		errno = ELOOP;
		return -1;
	}
	if ((s->lockfd = openat(s->dirfd, STORE_LOCK, O_RDWR | O_CREAT |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1) {
		log_warn("%s: %s/%s", s->what, s->home, STORE_LOCK);
		return -1;
	}
	while (flock(s->lockfd, LOCK_EX) == -1)
		if (errno != EINTR) {
			log_warn("%s: flock %s/%s", s->what, s->home,
			    STORE_LOCK);
			return -1;
		}
	return 0;
}

struct store *
store_open(const char *dir, const char *dbname, const char *what, int flags,
    const char *damaged)
{
	struct store *s;
	int clean, damage, r;

	s = xcalloc(1, sizeof(*s));
	s->dirfd = s->lockfd = -1;
	s->flags = flags;
	s->dbname = dbname;
	s->what = what;
	if (str_copy(s->home, sizeof(s->home), dir) == -1) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	if (lock_dir(s) == -1)
		goto fail;
	clean = lock_is_clean(s->lockfd);
	if (lock_mark(s->lockfd, 0) == -1) {
		log_warn("%s: %s/%s", what, s->home, STORE_LOCK);
		goto fail;
	}
	/* the fast path: recovery and verify only after an unclean stop */
	r = env_open(s, !clean, !clean, &damage);
	if (r != 0 && damage && (flags & STORE_DISCARD)) {
		log_warnx("%s: %s: damaged (%s), %s", what, s->home,
		    db_strerror(r), damaged);
		discard(s);
		r = env_open(s, 1, 1, &damage);
	} else if (r != 0 && damage) {
		log_warnx("%s: %s/%s: DAMAGED (%s): refusing to use it; %s",
		    what, s->home, dbname, db_strerror(r), damaged);
		errno = r > 0 ? r : EIO;
		goto fail;
	}
	if (r != 0) {
		log_warnx("%s: %s: cannot open: %s", what, s->home,
		    db_strerror(r));
		errno = r > 0 ? r : EIO;
		goto fail;
	}
	return s;
fail:
	store_free(s);
	return NULL;
}

int
store_close(struct store **sp)
{
	struct store *s = *sp;
	int r, ret = 0;

	if (s == NULL)
		return 0;
	*sp = NULL;
	store_abort(s);
	if ((r = s->env->txn_checkpoint(s->env, 0, 0, 0)) != 0) {
		log_warnx("%s: checkpoint: %s", s->home, db_strerror(r));
		ret = -1;
	}
	/* after a good checkpoint the pages are on disk: skip close's sync */
	if ((r = s->db->close(s->db, ret == 0 ? DB_NOSYNC : 0)) != 0) {
		log_warnx("%s: close: %s", s->home, db_strerror(r));
		ret = -1;
	}
	if ((r = s->env->close(s->env, 0)) != 0) {
		log_warnx("%s: env close: %s", s->home, db_strerror(r));
		ret = -1;
	}
	/* only a complete clean close may say so */
	if (ret == 0 && !s->damaged && lock_mark(s->lockfd, 1) == -1)
		log_warn("%s: %s/%s", s->what, s->home, STORE_LOCK);
	store_free(s);
	if (ret == -1)
		errno = EIO;
	return ret;
}

/* ---- transactions ---- */

/* Notes a failure: logged, errno set; a real one (not a resource
 * problem, not STORE_NOOVERWRITE's existing key) keeps the store dirty,
 * so the next opener recovers it. */
static int
db_fail(struct store *s, const char *op, int r)
{
	log_warnx("%s: %s: %s: %s", s->what, s->home, op, db_strerror(r));
	if (!resource_error(r) && r != DB_KEYEXIST)
		s->damaged = 1;
	if (s->txn != NULL)
		s->txn_err = 1;
	errno = r > 0 ? r : EIO;
	return -1;
}

int
store_begin(struct store *s)
{
	int r;

	if (s->txn != NULL) {
		errno = EINVAL;
		return -1;
	}
	if ((r = s->env->txn_begin(s->env, NULL, &s->txn, 0)) != 0) {
		s->txn = NULL;
		return db_fail(s, "txn_begin", r);
	}
	s->txn_err = 0;
	return 0;
}

/*
 * STORE_SYNC: DB_TXN_SYNC flushes the log to disk before returning,
 * whatever the environment's WRITE_NOSYNC says (checked with strace: an
 * fdatasync of the log file follows the commit record). Then DIR itself:
 * the commit may have started a new log file, whose name must survive a
 * power loss too (nearly free when nothing in DIR changed).
 */
int
store_commit(struct store *s)
{
	DB_TXN *t = s->txn;
	int r, sync = s->flags & STORE_SYNC;

	if (t == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (s->txn_err) {
		store_abort(s);
		errno = EIO;
		return -1;
	}
	s->txn = NULL;
	if ((r = t->commit(t, sync ? DB_TXN_SYNC : 0)) != 0)
		return db_fail(s, "commit", r);
	if (sync && fsync(s->dirfd) == -1) {
		log_warn("%s: fsync %s", s->what, s->home);
		return -1;
	}
	return 0;
}

void
store_abort(struct store *s)
{
	DB_TXN *t = s->txn;
	int r;

	if (t == NULL)
		return;
	s->txn = NULL;
	s->txn_err = 0;
	if ((r = t->abort(t)) != 0)
		db_fail(s, "abort", r);
}

int
store_in_txn(const struct store *s)
{
	return s->txn != NULL;
}

int
store_checkpoint(struct store *s)
{
	int r;

	if ((r = s->env->txn_checkpoint(s->env, 0, 0, 0)) != 0)
		return db_fail(s, "checkpoint", r);
	return 0;
}

/* ---- records ---- */

static void
dbt(DBT *t, const void *data, size_t len)
{
	memset(t, 0, sizeof(*t));
	t->data = (void *)data;
	t->size = (u_int32_t)len;
}

int
store_get(struct store *s, const void *key, size_t klen, void **val,
    size_t *vlen, int flags)
{
	DBT k, d;
	int r;

	*val = NULL;
	*vlen = 0;
	dbt(&k, key, klen);
	dbt(&d, NULL, 0);
	d.flags = DB_DBT_MALLOC;	/* an owned copy */
	r = s->db->get(s->db, s->txn, &k, &d, (flags & STORE_RMW) ? DB_RMW : 0);
	if (r == DB_NOTFOUND)
		return 1;
	if (r != 0)
		return db_fail(s, "get", r);
	*val = d.data;
	*vlen = d.size;
	return 0;
}

int
store_put(struct store *s, const void *key, size_t klen, const void *val,
    size_t vlen, int flags)
{
	DBT k, d;
	int r;

	dbt(&k, key, klen);
	dbt(&d, val, vlen);
	if ((r = s->db->put(s->db, s->txn, &k, &d,
	    (flags & STORE_NOOVERWRITE) ? DB_NOOVERWRITE : 0)) != 0)
		return db_fail(s, "put", r);
	return 0;
}

int
store_del(struct store *s, const void *key, size_t klen)
{
	DBT k;
	int r;

	dbt(&k, key, klen);
	if ((r = s->db->del(s->db, s->txn, &k, 0)) == DB_NOTFOUND)
		return 1;
	if (r != 0)
		return db_fail(s, "del", r);
	return 0;
}

/* One bulk buffer of records (DB_MULTIPLE_KEY) through fn. */
static int
walk_bulk(DBT *d, int (*fn)(const void *, size_t, const void *, size_t,
    void *), void *arg)
{
	void *p, *kp, *dp;
	u_int32_t klen, dlen;

	DB_MULTIPLE_INIT(p, d);
	for (;;) {
		DB_MULTIPLE_KEY_NEXT(p, d, kp, klen, dp, dlen);
		if (p == NULL)
			return STORE_NEXT;
		if (fn(kp, klen, dp, dlen, arg) == STORE_STOP)
			return STORE_STOP;
	}
}

int
store_walk(struct store *s, int flags, int (*fn)(const void *, size_t,
    const void *, size_t, void *), void *arg)
{
	void *bulk = NULL;
	DBC *c;
	DBT k, d;
	u_int32_t how = DB_NEXT;
	int r, v = STORE_NEXT, ret = 0;

	if ((r = s->db->cursor(s->db, s->txn, &c, 0)) != 0)
		return db_fail(s, "cursor", r);
	dbt(&k, NULL, 0);
	dbt(&d, NULL, 0);
	if (flags & STORE_BULK) {
		/* Berkeley DB's per-call cursor and lock overhead was as
		 * large as the decoding of an index record */
		bulk = xmalloc(STORE_BULK_BUF);
		d.data = bulk;
		d.ulen = STORE_BULK_BUF;
		d.flags = DB_DBT_USERMEM;
		how |= DB_MULTIPLE_KEY;
	} else if (flags & STORE_KEYS)
		d.flags = DB_DBT_PARTIAL;	/* a zero-length read */
	if (flags & STORE_RMW)
		how |= DB_RMW;
	while (v != STORE_STOP && (r = c->get(c, &k, &d, how)) == 0) {
		if (flags & STORE_BULK) {
			v = walk_bulk(&d, fn, arg);
			continue;
		}
		v = fn(k.data, k.size, (flags & STORE_KEYS) ? NULL : d.data,
		    (flags & STORE_KEYS) ? 0 : d.size, arg);
		if (v == STORE_DEL && (r = c->del(c, 0)) != 0) {
			ret = db_fail(s, "cursor del", r);
			break;
		}
	}
	if (ret == 0 && v != STORE_STOP && r != DB_NOTFOUND)
		ret = db_fail(s, "cursor get", r);
	c->close(c);
	free(bulk);
	return ret;
}
