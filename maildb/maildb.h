/*
 * maildb.h - maildb's commands: one table in maildb.c (struct maildb_cmd)
 * names the handlers below, each in the file of its concern.
 */
#ifndef MAILDB_H
#define MAILDB_H

#include "common.h"

struct maildb_help {		/* one entry of `maildb help` */
	const char	*syn;		/* "ls USER [--json]" */
	const char	*desc;		/* lines separated by '\n' */
};

#define MAILDB_HELP_MAX	5

struct maildb_cmd;
/* A command: argv[0] is its name; returns maildb's exit status, or
 * MAILDB_USAGE for the usage text. */
typedef int maildb_cmd_fn(const struct maildb_cmd *, int argc, char **argv,
    const struct maildb_args *);

struct maildb_cmd {
	const char	*name;
	maildb_cmd_fn	*run;
	mbox_fn		 mbox;	/* its part on each mailbox, or NULL */
	int		 how;	/* what the mailbox child opens, locks: MB_* */
	int		 flags;
	struct maildb_help help[MAILDB_HELP_MAX];	/* none: not listed */
};

#define CMD_OPTIONS	0x01	/* takes maildb's --options (struct maildb_args) */

/* mailbox_cmd.c: listing and removing messages. */
maildb_cmd_fn	maildb_one_mailbox;	/* run mbox on USER: ls show dump rm */
maildb_cmd_fn	maildb_stat;
maildb_cmd_fn	maildb_expire;
int	mailbox_ls(struct mbox *, int argc, char **argv);
int	mailbox_show(struct mbox *, int argc, char **argv);
int	mailbox_dump(struct mbox *, int argc, char **argv);
int	mailbox_rm(struct mbox *, int argc, char **argv);
int	mailbox_stat(struct mbox *, int argc, char **argv);
int	mailbox_expire(struct mbox *, int argc, char **argv);

/* check_cmd.c: the health of mailboxes and their indexes. */
maildb_cmd_fn	maildb_users;
maildb_cmd_fn	maildb_verify;
maildb_cmd_fn	maildb_reindex;
int	mailbox_users(struct mbox *, int argc, char **argv);
int	mailbox_verify(struct mbox *, int argc, char **argv);
int	mailbox_reindex(struct mbox *, int argc, char **argv);

/* alias_cmd.c */
maildb_cmd_fn	maildb_newaliases;
maildb_cmd_fn	maildb_aliases;
/* apop_cmd.c: `maildb apop set|rm|ls ...` */
maildb_cmd_fn	maildb_apop;
/* throttle_cmd.c: `maildb throttle ls | clear ADDRESS|USER` */
maildb_cmd_fn	maildb_throttle;
/* greylist_cmd.c: `maildb greylist ls | clear ...` */
maildb_cmd_fn	maildb_greylist;
/* queue_cmd.c: `maildb queue list|show|flush|delete|bounce ...`; flush
 * and bounce pass maildb's -f/-o on to `smtpd -q`. */
maildb_cmd_fn	maildb_queue;

#endif
