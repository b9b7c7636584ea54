/*
 * index.c - the Berkeley DB index of one Maildir (see index.h, DESIGN.md
 * "Berkeley DB index"). MAILDIR/inetmail/ holds `lock` (flock, exclusive,
 * held from idx_open to idx_close), the log files of a private
 * transactional environment, and index.db: a BTREE keyed by the unique part
 * of each file name, plus one meta record (key "\0meta", never a unique
 * part) with count, total wsize and the new/ and cur/ mtimes for idx_sync.
 *
 * The lock file also carries a clean-shutdown flag: "dirty" while open,
 * "clean <boot_id>" after checkpoint and close. Recovery runs when it is not
 * clean for this boot; then index.db is also verified. A damaged index is
 * moved aside and recreated empty: the Maildir is the truth and the caller's
 * idx_sync refills it (a fresh index has no stored mtimes, so it is full).
 */
#include <sys/file.h>
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

#include <db.h>

#include "store.h"
#include "index.h"
#include "log.h"
#include "maildir.h"
#include "util.h"

#define IDX_DB		"index.db"
#define IDX_LOCK	"lock"
#define SYNC_BATCH	500	/* records per sync transaction */
#define SYNC_CKP	20	/* batches between checkpoints in a long sync */
#define MTIME_SETTLE	2000000000LL	/* ns: younger dir mtimes are not trusted */

static const char meta_key[] = "\0meta";
#define META_KEYLEN	5
#define META_VERSION	1
#define META_LEN	(1 + 4 * 8)

struct meta {
	uint64_t count;
	uint64_t wsize;
	int64_t	 mtime[2];	/* new/, cur/ in ns; 0 = unknown */
};

struct idx {
	DB_ENV	*env;
	DB	*db;
	DB_TXN	*txn;		/* idx_begin's transaction, or NULL */
	int	 txn_err;	/* an operation inside txn failed */
	int	 lockfd;
	int	 damaged;	/* a DB error: do not mark clean */
	char	 home[PATH_MAX];
};

/* ---- record format ---- */


/* The string fields in format order, with their capacities. */
#define NSTR	7
static void
rec_fields(const struct idx_rec *r, const char *f[NSTR], size_t cap[NSTR])
{
	f[0] = r->name;    cap[0] = sizeof(r->name);
	f[1] = r->uidl;    cap[1] = sizeof(r->uidl);
	f[2] = r->from;    cap[2] = sizeof(r->from);
	f[3] = r->to;      cap[3] = sizeof(r->to);
	f[4] = r->subject; cap[4] = sizeof(r->subject);
	f[5] = r->date;    cap[5] = sizeof(r->date);
	f[6] = r->msgid;   cap[6] = sizeof(r->msgid);
}

/* Byte rules per field: name no '/' or NUL; uidl 0x21..0x7e; headers
 * 0x20..0x7e. Eight bytes at a time (the classic "has a byte less than /
 * more than" word tricks): this runs for every record of every login. */
#define ONES	0x0101010101010101ull
#define HIGHS	0x8080808080808080ull
static int
field_ok(int i, const unsigned char *s, size_t n)
{
	unsigned char lo = i == 1 ? 0x21 : 0x20;
	uint64_t w;
	size_t k = 0;

	if (i == 0)
		return n > 0 && memchr(s, '/', n) == NULL &&
		    memchr(s, '\0', n) == NULL;
	if (i == 1 && n == 0)
		return 0;
	for (; n - k >= 8; k += 8) {
		memcpy(&w, s + k, 8);
		/* a byte < lo, or a byte > 0x7e (bit 7 set, or 0x7f) */
		if ((((w - ONES * lo) & ~w) | w | ((w + ONES) & HIGHS)) & HIGHS)
			return 0;
	}
	for (; k < n; k++)
		if (s[k] < lo || s[k] > 0x7e)
			return 0;
	return 1;
}

int
idx_rec_encode(const struct idx_rec *r, void *buf, size_t size)
{
	const char *f[NSTR];
	size_t cap[NSTR], n[NSTR], total = 2 + 8 + 8 + 4 + 8;
	unsigned char *p = buf;
	int i;

	if (r->dir > IDX_CUR || r->wsize < r->size)
		return -1;
	rec_fields(r, f, cap);
	for (i = 0; i < NSTR; i++) {
		n[i] = strnlen(f[i], cap[i]);
		if (n[i] == cap[i] || !field_ok(i, (const unsigned char *)f[i], n[i]))
			return -1;
		total += 2 + n[i];
	}
	if (total > size || total > IDX_REC_MAX)
		return -1;
	*p++ = IDX_REC_VERSION;
	*p++ = r->dir;
	p = put_le(p, r->size, 8);
	p = put_le(p, r->wsize, 8);
	p = put_le(p, r->lines, 4);
	p = put_le(p, (uint64_t)r->arrival, 8);
	for (i = 0; i < NSTR; i++) {
		p = put_le(p, n[i], 2);
		memcpy(p, f[i], n[i]);
		p += n[i];
	}
	return (int)total;
}

