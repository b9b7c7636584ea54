/*
 * store.c - the crash-safe Berkeley DB recipe shared by the index and
 * the throttle/greylist stores (see store.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "log.h"
#include "util.h"

#define DBS_CACHE	(256 * 1024)	/* DESIGN.md: small cache */
#define DBS_LG_MAX	(64 * 1024)	/* DB_RECOVER zero-fills the log file */
#define DBS_LG_BSIZE	(16 * 1024)
#define DBS_LK_MAX	10000		/* an index sync batch touches many pages */

static void
db_errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
	(void)env;
	log_warnx("%s: db: %s", pfx != NULL ? pfx : "db", pr(msg));
}

int
dbs_resource_error(int r)
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
dbs_lock_is_clean(int fd)
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

int
dbs_lock_mark(int fd, int clean)
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

void
dbs_close(DB_ENV **envp, DB **dbp)
{
	if (*dbp != NULL)
		(*dbp)->close(*dbp, DB_NOSYNC);
	*dbp = NULL;
	if (*envp != NULL)
		(*envp)->close(*envp, 0);
	*envp = NULL;
}

int
dbs_open(DB_ENV **envp, DB **dbp, const char *home, const char *dbname,
    const char *errpfx, int recover, int verify, int *damage)
{
	DB_ENV *env;
	DB *db;
	struct stat st;
	char path[PATH_MAX];
	int r;

	*damage = 0;
	*envp = NULL;
	*dbp = NULL;
	if ((r = db_env_create(&env, 0)) != 0)
		return r;
	*envp = env;
	env->set_errcall(env, db_errcall);
	env->set_errpfx(env, errpfx);
	if ((r = env->set_cachesize(env, 0, DBS_CACHE, 1)) != 0 ||
	    (r = env->set_lg_max(env, DBS_LG_MAX)) != 0 ||
	    (r = env->set_lg_bsize(env, DBS_LG_BSIZE)) != 0 ||
	    (r = env->set_lk_max_locks(env, DBS_LK_MAX)) != 0 ||
	    (r = env->set_lk_max_objects(env, DBS_LK_MAX)) != 0 ||
	    (r = env->log_set_config(env, DB_LOG_AUTO_REMOVE, 1)) != 0 ||
	    (r = env->set_flags(env, DB_TXN_WRITE_NOSYNC, 1)) != 0)
		goto fail;
	r = env->open(env, home, DB_CREATE | DB_PRIVATE | DB_INIT_TXN |
	    DB_INIT_LOCK | DB_INIT_LOG | DB_INIT_MPOOL |
	    (recover ? DB_RECOVER : 0), 0600);
	if (r != 0) {
		*damage = !dbs_resource_error(r);
		goto fail;
	}
	if (str_fmt(path, sizeof(path), "%s/%s", home, dbname) == -1) {
		r = ENAMETOOLONG;
		goto fail;
	}
	if (verify && lstat(path, &st) == 0) {
		if ((r = db_create(&db, env, 0)) != 0)
			goto fail;
		/* verify destroys the handle whatever it returns */
		if ((r = db->verify(db, dbname, NULL, NULL, 0)) != 0) {
			log_warnx("%s: %s: verify failed", errpfx, home);
			*damage = !dbs_resource_error(r);
			goto fail;
		}
	}
	if ((r = db_create(&db, env, 0)) != 0)
		goto fail;
	*dbp = db;
	if ((r = db->open(db, NULL, dbname, NULL, DB_BTREE,
	    DB_CREATE | DB_AUTO_COMMIT, 0600)) != 0) {
		*damage = !dbs_resource_error(r);
		goto fail;
	}
	return 0;
fail:
	dbs_close(envp, dbp);
	return r;
}

int
dbs_checkpoint_close(DB_ENV **envp, DB **dbp, const char *what)
{
	int r, ret = 0;

	if ((r = (*envp)->txn_checkpoint(*envp, 0, 0, 0)) != 0) {
		log_warnx("%s: checkpoint: %s", what, db_strerror(r));
		ret = -1;
	}
	/* after a good checkpoint the pages are on disk: skip close's sync */
	if ((r = (*dbp)->close(*dbp, ret == 0 ? DB_NOSYNC : 0)) != 0) {
		log_warnx("%s: close: %s", what, db_strerror(r));
		ret = -1;
	}
	*dbp = NULL;
	if ((r = (*envp)->close(*envp, 0)) != 0) {
		log_warnx("%s: env close: %s", what, db_strerror(r));
		ret = -1;
	}
	*envp = NULL;
	return ret;
}
