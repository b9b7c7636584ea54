/*
 * alias_cmd.c - `maildb newaliases` compiles the aliases file into the map
 * smtpd reads (aliases.h); `maildb aliases` lists the compiled map.
 */
#include <stdio.h>

#include "aliases.h"
#include "conf.h"
#include "maildb.h"
#include "util.h"

static int
list_alias(const char *name, const char *targets, int lineno, void *arg)
{
	(void)lineno, (void)arg;
	printf("%s: %s\n", name, targets);
	return 0;
}

/* Lists the compiled map (what smtpd will answer), not the source. */
int
maildb_aliases(const struct maildb_cmd *c, int argc, char **argv,
    const struct maildb_args *a)
{
	char dbpath[4096];

	(void)c, (void)argc, (void)argv, (void)a;
	str_fmt(dbpath, sizeof(dbpath), "%s.db", conf.aliases);
	if (alias_list(dbpath, list_alias, NULL) == -1) {
		fprintf(stderr, "maildb: %s: cannot read (run maildb newaliases)\n",
		    dbpath);
		return 1;
	}
	return 0;
}

int
maildb_newaliases(const struct maildb_cmd *c, int argc, char **argv,
    const struct maildb_args *a)
{
	char dbpath[4096], err[256];
	unsigned count;

	(void)c, (void)argc, (void)argv, (void)a;
	str_fmt(dbpath, sizeof(dbpath), "%s.db", conf.aliases);
	if (alias_compile(conf.aliases, dbpath, &count, err, sizeof(err)) == -1) {
		fprintf(stderr, "maildb: %s: %s\n", conf.aliases, err);
		return 1;
	}
	printf("%s: %u aliases\n", dbpath, count);
	return 0;
}
