/*
 * index_check.c - the read-only look at a Maildir and its index (see
 * index_check.h): DB->verify and a DB_RDONLY cursor over index.db under a
 * shared index lock, a listing of new/ and cur/ (fstatat without following
 * links), and a comparison of the two sorted by key. It reports; it never
 * changes anything (the lock file is created if missing, as any opener
 * would). idx_mark_unclean is the one write: the clean flag, so that the
 * next idx_open recovers and verifies.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <db.h>

#include "index.h"
#include "index_check.h"
#include "log.h"
#include "maildir.h"
#include "store.h"
#include "util.h"

static const char *const subdir[2] = { "new", "cur" };
static const char *const state_name[] = { "ok", "none", "stale", "missing",
    "damaged" };

struct fent {			/* a message file in new/ or cur/ */
	char	*name;
	uint8_t	 dir;
	uint64_t size;		/* on disk */
	uint64_t wsize;		/* from ,W=, or UINT64_MAX */
	int64_t	 arrival;
};

struct rent {			/* an index record */
	char	*name;
	uint8_t	 dir;
	uint64_t size, wsize;
	int64_t	 arrival;
};

struct insp {
	int		 mfd;
	const char	*path;		/* the Maildir */
	uid_t		 owner;
	idx_problem_fn	 report;	/* or NULL */
	void		*arg;
	struct idx_report *rep;
	struct fent	*f;
	size_t		 nf, capf;
	struct rent	*r;
	size_t		 nr, capr;
	int		 have_meta;
	uint64_t	 meta_count, meta_wsize;
};

const char *
idx_state_name(enum idx_state s)
{
	return (unsigned)s < sizeof(state_name) / sizeof(state_name[0]) ?
	    state_name[s] : "?";
}

static void problem(struct insp *, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* One problem: "KIND DETAIL". */
static void
problem(struct insp *in, const char *kind, const char *fmt, ...)
{
	va_list ap;
	char *detail;
	int n;

	in->rep->problems++;
	if (in->report == NULL)
		return;
	va_start(ap, fmt);
	n = vasprintf(&detail, fmt, ap);
	va_end(ap);
	if (n == -1)
		fatalx("out of memory");
	in->report(kind, detail, in->arg);
	free(detail);
}

/* Worsens the index state (never improves it), keeping the first reason
 * given for the worst state. */
static void
set_state(struct insp *in, enum idx_state s, const char *why)
{
	if (s > in->rep->state) {
		in->rep->state = s;
		str_copy(in->rep->why, sizeof(in->rep->why), why);
	}
}

/* Owner and mode of something in the Maildir: the account's, nothing for
 * group and others. */
static void
check_owner_mode(struct insp *in, const struct stat *st, const char *what)
{
	if (st->st_uid != in->owner)
		problem(in, "bad-owner", "%s uid=%u (expected %u)", what,
		    (unsigned)st->st_uid, (unsigned)in->owner);
	if ((st->st_mode & 077) != 0)
		problem(in, "bad-mode", "%s mode=%04o (group/other access)",
		    what, (unsigned)(st->st_mode & 07777));
}

/* ---- index.db ---- */

static char db_msg[256];

static void
db_errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
	(void)env, (void)pfx;
	if (db_msg[0] == '\0')
		str_copy(db_msg, sizeof(db_msg), msg);
}

/*
 * DB->verify on path in a child process: Berkeley DB 5.3 can crash on some
 * garbage (seen: a double free), and a crash must read as "damaged", not
 * end the caller. Returns 0 when it verifies; else the first message is in
 * db_msg.
 */
static int
run_verify(const char *path)
{
	DB *db;
	pid_t pid;
	int pfd[2], status, r;
	ssize_t n;

	db_msg[0] = '\0';
	if (pipe2(pfd, O_CLOEXEC) == -1)
		fatal("pipe");
	fflush(stdout);
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		close(pfd[0]);
		if ((r = db_create(&db, NULL, 0)) != 0)
			_exit(1);
		db->set_errcall(db, db_errcall);
		r = db->verify(db, path, NULL, NULL, 0);	/* destroys db */
		if (r != 0 && db_msg[0] == '\0')
			str_copy(db_msg, sizeof(db_msg), db_strerror(r));
		write_all(pfd[1], db_msg, strlen(db_msg));
		_exit(r != 0);
	}
	close(pfd[1]);
	n = read(pfd[0], db_msg, sizeof(db_msg) - 1);
	db_msg[n > 0 ? n : 0] = '\0';
	close(pfd[0]);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			fatal("waitpid");
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	str_fmt(db_msg, sizeof(db_msg), "DB->verify crashed (signal %d)",
	    WTERMSIG(status));
	return 1;
}