/* check = 0: the bytes were decoded with check = 1 before (idx_iter). */
static int
rec_decode(const void *buf, size_t len, struct idx_rec *r, int check)
{
	const unsigned char *p = buf;
	const char *f[NSTR];
	size_t cap[NSTR], off, n;
	int i;

	memset(r, 0, sizeof(*r));
	if (len < 2 + 8 + 8 + 4 + 8 || len > IDX_REC_MAX)
		goto bad;
	if (p[0] != IDX_REC_VERSION || p[1] > IDX_CUR)
		goto bad;
	r->dir = p[1];
	r->size = get_le(p + 2, 8);
	r->wsize = get_le(p + 10, 8);
	r->lines = (uint32_t)get_le(p + 18, 4);
	r->arrival = (int64_t)get_le(p + 22, 8);
	if (r->wsize < r->size)
		goto bad;
	off = 30;
	rec_fields(r, f, cap);
	for (i = 0; i < NSTR; i++) {
		if (len - off < 2)
			goto bad;
		n = (size_t)get_le(p + off, 2);
		off += 2;
		if (n >= cap[i] || n > len - off ||
		    (check && !field_ok(i, p + off, n)))
			goto bad;
		memcpy((char *)f[i], p + off, n);	/* fields of *r, NUL from memset */
		off += n;
	}
	if (off != len)
		goto bad;
	return 0;
bad:
	memset(r, 0, sizeof(*r));
	return -1;
}

int
idx_rec_decode(const void *buf, size_t len, struct idx_rec *r)
{
	return rec_decode(buf, len, r, 1);
}

static void
meta_encode(const struct meta *m, unsigned char out[META_LEN])
{
	unsigned char *p = out;

	*p++ = META_VERSION;
	p = put_le(p, m->count, 8);
	p = put_le(p, m->wsize, 8);
	p = put_le(p, (uint64_t)m->mtime[0], 8);
	put_le(p, (uint64_t)m->mtime[1], 8);
}

static int
meta_decode(const void *buf, size_t len, struct meta *m)
{
	const unsigned char *p = buf;

	memset(m, 0, sizeof(*m));
	if (len != META_LEN || p[0] != META_VERSION)
		return -1;
	m->count = get_le(p + 1, 8);
	m->wsize = get_le(p + 9, 8);
	m->mtime[0] = (int64_t)get_le(p + 17, 8);
	m->mtime[1] = (int64_t)get_le(p + 25, 8);
	return 0;
}

/* ---- unique parts ---- */

static size_t
uniq_len(const char *name)
{
	return strcspn(name, ":,");
}

/* ---- environment ---- */

static int
db_errno(int r)
{
	return r > 0 ? r : EIO;
}

static void
env_close(struct idx *ix)
{
	dbs_close(&ix->env, &ix->db);
}

static int
get_meta(struct idx *ix, DB_TXN *t, struct meta *m, u_int32_t flags)
{
	DBT k, d;
	int r;

	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.data = (void *)meta_key;
	k.size = META_KEYLEN;
	d.flags = DB_DBT_MALLOC;
	r = ix->db->get(ix->db, t, &k, &d, flags);
	if (r == DB_NOTFOUND) {
		memset(m, 0, sizeof(*m));
		return 0;
	}
	if (r != 0)
		return r;
	r = meta_decode(d.data, d.size, m);
	free(d.data);
	if (r == -1) {
		log_warnx("index: %s: bad meta record, counts reset", ix->home);
		memset(m, 0, sizeof(*m));
	}
	return 0;
}

static int
put_meta(struct idx *ix, DB_TXN *t, const struct meta *m)
{
	unsigned char buf[META_LEN];
	DBT k, d;

	meta_encode(m, buf);
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.data = (void *)meta_key;
	k.size = META_KEYLEN;
	d.data = buf;
	d.size = sizeof(buf);
	return ix->db->put(ix->db, t, &k, &d, 0);
}

/*
 * One attempt at opening the environment and index.db. Returns 0, or a
 * Berkeley DB / errno code; *damage tells whether the code means the files
 * are bad (rather than e.g. a full disk).
 */
