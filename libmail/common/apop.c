/*
 * apop.c - APOP: greeting timestamps, digests, and the secrets file.
 *
 * Why whole-file replacement and not DB->put in place: the monitor opens
 * the file for every APOP login, and DESIGN.md measured that a Berkeley DB
 * file updated without an environment can be corrupted by a kill, while a
 * locked environment would make every login wait behind a writer (and a
 * killed writer must never hang the next login). The file is small (one
 * record per APOP user), so maildb rewrites it into a temporary file and
 * renames it into place: a reader sees the old file or the new one, never
 * a mix, and needs no lock. Writers serialise on flock(2) of a separate
 * dbpath.lock (the data file's inode changes with every rename).
 */
#include <db.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apop.h"
#include "log.h"
#include "util.h"

int
apop_timestamp(char *out, size_t size, const char *host)
{
	unsigned char r[8];
	unsigned long long rv = 0;
	size_t i;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -1;
	for (i = 0; i < sizeof(r); i++)
		rv = rv << 8 | r[i];
	return str_fmt(out, size, "<%ld.%016llx.%lld@%s>", (long)getpid(), rv,
	    (long long)time(NULL), host);
}

int
apop_digest(const char *ts, const void *secret, size_t len,
    char hex[APOP_DIGEST_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	EVP_MD_CTX *ctx;
	int ok;

	hex[0] = '\0';
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, ts, strlen(ts)) == 1 &&
	    EVP_DigestUpdate(ctx, secret, len) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 &&
	    mdlen * 2 == APOP_DIGEST_LEN;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -1;
	for (i = 0; i < mdlen; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 0x0f];
	}
	hex[APOP_DIGEST_LEN] = '\0';
	OPENSSL_cleanse(md, sizeof(md));
	return 0;
}

