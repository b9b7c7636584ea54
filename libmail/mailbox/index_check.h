/*
 * index_check.h - a read-only look at a Maildir and its index (index.h):
 * what `maildb users` and `maildb verify` report. Unlike idx_open, it
 * never repairs: it takes the index lock shared, runs Berkeley DB's
 * DB->verify (in a child: a crash on garbage reads as "damaged") and reads
 * index.db with a DB_RDONLY cursor and no environment, then compares the
 * records with new/ and cur/, checking owners, modes, names and sizes.
 * Nothing under the Maildir is opened through a symbolic link. Runs as the
 * mailbox owner.
 */
#ifndef INETMAIL_INDEX_CHECK_H
#define INETMAIL_INDEX_CHECK_H

#include <stdint.h>
#include <sys/types.h>

/* The state of an index, from best to worst. IDX_STATE_NONE: no index
 * directory yet, which is normal (delivery does not index; the mailbox's
 * first reader builds it). */
enum idx_state {
	IDX_STATE_OK, IDX_STATE_NONE, IDX_STATE_STALE, IDX_STATE_MISSING,
	IDX_STATE_DAMAGED
};

/* "ok", "none", "stale", "missing", "damaged". */
const char *idx_state_name(enum idx_state);

struct idx_report {
	unsigned	 problems;	/* how many problems were found */
	enum idx_state	 state;
	char		 why[300];	/* what decided the state, or "" */
	uint64_t	 messages, size;	/* from the files (size: wsize) */
	int64_t		 oldest, newest;	/* arrival times; 0 when empty */
};

/* Called once per problem: kind is one word (bad-owner, symlink,
 * not-indexed, ...), detail the rest of the line. */
typedef void (*idx_problem_fn)(const char *kind, const char *detail,
    void *arg);

/*
 * Looks at the Maildir at path, open on mfd (O_NOFOLLOW), whose files
 * should all belong to owner with no group or other access. Calls
 * problem (when not NULL) for each problem found and fills *rep.
 */
void	idx_check(int mfd, const char *path, uid_t owner,
	    idx_problem_fn problem, void *arg, struct idx_report *rep);

/*
 * Makes the next idx_open of the Maildir open on mfd run recovery and
 * DB->verify (and set a damaged index aside): the clean flag in the lock
 * file is replaced by "dirty", under the lock. 0 when done or when there
 * is no index or no clean flag, -1 with errno when the flag could not
 * be written.
 */
int	idx_mark_unclean(int mfd);

#endif