static int
env_open(struct idx *ix, int recover, int verify, int *damage)
{
	struct meta m;
	struct stat st;
	char path[PATH_MAX];
	u_int32_t pagesize;
	int r;

	if ((r = dbs_open(&ix->env, &ix->db, ix->home, IDX_DB, "index",
	    recover, verify, damage)) != 0)
		return r;
	if (str_fmt(path, sizeof(path), "%s/%s", ix->home, IDX_DB) == -1) {
		r = ENAMETOOLONG;
		goto fail;
	}
	/* Cheap checks on every open: whole pages, a readable meta record. */
	if (lstat(path, &st) == -1) {
		r = errno;
		goto fail;
	}
	if ((r = ix->db->get_pagesize(ix->db, &pagesize)) != 0)
		goto fail;
	if (!S_ISREG(st.st_mode) || pagesize == 0 ||
	    st.st_size % pagesize != 0) {
		log_warnx("index: %s: %s is not whole pages", ix->home, IDX_DB);
		r = EINVAL;
		*damage = 1;
		goto fail;
	}
	if ((r = get_meta(ix, NULL, &m, 0)) != 0) {
		*damage = !dbs_resource_error(r);
		goto fail;
	}
	return 0;
fail:
	env_close(ix);
	return r;
}

/* Removes the environment's files and moves index.db aside. */
static void
discard_index(struct idx *ix)
{
	DIR *d;
	struct dirent *de;
	char from[PATH_MAX], to[PATH_MAX];

	/* Logs first: an index.db without its logs fails to open and is
	 * discarded again, logs without index.db could rebuild a part of it. */
	if ((d = opendir(ix->home)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, "log.", 4) != 0 &&
			    strncmp(de->d_name, "__db.", 5) != 0)
				continue;
			if (unlinkat(dirfd(d), de->d_name, 0) == -1)
				log_warn("index: unlink %s/%s", ix->home,
				    pr(de->d_name));
		}
		closedir(d);
	}
	if (str_fmt(from, sizeof(from), "%s/%s", ix->home, IDX_DB) == 0 &&
	    str_fmt(to, sizeof(to), "%s/%s.damaged", ix->home, IDX_DB) == 0 &&
	    rename(from, to) == -1 && errno != ENOENT)
		log_warn("index: rename %s", from);
}

