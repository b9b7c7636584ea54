/*
 * scratch.h - what the unit tests of configured modules share: a setting
 * applied as with -o (a bad one ends the test), a scratch directory under
 * /tmp, and the end of a test that removes it when every check passed and
 * names it otherwise. Include after check.h.
 */
#ifndef SCRATCH_H
#define SCRATCH_H

#include <stdio.h>
#include <stdlib.h>

#include "conf.h"
#include "util.h"

/* Applies "key=value" as -o does; exits 2 when conf_option refuses it. */
static inline void
set_conf(const char *kv)
{
	char err[256];

	if (conf_option(kv, err, sizeof(err)) == -1) {
		CHECK_DIAG("conf_option %s: %s", kv, err);
		exit(2);
	}
}

/* Makes /tmp/NAME.XXXXXX into dir (size bytes); exits 1 on failure. */
static inline void
scratch_dir(char *dir, size_t size, const char *name)
{
	if (str_fmt(dir, size, "/tmp/%s.XXXXXX", name) == -1 ||
	    mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
}

/* Creates an empty file dir/name (a store path that is not a directory). */
static inline void
scratch_file(const char *dir, const char *name)
{
	char p[512];
	FILE *fp;

	if (str_fmt(p, sizeof(p), "%s/%s", dir, name) == 0 &&
	    (fp = fopen(p, "w")) != NULL)
		fclose(fp);
}

/* CHECK_DONE(), then removes dir when every check passed, else names it. */
static inline int
scratch_done(const char *dir)
{
	char cmd[600];
	int rc = CHECK_DONE();

	if (rc != 0)
		CHECK_DIAG("left %s", dir);
	else if (str_fmt(cmd, sizeof(cmd), "rm -rf '%s'", dir) == -1 ||
	    system(cmd) != 0)
		CHECK_DIAG("could not remove %s", dir);
	return rc;
}

#endif