/* Keeps one record read from index.db (key k, value d), or reports it. */
static void
add_record(struct insp *in, const char *path, const DBT *k, const DBT *d,
    struct idx_rec *rec)
{
	char kb[LOG_TEXT_MAX + 8];

	if (idx_is_meta_key(k->data, k->size)) {
		if (idx_meta_decode(d->data, d->size, &in->meta_count,
		    &in->meta_wsize) == 0)
			in->have_meta = 1;
		else {
			problem(in, "bad-record", "%s: meta record", path);
			set_state(in, IDX_STATE_DAMAGED, "bad meta record");
		}
		return;
	}
	if (idx_rec_decode(d->data, d->size, rec) == -1 ||
	    idx_key_len(rec->name) != k->size ||
	    memcmp(rec->name, k->data, k->size) != 0) {
		problem(in, "bad-record", "%s: key %s", path,
		    printable(k->data, k->size, kb, sizeof(kb)));
		set_state(in, IDX_STATE_DAMAGED, "undecodable records");
		return;
	}
	if (in->nr == in->capr) {
		in->capr = in->capr ? in->capr * 2 : 256;
		in->r = xreallocarray(in->r, in->capr, sizeof(*in->r));
	}
	in->r[in->nr].name = xstrdup(rec->name);
	in->r[in->nr].dir = rec->dir;
	in->r[in->nr].size = rec->size;
	in->r[in->nr].wsize = rec->wsize;
	in->r[in->nr].arrival = rec->arrival;
	in->nr++;
}

/* Every record of the (verified) index.db at path, with a DB_RDONLY
 * cursor and no environment. */
static void
read_records(struct insp *in, const char *path)
{
	struct idx_rec *rec;
	DB *db = NULL;
	DBC *c = NULL;
	DBT k, d;
	int r;

	db_msg[0] = '\0';
	if ((r = db_create(&db, NULL, 0)) != 0)
		fatalx("db_create: %s", db_strerror(r));
	db->set_errcall(db, db_errcall);
	if ((r = db->open(db, NULL, path, NULL, DB_BTREE, DB_RDONLY, 0)) != 0 ||
	    (r = db->cursor(db, NULL, &c, 0)) != 0) {
		problem(in, "index-damaged", "%s: %s", path,
		    db_msg[0] ? db_msg : db_strerror(r));
		set_state(in, IDX_STATE_DAMAGED, "cannot open index.db");
		db->close(db, 0);
		return;
	}
	rec = xmalloc(sizeof(*rec));
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	while ((r = c->get(c, &k, &d, DB_NEXT)) == 0)
		add_record(in, path, &k, &d, rec);
	if (r != DB_NOTFOUND) {
		problem(in, "index-damaged", "%s: cursor: %s", path,
		    db_strerror(r));
		set_state(in, IDX_STATE_DAMAGED, "cannot read index.db");
	}
	free(rec);
	c->close(c);
	db->close(db, 0);
}

/*
 * index.db (st: its lstat) in the index directory open on dfd, under a
 * shared index lock: the clean flag, DB->verify, then every record.
 */
