/*
 * index.c - the Berkeley DB index of one Maildir (see index.h, DESIGN.md
 * "Berkeley DB index"), a store (store.h): MAILDIR/inetmail/ holds `lock`
 * (flock, exclusive, held from idx_open to idx_close), the log files of a
 * private transactional environment, and index.db: a BTREE keyed by the unique part
 * of each file name, plus one meta record (key "\0meta", never a unique
 * part) with count, total wsize and the new/ and cur/ mtimes for idx_sync.
 *
 * The lock file also carries a clean-shutdown flag: "dirty" while open,
 * "clean <boot_id>" after checkpoint and close. Recovery runs when it is not
 * clean for this boot; then index.db is also verified. A damaged index is
 * moved aside and recreated empty: the Maildir is the truth and the caller's
 * idx_sync refills it (a fresh index has no stored mtimes, so it is full).
 */
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

#include "index.h"
#include "log.h"
#include "maildir.h"
#include "store.h"
#include "util.h"

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
	struct store *s;	/* home/index.db; idx_begin's transaction */
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

int
idx_is_meta_key(const void *key, size_t len)
{
	return len == META_KEYLEN && memcmp(key, meta_key, META_KEYLEN) == 0;
}

int
idx_meta_decode(const void *buf, size_t len, uint64_t *count,
    uint64_t *wsize)
{
	struct meta m;

	if (meta_decode(buf, len, &m) == -1)
		return -1;
	*count = m.count;
	*wsize = m.wsize;
	return 0;
}

/* ---- unique parts ---- */

static size_t
uniq_len(const char *name)
{
	return strcspn(name, ":,");
}

size_t
idx_key_len(const char *name)
{
	return uniq_len(name);
}

/* ---- the store ---- */

/* The meta record, in the store's transaction (zero when absent or bad). */
static int
get_meta(struct idx *ix, struct meta *m, int flags)
{
	void *v;
	size_t len;
	int r;

	memset(m, 0, sizeof(*m));
	if ((r = store_get(ix->s, meta_key, META_KEYLEN, &v, &len, flags)) != 0)
		return r == 1 ? 0 : -1;
	r = meta_decode(v, len, m);
	free(v);
	if (r == -1) {
		log_warnx("index: %s: bad meta record, counts reset", ix->home);
		memset(m, 0, sizeof(*m));
	}
	return 0;
}

static int
put_meta(struct idx *ix, const struct meta *m)
{
	unsigned char buf[META_LEN];

	meta_encode(m, buf);
	return store_put(ix->s, meta_key, META_KEYLEN, buf, sizeof(buf), 0);
}

/*
 * Recovery and verify only when the lock file does not say clean for this
 * boot; every open checks that index.db is whole pages and its first
 * record (the meta record) reads. A damaged index is set aside and
 * recreated empty: the Maildir is the truth.
 */
int
idx_open(struct idx **ixp, const char *maildir, int flags)
{
	struct idx *ix;
	int saved;

	*ixp = NULL;
	ix = xcalloc(1, sizeof(*ix));
	if (str_fmt(ix->home, sizeof(ix->home), "%s/%s", maildir,
	    IDX_DIRNAME) == -1) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	if ((ix->s = store_open(ix->home, IDX_DB, "index", STORE_DISCARD |
	    STORE_CHECK | ((flags & IDX_CREATE) ? STORE_CREATE : 0),
	    "rebuilding from the Maildir")) == NULL)
		goto fail;
	*ixp = ix;
	return 0;
fail:
	saved = errno;
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
	ret = store_close(&ix->s);	/* aborts an open transaction */
	free(ix);
	return ret;
}

/* ---- transactions ---- */

int
idx_begin(struct idx *ix)
{
	return store_begin(ix->s);
}

int
idx_commit(struct idx *ix)
{
	return store_commit(ix->s);
}

void
idx_abort(struct idx *ix)
{
	store_abort(ix->s);
}

