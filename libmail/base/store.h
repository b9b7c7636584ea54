/*
 * store.h - the one recipe for a crash-safe Berkeley DB file, measured in
 * DESIGN.md ("Berkeley DB index"): a flock(2) on DIR/lock held by every
 * opener, a private transactional environment (DB_PRIVATE, small cache and
 * log files, WRITE_NOSYNC commits, logs removed automatically), and a
 * clean-shutdown flag in the lock file ("clean <boot_id>" after checkpoint
 * and close, "dirty" while open) so that recovery and verification run
 * only after an unclean stop. Used by the mailbox index and by the
 * throttle and greylist stores.
 */
#ifndef INETMAIL_STORE_H
#define INETMAIL_STORE_H

#include <db.h>

/* Errors that say nothing about the files' state: never rebuild on them. */
int	dbs_resource_error(int r);
/* 1 if the lock file says "clean <this boot>". */
int	dbs_lock_is_clean(int lockfd);
/* Writes "clean <boot_id>" (clean) or "dirty" into the lock file. */
int	dbs_lock_mark(int lockfd, int clean);

/*
 * Opens the private environment in home and the BTREE dbname in it
 * (created when missing), with DB_RECOVER when recover is set and, when
 * verify is set and the file exists, DB->verify first. errpfx names the
 * store in log lines. On failure returns the Berkeley DB or errno code,
 * with *damage set when the code says the files are damaged (not a
 * resource problem), and nothing left open.
 */
int	dbs_open(DB_ENV **envp, DB **dbp, const char *home, const char *dbname,
	    const char *errpfx, int recover, int verify, int *damage);
/* Closes db and environment without a checkpoint (after a failure). */
void	dbs_close(DB_ENV **envp, DB **dbp);
/*
 * The clean close: checkpoint, close the db (without its own sync when the
 * checkpoint succeeded) and the environment, logging failures as "what".
 * 0 when all of it succeeded: only then may the lock file say clean.
 */
int	dbs_checkpoint_close(DB_ENV **envp, DB **dbp, const char *what);

#endif