static void
read_locked(struct insp *in, int dfd, const char *dpath, const char *path,
    const struct stat *st)
{
	int lfd, clean;

	if ((lfd = openat(dfd, IDX_LOCK, O_RDWR | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1) {
		problem(in, "index-unreadable", "%s/%s: %s", dpath,
		    IDX_LOCK, strerror(errno));
		set_state(in, IDX_STATE_DAMAGED, "lock file unusable");
		return;
	}
	while (flock(lfd, LOCK_SH) == -1)
		if (errno != EINTR)
			break;
	clean = store_lock_says_clean(lfd);	/* from any boot */
	if (!clean) {
		problem(in, "index-unclean", "%s (not closed cleanly: the next "
		    "opener runs recovery)", path);
		set_state(in, IDX_STATE_STALE, "not closed cleanly");
	}
	if (st->st_size == 0) {
		problem(in, "index-damaged", "%s is empty", path);
		set_state(in, IDX_STATE_DAMAGED, "index.db is empty");
	} else if (run_verify(path) != 0) {
		problem(in, "index-damaged", "%s: Berkeley DB verify: %s%s", path,
		    db_msg[0] ? db_msg : "failed", clean ? "" :
		    " (not closed cleanly: recovery at the next open may repair it)");
		set_state(in, IDX_STATE_DAMAGED, "DB->verify failed");
	} else
		read_records(in, path);
	close(lfd);	/* releases the shared lock */
}

/* The index directory and index.db: there, real, the owner's. */
static void
read_index(struct insp *in)
{
	char dpath[4200], path[4300];
	struct stat st;
	int dfd;

	str_fmt(dpath, sizeof(dpath), "%s/%s", in->path, IDX_DIRNAME);
	if ((dfd = openat(in->mfd, IDX_DIRNAME, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			set_state(in, IDX_STATE_NONE, "not built yet; the first "
			    "reader builds it");
		else {
			problem(in, errno == ELOOP ? "symlink" : "bad-index-dir",
			    "%s: %s (not followed)", dpath, strerror(errno));
			set_state(in, IDX_STATE_DAMAGED,
			    "index directory unusable");
		}
		return;
	}
	if (fstat(dfd, &st) == 0)
		check_owner_mode(in, &st, dpath);
	str_fmt(path, sizeof(path), "%s/%s", dpath, IDX_DB);
	if (fstatat(dfd, IDX_DB, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT) {
			problem(in, "missing-index", "%s (the next opener "
			    "rebuilds it)", path);
			set_state(in, IDX_STATE_MISSING, "no index.db");
		} else {
			problem(in, "index-unreadable", "%s: %s", path,
			    strerror(errno));
			set_state(in, IDX_STATE_DAMAGED, "index.db unreadable");
		}
	} else if (!S_ISREG(st.st_mode)) {
		problem(in, S_ISLNK(st.st_mode) ? "symlink" : "not-a-file",
		    "%s (not followed)", path);
		set_state(in, IDX_STATE_DAMAGED,
		    "index.db is not a regular file");
	} else {
		check_owner_mode(in, &st, path);
		read_locked(in, dfd, dpath, path, &st);
	}
	close(dfd);
}

/* ---- new/ and cur/ ---- */

/* Looks at entry nm of new/ or cur/ (dir, open on fd; dpath its path):
 * a message file is added to in->f, anything else reported. */
static void
list_one(struct insp *in, int fd, int dir, const char *dpath, const char *nm)
{
	char fpath[4500], target[256], *end;
	struct stat st;
	uint64_t S, W;
	long long t;
	ssize_t n;

	str_fmt(fpath, sizeof(fpath), "%s/%s", dpath, pr(nm));
	if (fstatat(fd, nm, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno != ENOENT)
			problem(in, "unreadable", "%s: %s", fpath,
			    strerror(errno));
		return;
	}
	if (S_ISLNK(st.st_mode)) {
		n = readlinkat(fd, nm, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		problem(in, "symlink", "%s -> %s (not followed, not "
		    "served)", fpath, pr(target));
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		problem(in, "not-a-file", "%s", fpath);
		return;
	}
	if (strlen(nm) >= IDX_NAME_MAX || idx_key_len(nm) == 0) {
		problem(in, "bad-name", "%s (never indexed: %s)", fpath,
		    idx_key_len(nm) == 0 ? "no unique part" : "too long");
		return;
	}
	check_owner_mode(in, &st, fpath);
	maildir_name_sizes(nm, &S, &W);
	if (S != UINT64_MAX && S != (uint64_t)st.st_size)
		problem(in, "size-mismatch", "%s name S=%llu file=%llu",
		    fpath, (unsigned long long)S,
		    (unsigned long long)st.st_size);
	if (in->nf == in->capf) {
		in->capf = in->capf ? in->capf * 2 : 256;
		in->f = xreallocarray(in->f, in->capf, sizeof(*in->f));
	}
	in->f[in->nf].name = xstrdup(nm);
	in->f[in->nf].dir = (uint8_t)dir;
	in->f[in->nf].size = (uint64_t)st.st_size;
	in->f[in->nf].wsize = W;
	errno = 0;
	t = strtoll(nm, &end, 10);
	in->f[in->nf].arrival = (end != nm && *end == '.' &&
	    errno == 0 && t >= 0) ? t : (int64_t)st.st_mtim.tv_sec;
	in->nf++;
}

/* Lists new/ or cur/ (dir), reporting links, odd files, names, owners. */
static void
list_files(struct insp *in, int dir)
{
	char dpath[4200];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd;

	str_fmt(dpath, sizeof(dpath), "%s/%s", in->path, subdir[dir]);
	if ((fd = openat(in->mfd, subdir[dir], O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			problem(in, "missing-dir", "%s", dpath);
		else
			problem(in, errno == ELOOP ? "symlink" : "bad-dir",
			    "%s: %s (not followed)", dpath, strerror(errno));
		return;
	}
	if (fstat(fd, &st) == 0)
		check_owner_mode(in, &st, dpath);
	if ((d = fdopendir(fd)) == NULL) {
		problem(in, "bad-dir", "%s: %s", dpath, strerror(errno));
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')	/* hidden: no Maildir reader looks */
			list_one(in, fd, dir, dpath, de->d_name);
	closedir(d);
}

/* ---- records against files ---- */

static int
cmp_fkey(const char *a, const char *b)
{
	size_t na = idx_key_len(a), nb = idx_key_len(b);
	int c = memcmp(a, b, na < nb ? na : nb);

	if (c != 0)
		return c;
	return na < nb ? -1 : na > nb;
}

static int
cmp_fent(const void *a, const void *b)
{
	const struct fent *x = a, *y = b;
	int c = cmp_fkey(x->name, y->name);

	return c != 0 ? c : (int)x->dir - (int)y->dir;
}

static int
cmp_rent(const void *a, const void *b)
{
	return cmp_fkey(((const struct rent *)a)->name,
	    ((const struct rent *)b)->name);
}

/* A file and the record with its key: 1 when they differ. */
static int
compare_pair(struct insp *in, struct fent *f, const struct rent *r)
{
	const char *p = in->path;
	int stale = 0;

	if (r->dir != f->dir || strcmp(r->name, f->name) != 0) {
		problem(in, "stale-name", "%s index=%s/%s disk=%s/%s",
		    p, subdir[r->dir], pr(r->name),
		    subdir[f->dir], f->name);
		stale = 1;
	}
	if (r->size != f->size) {
		problem(in, "size-mismatch", "%s/%s/%s index=%llu "
		    "file=%llu", p, subdir[f->dir], pr(f->name),
		    (unsigned long long)r->size,
		    (unsigned long long)f->size);
		stale = 1;
	}
	if (f->wsize == UINT64_MAX)
		f->wsize = r->wsize;
	return stale;
}

/* Walks files and records (both sorted by key) side by side, counting
 * the files; 1 when the index is stale. */
static int
compare_sorted(struct insp *in)
{
	struct idx_report *rep = in->rep;
	const char *p = in->path;
	enum idx_state s = rep->state;
	size_t i = 0, j = 0;
	int stale = 0, c;

	while (i < in->nf || j < in->nr) {
		struct fent *f = i < in->nf ? &in->f[i] : NULL;
		struct rent *r = j < in->nr ? &in->r[j] : NULL;

		if (f != NULL && i + 1 < in->nf &&
		    cmp_fkey(f->name, in->f[i + 1].name) == 0) {
			i++;		/* the duplicate in new/: cur/ counts */
			continue;
		}
		if (f == NULL)
			c = 1;
		else if (r == NULL)
			c = -1;
		else
			c = cmp_fkey(f->name, r->name);
		if (c < 0) {
			/* new/ files are indexed by the next reader's sync */
			if (s != IDX_STATE_MISSING && s != IDX_STATE_DAMAGED &&
			    s != IDX_STATE_NONE && f->dir != IDX_NEW) {
				problem(in, "not-indexed", "%s/%s/%s", p,
				    subdir[f->dir], pr(f->name));
				stale = 1;
			}
		} else if (c > 0) {
			problem(in, "missing-file", "%s/%s/%s (indexed, no file)",
			    p, subdir[r->dir], pr(r->name));
			stale = 1;
			j++;
			continue;
		} else {
			stale |= compare_pair(in, f, r);
			j++;
		}
		/* a file: count it */
		rep->messages++;
		rep->size += f->wsize != UINT64_MAX ? f->wsize : f->size;
		if (f->arrival < rep->oldest)
			rep->oldest = f->arrival;
		if (f->arrival > rep->newest)
			rep->newest = f->arrival;
		i++;
	}
	return stale;
}

/* Compares records and files and adds up the totals. */
static void
compare(struct insp *in)
{
	struct idx_report *rep = in->rep;
	const char *p = in->path;
	size_t i;
	uint64_t wsum = 0;
	int stale;

	if (in->nf > 1)
		qsort(in->f, in->nf, sizeof(*in->f), cmp_fent);
	if (in->nr > 1)
		qsort(in->r, in->nr, sizeof(*in->r), cmp_rent);
	for (i = 0; i < in->nr; i++)
		wsum += in->r[i].wsize;
	rep->oldest = INT64_MAX;
	rep->newest = INT64_MIN;
	for (i = 0; i + 1 < in->nf; i++)
		if (cmp_fkey(in->f[i].name, in->f[i + 1].name) == 0)
			problem(in, "duplicate", "%s/new/%s and %s/cur/%s (one "
			    "message twice; cur/ is served)", p,
			    pr(in->f[i].name), p, pr(in->f[i + 1].name));
	stale = compare_sorted(in);
	if (in->have_meta && rep->state == IDX_STATE_OK &&
	    (in->meta_count != in->nr || in->meta_wsize != wsum)) {
		problem(in, "bad-counts", "%s/%s/%s meta count=%llu size=%llu, "
		    "records %llu size=%llu", p, IDX_DIRNAME, IDX_DB,
		    (unsigned long long)in->meta_count,
		    (unsigned long long)in->meta_wsize,
		    (unsigned long long)in->nr, (unsigned long long)wsum);
		stale = 1;
	}
	if (stale)
		set_state(in, IDX_STATE_STALE, "index and Maildir differ");
	if (rep->messages == 0)
		rep->oldest = rep->newest = 0;
}

void
idx_check(int mfd, const char *path, uid_t owner, idx_problem_fn report,
    void *arg, struct idx_report *rep)
{
	struct insp in;
	char tpath[4200];
	struct stat st;
	size_t i;

	memset(rep, 0, sizeof(*rep));
	memset(&in, 0, sizeof(in));
	in.mfd = mfd;
	in.path = path;
	in.owner = owner;
	in.report = report;
	in.arg = arg;
	in.rep = rep;
	rep->state = IDX_STATE_OK;
	if (fstat(mfd, &st) == 0)
		check_owner_mode(&in, &st, path);
	str_fmt(tpath, sizeof(tpath), "%s/tmp", path);
	if (fstatat(mfd, "tmp", &st, AT_SYMLINK_NOFOLLOW) == -1)
		problem(&in, "missing-dir", "%s", tpath);
	else if (!S_ISDIR(st.st_mode))
		problem(&in, S_ISLNK(st.st_mode) ? "symlink" : "bad-dir",
		    "%s (not followed)", tpath);
	read_index(&in);
	list_files(&in, IDX_NEW);
	list_files(&in, IDX_CUR);
	compare(&in);
	for (i = 0; i < in.nf; i++)
		free(in.f[i].name);
	for (i = 0; i < in.nr; i++)
		free(in.r[i].name);
	free(in.f);
	free(in.r);
}

int
idx_mark_unclean(int mfd)
{
	int dfd, fd, ret = 0, saved;

	if ((dfd = openat(mfd, IDX_DIRNAME, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1)
		return 0;
	fd = openat(dfd, IDX_LOCK, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	close(dfd);
	if (fd == -1)
		return 0;
	while (flock(fd, LOCK_EX) == -1)
		if (errno != EINTR) {
			close(fd);
			return 0;
		}
	if (store_lock_says_clean(fd) && store_lock_mark_dirty(fd) == -1)
		ret = -1;
	saved = errno;
	close(fd);	/* releases the lock */
	errno = saved;
	return ret;
}
