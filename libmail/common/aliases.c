/*
 * aliases.c - parse aliases(5) text and read/write its Berkeley DB hash.
 * Keys are lower-case names, values the comma-separated targets, neither
 * NUL-terminated (db5.3_dump shows them as they are).
 */
#include <ctype.h>
#include <db.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aliases.h"
#include "buf.h"
#include "conf.h"
#include "log.h"
#include "params.h"
#include "util.h"

int
alias_lookup(const char *dbpath, const char *name, char *out, size_t size)
{
	DB *db;
	DBT key, val;
	int r;

	if (access(dbpath, F_OK) == -1 && errno == ENOENT)
		return 1;
	if (db_create(&db, NULL, 0) != 0)
		return -1;
	if ((r = db->open(db, NULL, dbpath, NULL, DB_HASH, DB_RDONLY, 0)) != 0) {
		log_warnx("aliases: cannot open %s: %s", dbpath, db_strerror(r));
		db->close(db, 0);
		return -1;
	}
	memset(&key, 0, sizeof(key));
	memset(&val, 0, sizeof(val));
	key.data = (void *)name;
	key.size = (u_int32_t)strlen(name);
	r = db->get(db, NULL, &key, &val, 0);
	if (r == 0) {
		if (val.size >= size) {
			db->close(db, 0);
			return -1;
		}
		memcpy(out, val.data, val.size);
		out[val.size] = '\0';
	}
	db->close(db, 0);
	return r == 0 ? 0 : r == DB_NOTFOUND ? 1 : -1;
}

/*
 * A target is a plain local name, or an address name@domain: the domain a
 * host name or an address literal in brackets. A domain outside
 * local_domains makes the alias forward through the relay queue. Files,
 * commands, :include: and quoted local parts are refused.
 */
static int
target_ok(const char *t)
{
	const char *at = strrchr(t, '@'), *p;

	if (*t == '\0' || strlen(t) > SMTP_PATH_MAX - 2)
		return 0;
	for (p = t; *p != '\0' && p != at; p++)
		if (!isalnum((unsigned char)*p) && strchr("._+-", *p) == NULL)
			return 0;
	if (p == t || *t == '.' || *t == '-')
		return 0;
	if (at == NULL)
		return 1;
	p = at + 1;
	if (*p == '[') {
		size_t n = strlen(p);

		if (n < 3 || p[n - 1] != ']')
			return 0;
		for (p++; p[1] != '\0'; p++)	/* up to the final ']' */
			if (!isalnum((unsigned char)*p) && strchr(".:", *p) == NULL)
				return 0;
		return 1;
	}
	if (*p == '\0' || *p == '.' || *p == '-')
		return 0;
	for (; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr(".-", *p) == NULL)
			return 0;
	return 1;
}

static int
name_ok(const char *s)
{
	if (*s == '\0' || strlen(s) > SMTP_LOCAL_MAX)
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("._+-", *s) == NULL)
			return 0;
	return 1;
}

