/*
 * aliases.h - the alias map: aliases(5) syntax (`name: target, target`,
 * continuation lines start with white space, `#` comments), compiled by
 * `maildb newaliases` into a Berkeley DB hash (SOURCE.db) like Postfix's
 * aliases.db. Targets are local names (other aliases or accounts, with an
 * optional @local.domain) or addresses in other domains (forwarded through
 * the relay queue); files, commands and :include: are refused.
 */
#ifndef INETMAIL_ALIASES_H
#define INETMAIL_ALIASES_H

#include <stddef.h>

/*
 * Looks name (lower case) up in the compiled map at dbpath. On a hit copies
 * the comma-separated target list into out and returns 0; 1 when absent (or
 * there is no map at all); -1 on error.
 */
int	alias_lookup(const char *dbpath, const char *name, char *out, size_t size);

/*
 * Parses the source text (len bytes); for each entry calls fn(name, targets,
 * lineno, arg). Returns 0, or -1 with "line N: what" in err.
 */
int	alias_parse(const char *text, size_t len,
	    int (*fn)(const char *, const char *, int, void *), void *arg,
	    char *err, size_t errsize);

/* Calls fn(name, targets, 0, arg) for every entry of the compiled map. */
int	alias_list(const char *dbpath,
	    int (*fn)(const char *, const char *, int, void *), void *arg);

/* Compiles src into dbpath (written to a temporary and renamed). */
int	alias_compile(const char *src, const char *dbpath, unsigned *count,
	    char *err, size_t errsize);

#endif
