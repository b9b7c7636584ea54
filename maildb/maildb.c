/*
 * maildb - the administrator's tool over mailboxes and their indexes, the
 * alias map, the APOP secrets, the throttle and greylist stores and the
 * relay queue. This file is main and the one command table: each row names
 * a command's handler, its part on each mailbox with what that needs
 * opened and locked, whether it takes maildb's --options, and its lines in
 * `maildb help` (the usage text is made from the table).
 *
 * Runs as root; each mailbox is handled in a child that has dropped to the
 * mailbox's owner, after checking that the Maildir is a real directory
 * owned by that account (common.c). Inside the Maildir nothing is opened
 * through a symbolic link (openat with O_NOFOLLOW, fstatat with
 * AT_SYMLINK_NOFOLLOW); links planted there are reported, never followed.
 *
 * Two ways to look at an index:
 * - through libmail (idx_open: exclusive index lock, recovery, and a damaged
 *   index is set aside and rebuilt) for commands that may change it: ls,
 *   stat, show, dump, reindex, expire, rm (mailbox_cmd.c, check_cmd.c);
 * - read-only (idx_check, index_check.h: shared index lock, Berkeley DB's
 *   DB->verify and a DB_RDONLY cursor, no environment) for users and
 *   verify, which report the state of an index and must not repair it
 *   behind the admin's back (check_cmd.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "conf.h"
#include "log.h"
#include "maildb.h"

static maildb_cmd_fn	cmd_help;

/* In `maildb help` order. */
static const struct maildb_cmd cmds[] = {
	{ "users", maildb_users, mailbox_users, 0, CMD_OPTIONS,
	    { { "users [--json]", "accounts with a mailbox: messages,\n"
		"size, oldest/newest, index state" } } },
	{ "ls", maildb_one_mailbox, mailbox_ls, MB_INDEX | MB_SYNC,
	    CMD_OPTIONS,
	    { { "ls USER [--json]", "messages of USER (from the index)" } } },
	{ "show", maildb_one_mailbox, mailbox_show, MB_INDEX | MB_SYNC,
	    CMD_OPTIONS,
	    { { "show USER N|UIDL [--headers]",
		"print a message (or its header)" } } },
	{ "stat", maildb_stat, mailbox_stat, MB_INDEX | MB_SYNC, CMD_OPTIONS,
	    { { "stat [USER] [--json]",
		"message count and size; all: totals" } } },
	{ "verify", maildb_verify, mailbox_verify, 0, CMD_OPTIONS,
	    { { "verify [USER]", "index against Maildir, owners,\n"
		"modes, names, DB->verify; exit 1\nwhen not clean" } } },
	{ "reindex", maildb_reindex, mailbox_reindex, MB_DIRTY | MB_INDEX,
	    CMD_OPTIONS,
	    { { "reindex USER|--all", "rebuild the index (UIDLs kept)" } } },
	{ "expire", maildb_expire, mailbox_expire,
	    MB_POP3LOCK | MB_INDEX | MB_SYNC, CMD_OPTIONS,
	    { { "expire USER|--all --older-than AGE [--dry-run]",
		"delete mail that arrived before AGE\n"
		"(s, m, h, d suffix: 30d)" } } },
	{ "rm", maildb_one_mailbox, mailbox_rm,
	    MB_POP3LOCK | MB_INDEX | MB_SYNC, CMD_OPTIONS,
	    { { "rm USER N|UIDL", "delete one message" } } },
	{ "dump", maildb_one_mailbox, mailbox_dump, MB_INDEX, CMD_OPTIONS,
	    { { "dump USER", "every index record, one per line" } } },
	{ "newaliases", maildb_newaliases, NULL, 0, 0,
	    { { "newaliases", "compile the aliases file" } } },
	{ "aliases", maildb_aliases, NULL, 0, 0,
	    { { "aliases", "list the compiled alias map" } } },
	{ "apop", maildb_apop, NULL, 0, 0,
	    { { "apop set|rm|ls ...", "APOP secrets" } } },
	{ "throttle", maildb_throttle, NULL, 0, 0,
	    { { "throttle ls | clear ADDR|USER", "login throttling state" } } },
	{ "greylist", maildb_greylist, NULL, 0, 0,
	    { { "greylist ls | clear ADDR|EMAIL|all",
		"greylisting triplets" } } },
	{ "queue", maildb_queue, NULL, 0, 0, {
	    { "queue list [--json]", "the relay queue: messages, their\n"
		"recipients, attempts, errors" },
	    { "queue show ID", "one queued message and its header" },
	    { "queue flush [ID]", "make due now, start smtpd -q" },
	    { "queue delete ID", "drop a queued message, no bounce" },
	    { "queue bounce ID", "fail it (5.0.0): the runner sends\n"
		"the bounce" } } },
	{ "help", cmd_help, NULL, 0, 0, { { "help", "this text" } } },
	{ "--help", cmd_help, NULL, 0, 0, { { NULL, NULL } } },
};