/* The caller's transaction, or a new one of our own (*own set). */
static int
txn_get(struct idx *ix, int *own)
{
	*own = !store_in_txn(ix->s);
	return *own ? store_begin(ix->s) : 0;
}

static int
txn_done(struct idx *ix, int own, int ok)
{
	if (!own)
		return ok ? 0 : -1;
	if (!ok) {
		store_abort(ix->s);
		return -1;
	}
	return store_commit(ix->s);
}

/* ---- records ---- */

/* The key of name: its unique part. */
static int
key_of(const char *name, size_t *klen)
{
	size_t n = uniq_len(name);

	if (n == 0 || n >= IDX_NAME_MAX) {
		errno = EINVAL;
		return -1;
	}
	*klen = n;
	return 0;
}

/* 0 found (decoded into r), 1 absent or undecodable (*junk set), -1 error. */
static int
get_rec(struct idx *ix, const void *key, size_t klen, struct idx_rec *r,
    int *junk, int flags)
{
	void *v;
	size_t len;
	int ret;

	*junk = 0;
	/* an owned copy: DBT data is not NUL-terminated */
	if ((ret = store_get(ix->s, key, klen, &v, &len, flags)) != 0)
		return ret;
	if (idx_rec_decode(v, len, r) == -1) {
		char kb[LOG_TEXT_MAX + 8];

		log_warnx("index: %s: bad record for %s", ix->home,
		    printable(key, klen, kb, sizeof(kb)));
		*junk = 1;
		ret = 1;
	}
	free(v);
	return ret;
}

/* put inside the transaction: record plus the meta counts. */
static int
put_in(struct idx *ix, const struct idx_rec *in)
{
	struct idx_rec old, rec;
	unsigned char buf[IDX_REC_MAX];
	struct meta m;
	size_t klen;
	int len, r, junk;

	rec = *in;
	if (strnlen(rec.name, sizeof(rec.name)) == sizeof(rec.name) ||
	    key_of(rec.name, &klen) == -1) {
		errno = EINVAL;
		return -1;
	}
	maildir_uidl(rec.name, rec.uidl);
	if ((len = idx_rec_encode(&rec, buf, sizeof(buf))) == -1) {
		errno = EINVAL;
		return -1;
	}
	if (get_meta(ix, &m, STORE_RMW) == -1)
		return -1;
	r = get_rec(ix, rec.name, klen, &old, &junk, STORE_RMW);
	if (r == 0) {
		m.wsize -= m.wsize >= old.wsize ? old.wsize : m.wsize;
	} else if (r == 1) {
		if (!junk)
			m.count++;
	} else
		return -1;
	m.wsize += rec.wsize;
	if (store_put(ix->s, rec.name, klen, buf, (size_t)len, 0) == -1 ||
	    put_meta(ix, &m) == -1)
		return -1;
	return 0;
}

/* del inside the transaction: 0 deleted, 1 absent, -1 error. */
static int
del_in(struct idx *ix, const void *key, size_t klen)
{
	struct idx_rec old;
	struct meta m;
	int r, junk;

	if (get_meta(ix, &m, STORE_RMW) == -1)
		return -1;
	r = get_rec(ix, key, klen, &old, &junk, STORE_RMW);
	if (r == -1)
		return -1;
	if (r == 1 && !junk)
		return 1;
	if (store_del(ix->s, key, klen) == -1)
		return -1;
	if (!junk) {
		m.count -= m.count > 0;
		m.wsize -= m.wsize >= old.wsize ? old.wsize : m.wsize;
		if (put_meta(ix, &m) == -1)
			return -1;
	}
	return 0;
}

int
idx_put(struct idx *ix, const struct idx_rec *rec)
{
	int own;

	if (txn_get(ix, &own) == -1)
		return -1;
	return txn_done(ix, own, put_in(ix, rec) == 0);
}

int
idx_get(struct idx *ix, const char *name, struct idx_rec *rec)
{
	size_t klen;
	int junk;

	if (key_of(name, &klen) == -1)
		return -1;
	return get_rec(ix, name, klen, rec, &junk, 0);
}

