/*
 * common.h - what maildb's command files share (common.c): the parsed
 * command line, output formatting, and running a command on a mailbox in
 * a child that has dropped to the mailbox's owner. Depends on nothing in
 * maildb/ (maildb.c names the commands; the commands use this).
 */
#ifndef MAILDB_COMMON_H
#define MAILDB_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "user.h"

/* A command's result asking the dispatcher for the usage text (and exit
 * 2); also the exit status of a mailbox child that wants it (sysexits.h's
 * EX_USAGE, never maildb's own exit status). */
#define MAILDB_USAGE	64

/* What main parsed from the command line, for every command. */
struct maildb_args {
	int		 json, headers_only, dry_run, all_users;
	const char	*older_than;
	char *const	*opts;	/* maildb's own -f/-o arguments, for smtpd -q */
	int		 nopts;
};

/* "new", "cur": indexed by enum idx_dir. */
extern const char *const mbox_subdir[2];

/* Prints s as a JSON string on stdout. */
void	json_str(const char *s);
/* Unix time as 2024-05-01T12:00:00Z, as everywhere in maildb's output. */
void	fmt_time(int64_t t, char *out, size_t size);
/* Unix time in local time without a zone, "-" for 0 (throttle, greylist). */
void	local_time(int64_t t, char *buf, size_t size);

/*
 * Looks for the empty line that ends a message header in buf, the next n
 * bytes of the message: returns the length up to and including it, or -1
 * when it is not there. *nl carries "a line has just ended" from chunk to
 * chunk (the caller starts it at 1 when an empty first line ends the
 * header); with skip_cr a CR is not a character of its line.
 */
ssize_t	header_end(const char *buf, size_t n, int *nl, int skip_cr);

/* ---- running a command on one mailbox ---- */

struct idx;

struct mbox {
	struct mailuser	 u;
	char		 path[4096];
	const struct maildb_args *args;
	struct idx	*ix;
	int		 mfd;		/* the Maildir, O_NOFOLLOW */
	int		 popfd;		/* pop3.lock, held (MB_POP3LOCK) */
	void		*res;		/* result sent back to the parent */
	size_t		 reslen;
};

/* The part of a command that runs on one mailbox, as its owner: returns
 * the child's exit status (MAILDB_USAGE for the usage text). */
typedef int (*mbox_fn)(struct mbox *, int argc, char **argv);

/* What the child opens and locks before calling the mbox_fn. */
#define MB_INDEX	0x01	/* open the index */
#define MB_SYNC		0x02	/* and bring it up to date first */
#define MB_POP3LOCK	0x04	/* refuse while a POP3 session is open */
#define MB_DIRTY	0x08	/* force recovery and DB->verify at open */

/* Outcomes of mbox_prepare. */
#define MBP_OK		0
#define MBP_ERROR	1	/* no account, bad path */
#define MBP_NOMAILBOX	2	/* the Maildir does not exist */
#define MBP_REFUSED	3	/* not a directory, or wrong owner */

/* mbox_prepare's quiet: nothing on stderr, or nothing about a missing
 * Maildir (while walking every account: one without is no error). */
#define MBQ_ALL		0x01
#define MBQ_MISSING	0x02

/*
 * Looks the account up and checks its Maildir: a real directory (lstat,
 * no symlink) owned by the account. Messages go to stderr unless quiet;
 * why (when not NULL) gets a short reason. args is kept for the child.
 */
int	mbox_prepare(const char *name, const struct maildb_args *args,
	    struct mbox *mb, int quiet, char *why, size_t whysize);
/*
 * Runs fn on a prepared mailbox in a child running as its owner, after
 * what how asks for (MB_*). When mb->res is set, the child sends it back
 * (mb->reslen bytes) and the parent copies it there; on failure it is
 * left zeroed. Returns fn's exit status.
 */
int	run_mailbox(struct mbox *mb, mbox_fn fn, int how, int argc,
	    char **argv);
/* mbox_prepare, then run_mailbox on USER's mailbox (1 if not prepared). */
int	with_mailbox(const char *name, const struct maildb_args *args,
	    mbox_fn fn, int how, int argc, char **argv);
/*
 * USER (argv[0]; the rest goes to fn), or every account with a mailbox
 * (args->all_users; then a closing line "N mailboxes, N with problems").
 * Returns fn's status for one, 1 if any of all failed.
 */
int	each_mailbox(const struct maildb_args *args, int argc, char **argv,
	    mbox_fn fn, int how);
/* Opens new/ or cur/ (dir) of the Maildir, not through a link; -1 (told). */
int	open_sub(struct mbox *mb, int dir);

/* ---- every account with a mailbox ---- */

struct namelist {
	char	**v;
	size_t	  n, cap;
};

/*
 * Accounts that can have mail: every account with uid >= min_uid (getpwent)
 * and every account an alias (or postmaster) resolves to. Sorted by name.
 */
void	mail_accounts(struct namelist *out);
void	names_free(struct namelist *);

#endif