/* Handles one logical entry (continuations joined): "name: a, b". */
static int
entry(char *s, int lineno, int (*fn)(const char *, const char *, int, void *),
    void *arg, char *err, size_t errsize)
{
	char *colon = strchr(s, ':'), *p, *tok, *list;
	struct buf targets;
	int n = 0, r;

	if (colon == NULL) {
		str_fmt(err, errsize, "line %d: missing ':'", lineno);
		return -1;
	}
	*colon = '\0';
	for (p = s; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	while (colon > s && (colon[-1] == ' ' || colon[-1] == '\t'))
		*--colon = '\0';
	if (!name_ok(s)) {
		str_fmt(err, errsize, "line %d: bad alias name \"%s\"", lineno, pr(s));
		return -1;
	}
	buf_init(&targets, 4000);
	list = colon + 1;
	while ((tok = strsep(&list, ",")) != NULL) {
		char *e;

		while (*tok == ' ' || *tok == '\t')
			tok++;
		e = tok + strlen(tok);
		while (e > tok && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (*tok == '\0')
			continue;
		for (p = tok; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
		if (!target_ok(tok)) {
			str_fmt(err, errsize, "line %d: unsupported target \"%s\" "
			    "(only names and addresses)", lineno, pr(tok));
			buf_free(&targets);
			return -1;
		}
		if (++n > ALIAS_TARGETS_MAX ||
		    (targets.len > 0 && buf_add(&targets, ",", 1) == -1) ||
		    buf_addstr(&targets, tok) == -1) {
			str_fmt(err, errsize, "line %d: too many targets", lineno);
			buf_free(&targets);
			return -1;
		}
	}
	if (n == 0) {
		str_fmt(err, errsize, "line %d: alias \"%s\" has no target", lineno, s);
		buf_free(&targets);
		return -1;
	}
	r = fn(s, buf_cstr(&targets), lineno, arg);
	buf_free(&targets);
	if (r == -1)
		str_fmt(err, errsize, "line %d: cannot store \"%s\"", lineno, s);
	return r;
}

int
alias_parse(const char *text, size_t len,
    int (*fn)(const char *, const char *, int, void *), void *arg,
    char *err, size_t errsize)
{
	struct buf cur;
	size_t pos = 0;
	int lineno = 0, start = 0;

	buf_init(&cur, 65536);
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		const char *line = text + pos;

		pos += n + (nl != NULL);
		lineno++;
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (memchr(line, '\0', n) != NULL) {
			str_fmt(err, errsize, "line %d: NUL byte", lineno);
			goto fail;
		}
		if (n == 0 || line[0] == '#')
			continue;
		if (line[0] == ' ' || line[0] == '\t') {
			if (cur.len == 0) {
				size_t k = 0;

				/* line is not NUL-terminated: count within n. */
				while (k < n && (line[k] == ' ' || line[k] == '\t'))
					k++;
				if (k >= n)	/* a blank line */
					continue;
				str_fmt(err, errsize, "line %d: continuation without entry", lineno);
				goto fail;
			}
			if (buf_add(&cur, " ", 1) == -1 || buf_add(&cur, line, n) == -1)
				goto long_entry;
			continue;
		}
		if (cur.len > 0 && entry(cur.ptr, start, fn, arg, err, errsize) == -1)
			goto fail;
		buf_reset(&cur);
		start = lineno;
		if (buf_add(&cur, line, n) == -1)
			goto long_entry;
	}
	if (cur.len > 0 && entry(cur.ptr, start, fn, arg, err, errsize) == -1)
		goto fail;
	buf_free(&cur);
	return 0;
long_entry:
	str_fmt(err, errsize, "line %d: entry too long", lineno);
fail:
	buf_free(&cur);
	return -1;
}

static int
store(const char *name, const char *targets, int lineno, void *arg)
{
	DB *db = arg;
	DBT key, val;

	(void)lineno;
	memset(&key, 0, sizeof(key));
	memset(&val, 0, sizeof(val));
	key.data = (void *)name;
	key.size = (u_int32_t)strlen(name);
	val.data = (void *)targets;
	val.size = (u_int32_t)strlen(targets);
	return db->put(db, NULL, &key, &val, 0) == 0 ? 0 : -1;
}

static int
count_entry(const char *name, const char *targets, int lineno, void *arg)
{
	(void)name, (void)targets, (void)lineno;
	(*(unsigned *)arg)++;
	return 0;
}

int
alias_compile(const char *src, const char *dbpath, unsigned *count,
    char *err, size_t errsize)
{
	char tmp[4096];
	struct buf text;
	char chunk[8192];
	ssize_t n;
	DB *db = NULL;
	int fd, r;

	buf_init(&text, 64u * 1024 * 1024);
	if ((fd = open(src, O_RDONLY | O_CLOEXEC)) == -1) {
		str_fmt(err, errsize, "%s: %s", src, strerror(errno));
		return -1;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_add(&text, chunk, (size_t)n) == -1) {
			str_fmt(err, errsize, "%s: too large", src);
			goto fail;
		}
	close(fd);
	fd = -1;
	if (n < 0) {
		str_fmt(err, errsize, "%s: %s", src, strerror(errno));
		goto fail;
	}
	/* Check everything before touching the live map. */
	*count = 0;
	if (alias_parse(text.ptr ? text.ptr : "", text.len, count_entry, count,
	    err, errsize) == -1)
		goto fail;
	if (str_fmt(tmp, sizeof(tmp), "%s.tmp.%ld", dbpath, (long)getpid()) == -1) {
		str_fmt(err, errsize, "%s: path too long", dbpath);
		goto fail;
	}
	unlink(tmp);
	if ((r = db_create(&db, NULL, 0)) != 0 ||
	    (r = db->open(db, NULL, tmp, NULL, DB_HASH, DB_CREATE | DB_EXCL, 0644)) != 0) {
		str_fmt(err, errsize, "%s: %s", tmp, db_strerror(r));
		goto fail;
	}
	if (alias_parse(text.ptr ? text.ptr : "", text.len, store, db, err, errsize) == -1 ||
	    db->close(db, 0) != 0) {
		db = NULL;
		unlink(tmp);
		goto fail;
	}
	db = NULL;
	if (rename(tmp, dbpath) == -1) {
		str_fmt(err, errsize, "rename to %s: %s", dbpath, strerror(errno));
		unlink(tmp);
		goto fail;
	}
	buf_free(&text);
	return 0;
fail:
	if (db != NULL)
		db->close(db, 0);
	if (fd != -1)
		close(fd);
	buf_free(&text);
	return -1;
}

int
alias_list(const char *dbpath, int (*fn)(const char *, const char *, int, void *),
    void *arg)
{
	char name[SMTP_LOCAL_MAX + 1], targets[4096];
	DBT key, val;
	DBC *cur;
	DB *db;
	int r;

	if (db_create(&db, NULL, 0) != 0)
		return -1;
	if (db->open(db, NULL, dbpath, NULL, DB_HASH, DB_RDONLY, 0) != 0 ||
	    db->cursor(db, NULL, &cur, 0) != 0) {
		db->close(db, 0);
		return -1;
	}
	memset(&key, 0, sizeof(key));
	memset(&val, 0, sizeof(val));
	while ((r = cur->get(cur, &key, &val, DB_NEXT)) == 0) {
		if (key.size >= sizeof(name) || val.size >= sizeof(targets))
			continue;	/* not ours: newaliases never writes these */
		memcpy(name, key.data, key.size);
		name[key.size] = '\0';
		memcpy(targets, val.data, val.size);
		targets[val.size] = '\0';
		if (fn(name, targets, 0, arg) != 0)
			break;
	}
	cur->close(cur);
	db->close(db, 0);
	return r == 0 || r == DB_NOTFOUND ? 0 : -1;
}