int
idx_del(struct idx *ix, const char *name)
{
	size_t klen;
	int own, r, ret;

	if (key_of(name, &klen) == -1)
		return -1;
	if (txn_get(ix, &own) == -1)
		return -1;
	r = del_in(ix, name, klen);
	ret = txn_done(ix, own, r != -1);
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

	if (get_meta(ix, &m, 0) == -1)
		return -1;
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
 * Reads every record (bulk reads, in the store's transaction) and calls
 * fn(ix, key, klen, val, vlen, rec, arg) for each but the meta record; a
 * record that does not decode is passed with rec == NULL.
 */
typedef int scan_fn(struct idx *, const void *, size_t, const void *, size_t,
    const struct idx_rec *, void *);

struct scan_args {
	struct idx	*ix;
	scan_fn		*fn;
	void		*arg;
	struct idx_rec	*rec;
	int		 ret;
};

static int
scan_one(const void *k, size_t klen, const void *v, size_t vlen, void *arg)
{
	struct scan_args *a = arg;
	const struct idx_rec *rec = a->rec;

	if (klen == META_KEYLEN && memcmp(k, meta_key, META_KEYLEN) == 0)
		return STORE_NEXT;
	if (idx_rec_decode(v, vlen, a->rec) == -1) {
		log_warnx("index: %s: undecodable record", a->ix->home);
		rec = NULL;
	}
	a->ret = a->fn(a->ix, k, klen, v, vlen, rec, a->arg);
	return a->ret != 0 ? STORE_STOP : STORE_NEXT;
}

static int
scan_db(struct idx *ix, scan_fn *fn, void *arg)
{
	struct scan_args a = { ix, fn, arg, xmalloc(sizeof(*a.rec)), 0 };
	int r;

	r = store_walk(ix->s, STORE_BULK, scan_one, &a);
	free(a.rec);
	return r == -1 ? -1 : a.ret;
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
#ifndef ITER_CHUNK	/* tests/unit/test_index_chunk.c sets a small one */
#define ITER_CHUNK	(1024 * 1024)
#endif

struct iter_ent {
	int64_t		 arrival;
	const unsigned char *raw;	/* in a chunk; the name is at REC_NAME_OFF */
	size_t		 len, namelen;
};

struct iter_list {
	struct iter_ent	*v;
	size_t		 n, cap;
	unsigned char	**chunks;	/* each ITER_CHUNK bytes (or one record) */
	size_t		 nchunks;
	size_t		 size, room;	/* of the last chunk: bytes, free bytes */
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

/*
 * Room for len bytes in the chunks. Counts the free bytes left, never
 * ITER_CHUNK minus the bytes used: a record longer than ITER_CHUNK gets a
 * chunk of its own with no room left, whatever the record cap (rec_decode's
 * IDX_REC_MAX) is.
 */
static unsigned char *
iter_room(struct iter_list *l, size_t len)
{
	unsigned char *p;

	if (l->nchunks == 0 || len > l->room) {
		l->size = len > ITER_CHUNK ? len : ITER_CHUNK;
		l->chunks = xreallocarray(l->chunks, l->nchunks + 1,
		    sizeof(*l->chunks));
		l->chunks[l->nchunks++] = xmalloc(l->size);
		l->room = l->size;
	}
	p = l->chunks[l->nchunks - 1] + (l->size - l->room);	/* room <= size */
	l->room -= len;		/* len <= room */
	return p;
}

/* scan_db callback: keeps each decodable record's bytes. */
static int
iter_cb(struct idx *ix, const void *k, size_t klen, const void *d,
    size_t dlen, const struct idx_rec *rec, void *arg)
{
	struct iter_list *l = arg;
	unsigned char *raw;

	(void)ix;
	(void)k;
	(void)klen;
	if (rec == NULL)
		return 0;	/* undecodable: logged by scan_db */
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	raw = iter_room(l, dlen);
	memcpy(raw, d, dlen);
	l->v[l->n].arrival = rec->arrival;
	l->v[l->n].raw = raw;
	l->v[l->n].len = dlen;
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
sync_cb(struct idx *ix, const void *k, size_t klen, const void *d,
    size_t dlen, const struct idx_rec *rec, void *arg)
{
	struct sync_state *s = arg;
	struct ent *e;

	(void)d;
	(void)dlen;
	(void)ix;
	if (rec != NULL && !s->scanned[rec->dir])
		return 0;
	e = ent_find(&s->files, k, klen);
	if (rec != NULL && e != NULL)
		return 0;
	/* vanished, or undecodable: drop it (re-added below if the file is there) */
	if (s->ndels == s->capdels) {
		s->capdels = s->capdels ? s->capdels * 2 : 64;
		s->dels = xreallocarray(s->dels, s->capdels, sizeof(*s->dels));
	}
	s->dels[s->ndels++] = xstrndup(k, klen);
	return 0;
}

static int64_t
mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

/* Commits the batch transaction every SYNC_BATCH operations. */
static int
sync_step(struct idx *ix, unsigned *ops, unsigned *batches)
{
	int in = store_in_txn(ix->s);

	if (in && ++*ops < SYNC_BATCH)
		return 0;
	if (in) {
		if (store_commit(ix->s) == -1)
			return -1;
		if (++*batches % SYNC_CKP == 0)
			store_checkpoint(ix->s);
	}
	*ops = 0;
	return store_begin(ix->s);
}

/* Recounts count and wsize from the records (a full sync's repair). */
static int
recount_cb(struct idx *ix, const void *k, size_t klen, const void *d,
    size_t dlen, const struct idx_rec *rec, void *arg)
{
	struct meta *m = arg;

	(void)d;
	(void)dlen;
	(void)ix;
	(void)k;
	(void)klen;
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
	size_t klen;
	unsigned nadd = 0, nrem = 0, ops = 0, batches = 0;
	size_t i;
	int mfd = -1, sfd[2] = { -1, -1 }, ret = -1, r, d, saved;

	if (added != NULL)
		*added = 0;
	if (removed != NULL)
		*removed = 0;
	if (store_in_txn(ix->s)) {
		errno = EINVAL;
		return -1;
	}
	memset(&s, 0, sizeof(s));
	if (get_meta(ix, &m, 0) == -1)
		return -1;
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
		if (sync_step(ix, &ops, &batches) == -1)
			goto out;
		if ((r = del_in(ix, s.dels[i], strlen(s.dels[i]))) == -1)
			goto out;
		nrem += r == 0;
	}
	rec = xmalloc(sizeof(*rec));
	for (i = 0; i < s.files.n; i++) {
		struct ent *e = &s.files.v[i];
		int junk;

		if (e->seen)
			continue;
		if (sync_step(ix, &ops, &batches) == -1)
			goto out;
		if (key_of(e->name, &klen) == -1)
			continue;	/* list_dir left such names out */
		if ((r = get_rec(ix, e->name, klen, rec, &junk, 0)) == -1)
			goto out;
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
		if (put_in(ix, rec) == -1)
			goto out;
	}
	if (sync_step(ix, &ops, &batches) == -1)
		goto out;
	if (get_meta(ix, &m2, STORE_RMW) == -1)
		goto out;
	if (flags & IDX_SYNC_FULL) {
		struct meta c;

		memset(&c, 0, sizeof(c));
		/* the walk reads inside the batch */
		if (scan_db(ix, recount_cb, &c) == -1)
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
	if (put_meta(ix, &m2) == -1 || store_commit(ix->s) == -1)
		goto out;
	if (batches > 0)
		store_checkpoint(ix->s);
	if (added != NULL)
		*added = nadd;
	if (removed != NULL)
		*removed = nrem;
	ret = 0;
out:
	saved = errno;
	store_abort(ix->s);	/* the batch, if one is open */
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