#define NCMDS	(sizeof(cmds) / sizeof(cmds[0]))
#define HELP_COL	36	/* synopsis width: descriptions start after it */

/* The usage text, made from the table. */
static void
print_help(FILE *fp)
{
	const struct maildb_help *h;
	const char *d;
	size_t k, i, n;

	fputs("usage: maildb [-f file] [-o key=value] command [args]\n"
	    "commands:\n", fp);
	for (k = 0; k < NCMDS; k++)
		for (i = 0; i < MAILDB_HELP_MAX && cmds[k].help[i].syn; i++) {
			h = &cmds[k].help[i];
			if (strlen(h->syn) < HELP_COL)
				fprintf(fp, "  %-*s", HELP_COL, h->syn);
			else
				fprintf(fp, "  %s\n  %-*s", h->syn, HELP_COL, "");
			for (d = h->desc; *d != '\0'; d += n) {
				n = strcspn(d, "\n");
				fprintf(fp, "%.*s\n", (int)n, d);
				if (d[n] == '\n')
					fprintf(fp, "  %-*s", HELP_COL, "");
				n += d[n] == '\n';
			}
		}
}

static void __attribute__((noreturn))
usage(void)
{
	print_help(stderr);
	exit(2);
}

static int
cmd_help(const struct maildb_cmd *c, int argc, char **argv,
    const struct maildb_args *a)
{
	(void)c, (void)argc, (void)argv, (void)a;
	print_help(stdout);
	return 0;
}

/* Removes the options maildb knows from argv[1..] (after the command)
 * into *a. */
static void
take_flags(int *argcp, char **argv, struct maildb_args *a)
{
	int argc = *argcp, i, take;

	for (i = 1; i < argc; i += take == 0) {
		take = 1;
		if (strcmp(argv[i], "--json") == 0)
			a->json = 1;
		else if (strcmp(argv[i], "--headers") == 0)
			a->headers_only = 1;
		else if (strcmp(argv[i], "--dry-run") == 0 ||
		    strcmp(argv[i], "-n") == 0)
			a->dry_run = 1;
		else if (strcmp(argv[i], "--all") == 0)
			a->all_users = 1;
		else if (strncmp(argv[i], "--older-than=", 13) == 0)
			a->older_than = argv[i] + 13;
		else if (strcmp(argv[i], "--older-than") == 0 && i + 1 < argc) {
			a->older_than = argv[i + 1];
			take = 2;
		} else if (strncmp(argv[i], "--", 2) == 0 && argv[i][2] != '\0') {
			fprintf(stderr, "maildb: unknown option %s\n", argv[i]);
			usage();
		} else
			take = 0;
		if (take) {
			memmove(&argv[i], &argv[i + take],
			    sizeof(*argv) * (size_t)(argc - i - take + 1));
			argc -= take;
		}
	}
	*argcp = argc;
}

/* -f FILE and -o key=value: the configuration. Returns how many
 * arguments they took, or -1 (told). */
static int
configure(int argc, char **argv)
{
	const char *cfile = CONF_FILE;
	char err[256];
	int ch, explicit_file = 0;

	conf_defaults();
	while ((ch = getopt(argc, argv, "+f:o:")) != -1) {
		if (ch == 'f') {
			cfile = optarg;
			explicit_file = 1;
		} else if (ch != 'o')
			usage();
	}
	log_open("maildb", 0);
	if (conf_load(cfile, !explicit_file, err, sizeof(err)) == -1) {
		fprintf(stderr, "maildb: %s\n", err);
		return -1;
	}
	optind = 1;
	while ((ch = getopt(argc, argv, "+f:o:")) != -1)
		if (ch == 'o' && conf_option(optarg, err, sizeof(err)) == -1) {
			fprintf(stderr, "maildb: %s\n", err);
			return -1;
		}
	conf_finish();
	return optind - 1;
}

int
main(int argc, char *argv[])
{
	struct maildb_args a;
	const struct maildb_cmd *c = NULL;
	size_t k;
	int r;

	memset(&a, 0, sizeof(a));
	a.opts = argv + 1;	/* -f and -o, for smtpd -q (queue flush) */
	if ((a.nopts = configure(argc, argv)) == -1)
		return 1;
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	for (k = 0; k < NCMDS && c == NULL; k++)
		if (strcmp(argv[0], cmds[k].name) == 0)
			c = &cmds[k];
	if (c == NULL || (c->flags & CMD_OPTIONS))
		take_flags(&argc, argv, &a);
	if (c == NULL) {
		fprintf(stderr, "maildb: unknown command %s\n", argv[0]);
		usage();
	}
	if ((r = c->run(c, argc, argv, &a)) == MAILDB_USAGE)
		usage();
	return r;
}