int
apop_digest_syntax_ok(const char *s)
{
	size_t i;

	for (i = 0; i < APOP_DIGEST_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[i] == '\0';
}

int
apop_check(const char *ts, const void *secret, size_t len, const char *hex)
{
	char want[APOP_DIGEST_LEN + 1];
	int ok;

	if (apop_digest(ts, secret, len, want) == -1 ||
	    !apop_digest_syntax_ok(hex))
		ok = 0;
	else
		ok = CRYPTO_memcmp(want, hex, APOP_DIGEST_LEN) == 0;
	OPENSSL_cleanse(want, sizeof(want));
	return ok;
}

/* Opens dbpath read-only; 1 when it does not exist, -1 (logged in err)
 * when it is not a regular file only its owner can read. */
static int
open_ro(const char *dbpath, DB **dbp, char *err, size_t errsize)
{
	struct stat st;
	DB *db;
	int r;

	if (lstat(dbpath, &st) == -1) {
		if (errno == ENOENT)
			return 1;
		str_fmt(err, errsize, "%s: %s", dbpath, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
		str_fmt(err, errsize, "%s: not a regular file of mode 0600; refused",
		    dbpath);
		return -1;
	}
	if ((r = db_create(&db, NULL, 0)) != 0) {
		str_fmt(err, errsize, "db_create: %s", db_strerror(r));
		return -1;
	}
	if ((r = db->open(db, NULL, dbpath, NULL, DB_HASH, DB_RDONLY, 0)) != 0) {
		str_fmt(err, errsize, "%s: %s", dbpath, db_strerror(r));
		db->close(db, 0);
		return -1;
	}
	*dbp = db;
	return 0;
}

int
apop_get(const char *dbpath, const char *user, char *secret, size_t size,
    size_t *len)
{
	char err[PATH_MAX + 100];
	DBT key, val;
	DB *db;
	int r;

	if ((r = open_ro(dbpath, &db, err, sizeof(err))) != 0) {
		if (r == -1)
			log_warnx("apop_db: %s", err);
		return r;
	}
	memset(&key, 0, sizeof(key));
	memset(&val, 0, sizeof(val));
	key.data = (void *)(uintptr_t)user;
	key.size = (u_int32_t)strlen(user);
	val.data = secret;	/* the secret lands in the caller's buffer only */
	val.ulen = (u_int32_t)size;
	val.flags = DB_DBT_USERMEM;
	r = db->get(db, NULL, &key, &val, 0);
	db->close(db, 0);
	if (r == 0) {
		*len = val.size;
		return 0;
	}
	if (r == DB_NOTFOUND)
		return 1;
	explicit_bzero(secret, size);
	log_warnx("apop_db: %s: get: %s", dbpath, db_strerror(r));
	return -1;
}

int
apop_list(const char *dbpath, void (*fn)(const char *, void *), void *arg,
    char *err, size_t errsize)
{
	char name[256];
	DBC *cur;
	DBT key, val;
	DB *db;
	int r;

	if ((r = open_ro(dbpath, &db, err, errsize)) != 0)
		return r == 1 ? 0 : -1;
	if ((r = db->cursor(db, NULL, &cur, 0)) != 0) {
		str_fmt(err, errsize, "%s: cursor: %s", dbpath, db_strerror(r));
		db->close(db, 0);
		return -1;
	}
	memset(&key, 0, sizeof(key));
	memset(&val, 0, sizeof(val));
	while ((r = cur->get(cur, &key, &val, DB_NEXT)) == 0) {
		if (key.size == 0 || key.size >= sizeof(name))
			continue;
		memcpy(name, key.data, key.size);
		name[key.size] = '\0';
		fn(name, arg);
	}
	cur->close(cur);
	db->close(db, 0);
	if (r != DB_NOTFOUND) {
		str_fmt(err, errsize, "%s: read: %s", dbpath, db_strerror(r));
		return -1;
	}
	return 0;
}

/* fsync of a path (file or directory). */
static int
sync_path(const char *path)
{
	int fd, r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

int
apop_put(const char *dbpath, const char *user, const char *secret,
    size_t len, char *err, size_t errsize)
{
	char lockpath[PATH_MAX], tmp[PATH_MAX], dir[PATH_MAX], *slash;
	DB *old = NULL, *db = NULL;
	DBC *cur;
	DBT key, val;
	size_t ulen = strlen(user);
	int lfd, r, found = 0, ret = -1;

	if (str_fmt(lockpath, sizeof(lockpath), "%s.lock", dbpath) == -1 ||
	    str_fmt(tmp, sizeof(tmp), "%s.tmp.%ld", dbpath, (long)getpid()) == -1 ||
	    str_copy(dir, sizeof(dir), dbpath) == -1) {
		str_fmt(err, errsize, "%s: path too long", dbpath);
		return -1;
	}
	if ((slash = strrchr(dir, '/')) == NULL)
		str_copy(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if ((lfd = open(lockpath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600)) == -1) {
		str_fmt(err, errsize, "%s: %s", lockpath, strerror(errno));
		return -1;
	}
	while (flock(lfd, LOCK_EX) == -1)
		if (errno != EINTR) {
			str_fmt(err, errsize, "flock %s: %s", lockpath, strerror(errno));
			close(lfd);
			return -1;
		}
	(void)unlink(tmp);	/* left by a killed run with our pid */
	if ((r = open_ro(dbpath, &old, err, errsize)) == -1)
		goto out;
	if ((r = db_create(&db, NULL, 0)) != 0 ||
	    (r = db->open(db, NULL, tmp, NULL, DB_HASH, DB_CREATE | DB_EXCL,
	    0600)) != 0) {
		str_fmt(err, errsize, "%s: %s", tmp, db_strerror(r));
		goto out;
	}
	memset(&key, 0, sizeof(key));
	memset(&val, 0, sizeof(val));
	if (old != NULL) {
		if ((r = old->cursor(old, NULL, &cur, 0)) != 0) {
			str_fmt(err, errsize, "%s: cursor: %s", dbpath, db_strerror(r));
			goto out;
		}
		while ((r = cur->get(cur, &key, &val, DB_NEXT)) == 0) {
			if (key.size == ulen && memcmp(key.data, user, ulen) == 0) {
				found = 1;
				continue;
			}
			if ((r = db->put(db, NULL, &key, &val, 0)) != 0)
				break;
		}
		cur->close(cur);
		if (r != DB_NOTFOUND) {
			str_fmt(err, errsize, "%s: copy: %s", dbpath, db_strerror(r));
			goto out;
		}
	}
	if (secret == NULL && !found) {
		ret = 1;
		goto out;
	}
	if (secret != NULL) {
		memset(&key, 0, sizeof(key));
		memset(&val, 0, sizeof(val));
		key.data = (void *)(uintptr_t)user;
		key.size = (u_int32_t)ulen;
		val.data = (void *)(uintptr_t)secret;
		val.size = (u_int32_t)len;
		if ((r = db->put(db, NULL, &key, &val, 0)) != 0) {
			str_fmt(err, errsize, "%s: put: %s", tmp, db_strerror(r));
			goto out;
		}
	}
	r = db->close(db, 0);
	db = NULL;
	if (r != 0) {
		str_fmt(err, errsize, "%s: close: %s", tmp, db_strerror(r));
		goto out;
	}
	if (chmod(tmp, 0600) == -1 || sync_path(tmp) == -1) {
		str_fmt(err, errsize, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (rename(tmp, dbpath) == -1) {
		str_fmt(err, errsize, "rename to %s: %s", dbpath, strerror(errno));
		goto out;
	}
	if (sync_path(dir) == -1) {
		str_fmt(err, errsize, "fsync %s: %s", dir, strerror(errno));
		ret = -1;	/* renamed, but not known to be on disk */
		goto done;
	}
	ret = 0;
	goto done;
out:
	if (db != NULL)
		db->close(db, 0);
	(void)unlink(tmp);
done:
	if (old != NULL)
		old->close(old, 0);
	close(lfd);	/* releases the lock */
	return ret;
}