int
idx_open(struct idx **ixp, const char *maildir, int flags)
{
	struct idx *ix;
	struct stat st, st2;
	int dfd = -1, clean, damage, r, saved;

	*ixp = NULL;
	ix = xcalloc(1, sizeof(*ix));
	ix->lockfd = -1;
	if (str_fmt(ix->home, sizeof(ix->home), "%s/%s", maildir,
	    IDX_DIRNAME) == -1) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	if (lstat(ix->home, &st) == -1) {
		if (errno != ENOENT || !(flags & IDX_CREATE))
			goto fail;
		if (mkdir(ix->home, 0700) == -1 && errno != EEXIST)
			goto fail;
		if (lstat(ix->home, &st) == -1)
			goto fail;
	}
	if (!S_ISDIR(st.st_mode)) {
		errno = S_ISLNK(st.st_mode) ? ELOOP : ENOTDIR;
		goto fail;
	}
	if ((dfd = open(ix->home, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		goto fail;
	if (fstat(dfd, &st2) == -1)
		goto fail;
	if (st2.st_dev != st.st_dev || st2.st_ino != st.st_ino) {
		errno = ELOOP;
		goto fail;
	}
	if ((ix->lockfd = openat(dfd, IDX_LOCK, O_RDWR | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		goto fail;
	close(dfd);
	dfd = -1;
	while (flock(ix->lockfd, LOCK_EX) == -1)
		if (errno != EINTR)
			goto fail;

	clean = dbs_lock_is_clean(ix->lockfd);
	if (dbs_lock_mark(ix->lockfd, 0) == -1)
		goto fail;
	r = env_open(ix, !clean, !clean, &damage);
	if (r != 0 && damage) {
		log_warnx("index: %s: damaged (%s), rebuilding from the Maildir",
		    ix->home, db_strerror(r));
		discard_index(ix);
		r = env_open(ix, 1, 0, &damage);
	}
	if (r != 0) {
		log_warnx("index: %s: cannot open: %s", ix->home,
		    db_strerror(r));
		errno = db_errno(r);
		goto fail;
	}
	*ixp = ix;
	return 0;
fail:
	saved = errno;
	if (dfd != -1)
		close(dfd);
	if (ix->lockfd != -1)
		close(ix->lockfd);
	free(ix);
	errno = saved;
	return -1;
}

int
idx_close(struct idx **ixp)
{
	struct idx *ix = *ixp;
	int ret;

	if (ix == NULL)
		return 0;
	*ixp = NULL;
	if (ix->txn != NULL)
		idx_abort(ix);
	ret = dbs_checkpoint_close(&ix->env, &ix->db, ix->home);
	if (ret == 0 && !ix->damaged && dbs_lock_mark(ix->lockfd, 1) == -1)
		log_warn("index: %s: lock file", ix->home);
	close(ix->lockfd);	/* releases the flock */
	free(ix);
	if (ret == -1)
		errno = EIO;
	return ret;
}

/* ---- transactions ---- */

/* Notes a DB failure: a real one (not "not found") keeps the index dirty,
 * so the next opener recovers and verifies it. Returns -1 with errno set. */
static int
db_fail(struct idx *ix, const char *what, int r)
{
	log_warnx("index: %s: %s: %s", ix->home, what, db_strerror(r));
	if (!dbs_resource_error(r))
		ix->damaged = 1;
	if (ix->txn != NULL)
		ix->txn_err = 1;
	errno = db_errno(r);
	return -1;
}

int
idx_begin(struct idx *ix)
{
	int r;

	if (ix->txn != NULL) {
		errno = EINVAL;
		return -1;
	}
	if ((r = ix->env->txn_begin(ix->env, NULL, &ix->txn, 0)) != 0) {
		ix->txn = NULL;
		return db_fail(ix, "txn_begin", r);
	}
	ix->txn_err = 0;
	return 0;
}

int
idx_commit(struct idx *ix)
{
	DB_TXN *t = ix->txn;
	int r;

	if (t == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (ix->txn_err) {
		idx_abort(ix);
		errno = EIO;
		return -1;
	}
	ix->txn = NULL;
	if ((r = t->commit(t, 0)) != 0)
		return db_fail(ix, "commit", r);
	return 0;
}

void
idx_abort(struct idx *ix)
{
	DB_TXN *t = ix->txn;
	int r;

	if (t == NULL)
		return;
	ix->txn = NULL;
	ix->txn_err = 0;
	if ((r = t->abort(t)) != 0)
		db_fail(ix, "abort", r);
}

/* The caller's transaction, or a new one of our own (*own set). */
static int
txn_get(struct idx *ix, DB_TXN **t, int *own)
{
	int r;

	*own = ix->txn == NULL;
	if (!*own) {
		*t = ix->txn;
		return 0;
	}
	if ((r = ix->env->txn_begin(ix->env, NULL, t, 0)) != 0)
		return db_fail(ix, "txn_begin", r);
	return 0;
}

static int
txn_done(struct idx *ix, DB_TXN *t, int own, int ok)
{
	int r;

	if (!own)
		return ok ? 0 : -1;
	if (!ok) {
		t->abort(t);
		return -1;
	}
	if ((r = t->commit(t, 0)) != 0)
		return db_fail(ix, "commit", r);
	return 0;
}

/* ---- records ---- */

static int
key_of(const char *name, DBT *k)
{
	size_t n = uniq_len(name);

	memset(k, 0, sizeof(*k));
	if (n == 0 || n >= IDX_NAME_MAX) {
		errno = EINVAL;
		return -1;
	}
	k->data = (void *)name;
	k->size = (u_int32_t)n;
	return 0;
}

/* 0 found (decoded into r), 1 absent or undecodable (*junk set), else a DB code. */
static int
get_rec(struct idx *ix, DB_TXN *t, DBT *k, struct idx_rec *r, int *junk,
    u_int32_t flags)
{
	DBT d;
	int ret;

	*junk = 0;
	memset(&d, 0, sizeof(d));
	d.flags = DB_DBT_MALLOC;	/* DBT data: owned copy, not NUL-terminated */
	ret = ix->db->get(ix->db, t, k, &d, flags);
	if (ret == DB_NOTFOUND)
		return 1;
	if (ret != 0)
		return ret;
	if (idx_rec_decode(d.data, d.size, r) == -1) {
		char kb[LOG_TEXT_MAX + 8];

		log_warnx("index: %s: bad record for %s", ix->home,
		    printable(k->data, k->size, kb, sizeof(kb)));
		*junk = 1;
		ret = 1;
	}
	free(d.data);
	return ret;
}

/* put inside transaction t: record plus the meta counts. */
static int
put_in(struct idx *ix, DB_TXN *t, const struct idx_rec *in)
{
	struct idx_rec old, rec;
	unsigned char buf[IDX_REC_MAX];
	struct meta m;
	DBT k, d;
	int len, r, junk;

	rec = *in;
	if (strnlen(rec.name, sizeof(rec.name)) == sizeof(rec.name) ||
	    key_of(rec.name, &k) == -1) {
		errno = EINVAL;
		return -1;
	}
	maildir_uidl(rec.name, rec.uidl);
	if ((len = idx_rec_encode(&rec, buf, sizeof(buf))) == -1) {
		errno = EINVAL;
		return -1;
	}
	if ((r = get_meta(ix, t, &m, DB_RMW)) != 0)
		return db_fail(ix, "get meta", r);
	r = get_rec(ix, t, &k, &old, &junk, DB_RMW);
	if (r == 0) {
		m.wsize -= m.wsize >= old.wsize ? old.wsize : m.wsize;
	} else if (r == 1) {
		if (!junk)
			m.count++;
	} else
		return db_fail(ix, "get", r);
	m.wsize += rec.wsize;
	memset(&d, 0, sizeof(d));
	d.data = buf;
	d.size = (u_int32_t)len;
	if ((r = ix->db->put(ix->db, t, &k, &d, 0)) != 0)
		return db_fail(ix, "put", r);
	if ((r = put_meta(ix, t, &m)) != 0)
		return db_fail(ix, "put meta", r);
	return 0;
}

static int
del_in(struct idx *ix, DB_TXN *t, DBT *k)
{
	struct idx_rec old;
	struct meta m;
	int r, junk;

	if ((r = get_meta(ix, t, &m, DB_RMW)) != 0)
		return db_fail(ix, "get meta", r);
	r = get_rec(ix, t, k, &old, &junk, DB_RMW);
	if (r != 0 && r != 1)
		return db_fail(ix, "get", r);
	if (r == 1 && !junk)
		return 1;
	if ((r = ix->db->del(ix->db, t, k, 0)) != 0)
		return db_fail(ix, "del", r);
	if (!junk) {
		m.count -= m.count > 0;
		m.wsize -= m.wsize >= old.wsize ? old.wsize : m.wsize;
		if ((r = put_meta(ix, t, &m)) != 0)
			return db_fail(ix, "put meta", r);
	}
	return 0;
}

int
idx_put(struct idx *ix, const struct idx_rec *rec)
{
	DB_TXN *t;
	int own;

	if (txn_get(ix, &t, &own) == -1)
		return -1;
	return txn_done(ix, t, own, put_in(ix, t, rec) == 0);
}

int
idx_get(struct idx *ix, const char *name, struct idx_rec *rec)
{
	DBT k;
	int r, junk;

	if (key_of(name, &k) == -1)
		return -1;
	r = get_rec(ix, ix->txn, &k, rec, &junk, 0);
	if (r == 0 || r == 1)
		return r;
	return db_fail(ix, "get", r);
}

int
idx_del(struct idx *ix, const char *name)
{
	DB_TXN *t;
	DBT k;
	int own, r, ret;

	if (key_of(name, &k) == -1)
		return -1;
	if (txn_get(ix, &t, &own) == -1)
		return -1;
	r = del_in(ix, t, &k);
	ret = txn_done(ix, t, own, r != -1);
	return ret == -1 ? -1 : r;
}

int
idx_undo(const char *maildir, const char *name)
{
	struct idx *ix;

	if (maildir_undo(maildir, name) == -1)
		return -1;
	if (idx_open(&ix, maildir, 0) == -1) {
		if (errno != ENOENT)
			log_warn("maildir: %s: index not updated", pr(maildir));
		return 0;
	}
	if (idx_del(ix, name) == -1)
		log_warn("maildir: %s: index not updated", pr(maildir));
	idx_close(&ix);
	return 0;
}

int
idx_count(struct idx *ix, uint64_t *count, uint64_t *wsize)
{
	struct meta m;
	int r;

	if ((r = get_meta(ix, ix->txn, &m, 0)) != 0)
		return db_fail(ix, "get meta", r);
	if (count != NULL)
		*count = m.count;
	if (wsize != NULL)
		*wsize = m.wsize;
	return 0;
}

/* ---- iteration ---- */

struct ent {
	int64_t	 arrival;
	char	*name;	/* owned */
	uint8_t	 dir;
	int	 seen;
};

/*
 * Reads every record with a cursor and calls fn(rec, arg) for each; a
 * record that does not decode is passed with rec == NULL and the raw key.
 */
#define SCAN_BULK	(1024 * 1024)	/* bulk read buffer, a multiple of 1024 */

static int
scan_db(struct idx *ix, int (*fn)(struct idx *, const DBT *, const DBT *,
    const struct idx_rec *, void *), void *arg)
{
	struct idx_rec *rec = xmalloc(sizeof(*rec));
	void *bulk = xmalloc(SCAN_BULK), *p, *kp, *dp;
	u_int32_t klen, dlen;
	DBC *c;
	DBT k, d, kk, dd;
	int r, ret = 0;

	if ((r = ix->db->cursor(ix->db, ix->txn, &c, 0)) != 0) {
		free(rec);
		free(bulk);
		return db_fail(ix, "cursor", r);
	}
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	memset(&kk, 0, sizeof(kk));
	memset(&dd, 0, sizeof(dd));
	d.data = bulk;
	d.ulen = SCAN_BULK;
	d.flags = DB_DBT_USERMEM;
	/* bulk reads: Berkeley DB's per-call cursor and lock overhead was
	 * as large as the decoding of a record */
	while (ret == 0 && (r = c->get(c, &k, &d, DB_NEXT |
	    DB_MULTIPLE_KEY)) == 0) {
		DB_MULTIPLE_INIT(p, &d);
		for (;;) {
			DB_MULTIPLE_KEY_NEXT(p, &d, kp, klen, dp, dlen);
			if (p == NULL)
				break;
			kk.data = kp;
			kk.size = klen;
			dd.data = dp;
			dd.size = dlen;
			if (klen == META_KEYLEN && memcmp(kp, meta_key,
			    META_KEYLEN) == 0)
				continue;
			if (idx_rec_decode(dp, dlen, rec) == -1) {
				log_warnx("index: %s: undecodable record",
				    ix->home);
				if ((ret = fn(ix, &kk, &dd, NULL, arg)) != 0)
					break;
				continue;
			}
			if ((ret = fn(ix, &kk, &dd, rec, arg)) != 0)
				break;
		}
	}
	if (ret == 0 && r != 0 && r != DB_NOTFOUND)
		ret = db_fail(ix, "cursor get", r);
	c->close(c);
	free(rec);
	free(bulk);
	return ret;
}

struct entlist {
	struct ent *v;
	size_t	 n, cap;
};

static void
ent_add(struct entlist *l, const char *name, uint8_t dir, int64_t arrival)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	l->v[l->n].name = xstrdup(name);
	l->v[l->n].dir = dir;
	l->v[l->n].arrival = arrival;
	l->v[l->n].seen = 0;
	l->n++;
}

static void
ent_free(struct entlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

/*
 * Arrival order needs a sort: the key order is the names'. One cursor pass
 * copies every record's bytes into large chunks (no allocation per record:
 * a 100k-message login spent a fifth of its time faulting in small
 * allocations), they are sorted by arrival then name, and decoded in order:
 * no second lookup per record.
 */
#define ITER_CHUNK	(1024 * 1024)

struct iter_ent {
	int64_t		 arrival;
	const unsigned char *raw;	/* in a chunk; the name is at REC_NAME_OFF */
	size_t		 len, namelen;
};

struct iter_list {
	struct iter_ent	*v;
	size_t		 n, cap;
	unsigned char	**chunks;	/* each ITER_CHUNK bytes (or one record) */
	size_t		 nchunks, used;	/* used: of the last chunk */
	int		 unsorted;	/* key order differed from arrival order */
};

/* The record layout (idx_rec_encode): 30 fixed bytes, then the name's
 * 2-byte length and bytes. */
#define REC_NAME_OFF	32

static int
cmp_iter(const void *a, const void *b)
{
	const struct iter_ent *x = a, *y = b;
	size_t n = x->namelen < y->namelen ? x->namelen : y->namelen;
	int c;

	if (x->arrival != y->arrival)
		return x->arrival < y->arrival ? -1 : 1;
	if ((c = memcmp(x->raw + REC_NAME_OFF, y->raw + REC_NAME_OFF, n)) != 0)
		return c;
	return x->namelen < y->namelen ? -1 : x->namelen > y->namelen;
}

/* Room for len bytes in the chunks. */
static unsigned char *
iter_room(struct iter_list *l, size_t len)
{
	unsigned char *p;

	if (l->nchunks == 0 || ITER_CHUNK - l->used < len) {
		l->chunks = xreallocarray(l->chunks, l->nchunks + 1,
		    sizeof(*l->chunks));
		l->chunks[l->nchunks++] = xmalloc(len > ITER_CHUNK ? len :
		    ITER_CHUNK);
		l->used = 0;
	}
	p = l->chunks[l->nchunks - 1] + l->used;
	l->used += len;
	return p;
}

/* scan_db callback: keeps each decodable record's bytes. */
static int
iter_cb(struct idx *ix, const DBT *k, const DBT *d, const struct idx_rec *rec,
    void *arg)
{
	struct iter_list *l = arg;
	unsigned char *raw;

	(void)ix;
	(void)k;
	if (rec == NULL)
		return 0;	/* undecodable: logged by scan_db */
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	raw = iter_room(l, d->size);
	memcpy(raw, d->data, d->size);
	l->v[l->n].arrival = rec->arrival;
	l->v[l->n].raw = raw;
	l->v[l->n].len = d->size;
	l->v[l->n].namelen = strlen(rec->name);	/* decoded: it is there */
	/* names start with the delivery time, so usually no sort is needed */
	if (l->n > 0 && cmp_iter(&l->v[l->n - 1], &l->v[l->n]) > 0)
		l->unsorted = 1;
	l->n++;
	return 0;
}

int
idx_iter(struct idx *ix, int (*fn)(const struct idx_rec *, void *), void *arg)
{
	struct iter_list l;
	struct idx_rec *rec;
	size_t i;
	int ret;

	memset(&l, 0, sizeof(l));
	ret = scan_db(ix, iter_cb, &l);
	if (ret == 0 && l.unsorted)
		qsort(l.v, l.n, sizeof(*l.v), cmp_iter);
	rec = xmalloc(sizeof(*rec));
	for (i = 0; i < l.n && ret == 0; i++)
		if (rec_decode(l.v[i].raw, l.v[i].len, rec, 0) == 0)
			ret = fn(rec, arg);
	for (i = 0; i < l.nchunks; i++)
		free(l.chunks[i]);
	free(l.chunks);
	free(l.v);
	free(rec);
	return ret;
}

/* ---- sync ---- */

static int
cmp_key(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;
	size_t nx = uniq_len(x->name), ny = uniq_len(y->name);
	int c = memcmp(x->name, y->name, nx < ny ? nx : ny);

	if (c != 0)
		return c;
	return nx < ny ? -1 : nx > ny;
}

static int
cmp_key_dir(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;
	int c = cmp_key(a, b);

	return c != 0 ? c : (int)x->dir - (int)y->dir;
}

static struct ent *
ent_find(struct entlist *l, const void *key, size_t len)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2, n = uniq_len(l->v[mid].name);
		int c = memcmp(l->v[mid].name, key, n < len ? n : len);

		if (c == 0)
			c = n < len ? -1 : n > len;
		if (c == 0)
			return &l->v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Lists regular, non-dot files of maildir/sub into l. */
static int
list_dir(int mfd, const char *sub, uint8_t dir, struct entlist *l)
{
	struct stat st;
	struct dirent *de;
	DIR *d;
	int fd;

	if ((fd = openat(mfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (strlen(de->d_name) >= IDX_NAME_MAX ||
		    uniq_len(de->d_name) == 0)
			continue;
		if (de->d_type != DT_REG) {
			if (de->d_type != DT_UNKNOWN && de->d_type != DT_LNK)
				continue;
			if (fstatat(fd, de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(st.st_mode))
				continue;
		}
		ent_add(l, de->d_name, dir, 0);
	}
	if (errno != 0) {
		closedir(d);
		return -1;
	}
	closedir(d);
	return 0;
}

struct sync_state {
	struct entlist	 files;
	int		 scanned[2];
	char		**dels;		/* keys (unique parts) to delete */
	size_t		 ndels, capdels;
};

static int
sync_cb(struct idx *ix, const DBT *k, const DBT *d, const struct idx_rec *rec,
    void *arg)
{
	struct sync_state *s = arg;
	struct ent *e;

	(void)d;
	(void)ix;
	if (rec != NULL && !s->scanned[rec->dir])
		return 0;
	e = ent_find(&s->files, k->data, k->size);
	if (rec != NULL && e != NULL)
		return 0;
	/* vanished, or undecodable: drop it (re-added below if the file is there) */
	if (s->ndels == s->capdels) {
		s->capdels = s->capdels ? s->capdels * 2 : 64;
		s->dels = xreallocarray(s->dels, s->capdels, sizeof(*s->dels));
	}
	s->dels[s->ndels++] = xstrndup(k->data, k->size);
	return 0;
}

static int64_t
mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

/* Commits the batch transaction every SYNC_BATCH operations. */
static int
sync_step(struct idx *ix, DB_TXN **t, unsigned *ops, unsigned *batches)
{
	int r;

	if (*t != NULL && ++*ops < SYNC_BATCH)
		return 0;
	if (*t != NULL) {
		r = (*t)->commit(*t, 0);
		*t = NULL;
		if (r != 0)
			return db_fail(ix, "commit", r);
		if (++*batches % SYNC_CKP == 0)
			ix->env->txn_checkpoint(ix->env, 0, 0, 0);
	}
	*ops = 0;
	if ((r = ix->env->txn_begin(ix->env, NULL, t, 0)) != 0) {
		*t = NULL;
		return db_fail(ix, "txn_begin", r);
	}
	return 0;
}

/* Recounts count and wsize from the records (a full sync's repair). */
static int
recount_cb(struct idx *ix, const DBT *k, const DBT *d, const struct idx_rec *rec,
    void *arg)
{
	struct meta *m = arg;

	(void)d;
	(void)ix;
	(void)k;
	if (rec != NULL) {
		m->count++;
		m->wsize += rec->wsize;
	}
	return 0;
}

int
idx_sync(struct idx *ix, const char *maildir, int flags, unsigned *added,
    unsigned *removed)
{
	static const char *const subs[2] = { "new", "cur" };
	struct sync_state s;
	struct idx_rec *rec = NULL;
	struct meta m, m2;
	struct stat st[2];
	struct timespec now;
	DB_TXN *t = NULL;
	DBT k;
	unsigned nadd = 0, nrem = 0, ops = 0, batches = 0;
	size_t i;
	int mfd = -1, sfd[2] = { -1, -1 }, ret = -1, r, d, saved;

	if (added != NULL)
		*added = 0;
	if (removed != NULL)
		*removed = 0;
	if (ix->txn != NULL) {
		errno = EINVAL;
		return -1;
	}
	memset(&s, 0, sizeof(s));
	if ((r = get_meta(ix, NULL, &m, 0)) != 0)
		return db_fail(ix, "get meta", r);
	if ((mfd = open(maildir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		goto out;
	/* stat before reading: a change during the scan leaves a newer mtime */
	for (d = 0; d < 2; d++) {
		if ((sfd[d] = openat(mfd, subs[d], O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC)) == -1 || fstat(sfd[d], &st[d]) == -1)
			goto out;
		s.scanned[d] = (flags & IDX_SYNC_FULL) || m.mtime[d] == 0 ||
		    m.mtime[d] != mtime_ns(&st[d]);
		if (s.scanned[d] && list_dir(mfd, subs[d], (uint8_t)d,
		    &s.files) == -1)
			goto out;
	}
	/*
	 * Neither directory changed since the last sync (an entry created,
	 * removed or renamed changes its mtime; a too recent mtime was never
	 * stored): nothing to read and nothing to write.
	 */
	if (!s.scanned[0] && !s.scanned[1]) {
		ret = 0;
		goto out;
	}
	if (s.files.n > 1)
		qsort(s.files.v, s.files.n, sizeof(*s.files.v), cmp_key_dir);
	/* the same unique part twice (new/ and cur/): keep the later one (cur/) */
	for (i = 1; i < s.files.n; i++) {
		if (cmp_key(&s.files.v[i - 1], &s.files.v[i]) != 0)
			continue;
		log_warnx("index: %s: %s in new/ and cur/, indexing cur/",
		    maildir, pr(s.files.v[i].name));
		s.files.v[i - 1].seen = 1;	/* ignored below */
	}
	if (scan_db(ix, sync_cb, &s) == -1)
		goto out;
	for (i = 0; i < s.ndels; i++) {
		if (sync_step(ix, &t, &ops, &batches) == -1)
			goto out;
		memset(&k, 0, sizeof(k));
		k.data = s.dels[i];
		k.size = (u_int32_t)strlen(s.dels[i]);
		if ((r = del_in(ix, t, &k)) == -1)
			goto out;
		nrem += r == 0;
	}
	rec = xmalloc(sizeof(*rec));
	for (i = 0; i < s.files.n; i++) {
		struct ent *e = &s.files.v[i];
		int junk;

		if (e->seen)
			continue;
		if (sync_step(ix, &t, &ops, &batches) == -1)
			goto out;
		key_of(e->name, &k);
		r = get_rec(ix, t, &k, rec, &junk, 0);
		if (r != 0 && r != 1) {
			db_fail(ix, "get", r);
			goto out;
		}
		if (r == 0) {
			if (rec->dir == e->dir && strcmp(rec->name, e->name) == 0)
				continue;
			/* renamed: flags changed or moved new/ -> cur/ */
			str_copy(rec->name, sizeof(rec->name), e->name);
			rec->dir = e->dir;
		} else {
			memset(rec, 0, sizeof(*rec));
			r = maildir_index_file(sfd[e->dir], e->name, e->dir, rec);
			if (r == 1)
				continue;
			if (r == -1) {
				log_warn("index: %s: %s/%s", maildir,
				    subs[e->dir], pr(e->name));
				continue;
			}
			nadd++;
		}
		if (put_in(ix, t, rec) == -1)
			goto out;
	}
	if (sync_step(ix, &t, &ops, &batches) == -1)
		goto out;
	if ((r = get_meta(ix, t, &m2, DB_RMW)) != 0) {
		db_fail(ix, "get meta", r);
		goto out;
	}
	if (flags & IDX_SYNC_FULL) {
		struct meta c;
		DB_TXN *keep = ix->txn;

		memset(&c, 0, sizeof(c));
		ix->txn = t;	/* the cursor reads inside the batch */
		r = scan_db(ix, recount_cb, &c);
		ix->txn = keep;
		if (r == -1)
			goto out;
		if (c.count != m2.count || c.wsize != m2.wsize)
			log_warnx("index: %s: counts repaired", maildir);
		m2.count = c.count;
		m2.wsize = c.wsize;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	for (d = 0; d < 2; d++) {
		int64_t mt = mtime_ns(&st[d]);
		int64_t nw = (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;

		m2.mtime[d] = nw - mt > MTIME_SETTLE ? mt : 0;
	}
	if ((r = put_meta(ix, t, &m2)) != 0) {
		db_fail(ix, "put meta", r);
		goto out;
	}
	r = t->commit(t, 0);
	t = NULL;
	if (r != 0) {
		db_fail(ix, "commit", r);
		goto out;
	}
	if (batches > 0)
		ix->env->txn_checkpoint(ix->env, 0, 0, 0);
	if (added != NULL)
		*added = nadd;
	if (removed != NULL)
		*removed = nrem;
	ret = 0;
out:
	saved = errno;
	if (t != NULL)
		t->abort(t);
	free(rec);
	for (i = 0; i < s.ndels; i++)
		free(s.dels[i]);
	free(s.dels);
	ent_free(&s.files);
	for (d = 0; d < 2; d++)
		if (sfd[d] != -1)
			close(sfd[d]);
	if (mfd != -1)
		close(mfd);
	errno = saved;
	return ret;
}
