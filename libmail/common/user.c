/*
 * user.c - accounts, mailbox paths and recipient resolution.
 */
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "aliases.h"
#include "conf.h"
#include "log.h"
#include "params.h"
#include "user.h"
#include "util.h"

int
user_name_ok(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > USER_NAME_MAX || name[0] == '-' || name[0] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (!(islower(c) || isdigit(c) || c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

int
user_lookup(const char *name, struct mailuser *u)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int r;

	if (!user_name_ok(name))
		return 1;
	errno = 0;
	r = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
	if (res == NULL)
		return (r == 0 || r == ENOENT || r == ESRCH || r == EBADF ||
		    r == EPERM) ? 1 : -1;
	if (str_copy(u->name, sizeof(u->name), pw.pw_name) == -1 ||
	    str_copy(u->home, sizeof(u->home), pw.pw_dir) == -1)
		return 1;
	u->uid = pw.pw_uid;
	u->gid = pw.pw_gid;
	return 0;
}

int
user_maildir(const struct mailuser *u, char *out, size_t size)
{
	const char *p = conf.mailbox;
	size_t o = 0;

	if (p[0] == '~' && p[1] == '/') {
		if (str_copy(out, size, u->home) == -1)
			return -1;
		o = strlen(out);
		p++;
	}
	for (; *p != '\0'; p++) {
		const char *add = NULL;
		char one[2] = { *p, '\0' };

		if (p[0] == '%' && p[1] == 'u')
			add = u->name, p++;
		else if (p[0] == '%' && p[1] == 'h')
			add = u->home, p++;
		else
			add = one;
		if (str_copy(out + o, size - o, add) == -1)
			return -1;
		o += strlen(add);
	}
	/* A mailbox must be an absolute path without "..". */
	if (out[0] != '/' || strstr(out, "/../") != NULL ||
	    (o >= 3 && strcmp(out + o - 3, "/..") == 0))
		return -1;
	return 0;
}

struct resolve {
	struct mailuser	*out;
	size_t		 max, n;
	char		(*remote)[SMTP_PATH_MAX + 1];
	size_t		 rmax, nremote;
	int		 tempfail;
};

/* An alias target outside local_domains: kept once, lower case. */
static void
add_remote(struct resolve *r, const char *addr)
{
	char a[SMTP_PATH_MAX + 1];
	size_t i;

	if (str_copy(a, sizeof(a), addr) == -1)
		return;	/* newaliases refuses such a target */
	for (i = 0; a[i] != '\0'; i++)
		a[i] = (char)tolower((unsigned char)a[i]);
	for (i = 0; i < r->nremote; i++)
		if (strcmp(r->remote[i], a) == 0)
			return;
	if (r->nremote < r->rmax)
		str_copy(r->remote[r->nremote++], sizeof(a), a);
}

static void
add_user(struct resolve *r, const struct mailuser *u)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (r->out[i].uid == u->uid && strcmp(r->out[i].name, u->name) == 0)
			return;
	if (r->n < r->max)
		r->out[r->n++] = *u;
}

/* Lower-cases and strips +tag and a local @domain into out. -1 if not local. */
static int
canon(const char *in, char *out, size_t size)
{
	size_t i, n = strcspn(in, "@");

	if (in[n] == '@' && !conf_is_local_domain(in + n + 1))
		return -1;
	if (n >= size)
		return -1;
	for (i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	out[n] = '\0';
	if (strcmp(out, "postmaster") != 0)
		out[strcspn(out, "+")] = '\0';
	return 0;
}

static void
expand(struct resolve *r, const char *local, int depth, int via_alias)
{
	char name[SMTP_LOCAL_MAX + 1], targets[4096], dbpath[4096];
	struct mailuser u;
	const char *at = strrchr(local, '@');
	int rv;

	/* forwarding is what an alias may do; a remote address as such is
	 * the caller's business (relaying) */
	if (via_alias && at != NULL && at > local && at[1] != '\0' &&
	    !conf_is_local_domain(at + 1)) {
		add_remote(r, local);
		return;
	}
	if (canon(local, name, sizeof(name)) == -1 || name[0] == '\0')
		return;
	if (depth < ALIAS_DEPTH_MAX &&
	    str_fmt(dbpath, sizeof(dbpath), "%s.db", conf.aliases) == 0) {
		rv = alias_lookup(dbpath, name, targets, sizeof(targets));
		if (rv == -1) {
			r->tempfail = 1;
			return;
		}
		if (rv == 0) {
			char *t = targets, *tok;

			while ((tok = strsep(&t, ",")) != NULL) {
				while (*tok == ' ')
					tok++;
				if (*tok != '\0' && strcmp(tok, name) != 0)
					expand(r, tok, depth + 1, 1);
				else if (*tok != '\0')	/* "root: root" ends here */
					goto account;
			}
			return;
		}
	}
account:
	rv = user_lookup(name, &u);
	if (rv == -1) {
		r->tempfail = 1;
		return;
	}
	if (rv == 0 && (u.uid >= conf.min_uid || via_alias))
		add_user(r, &u);
	else if (strcmp(name, "postmaster") == 0 && !via_alias)
		expand(r, "root", depth + 1, 1);
}

int
user_resolve_all(const char *local, struct mailuser *out, size_t max,
    char (*remote)[SMTP_PATH_MAX + 1], size_t rmax, size_t *nremote)
{
	struct resolve r = { out, max, 0, remote, rmax, 0, 0 };
	char name[SMTP_LOCAL_MAX + 1];
	struct mailuser u;

	if (nremote != NULL)
		*nremote = 0;
	expand(&r, local, 0, 0);
	/* postmaster must always be accepted (RFC 5321 4.5.1): when its
	 * aliases lead nowhere, root's mailbox gets it. */
	if (r.n == 0 && r.nremote == 0 && !r.tempfail &&
	    canon(local, name, sizeof(name)) == 0 &&
	    strcmp(name, "postmaster") == 0 && user_lookup("root", &u) == 0)
		add_user(&r, &u);
	if (r.tempfail)
		return -1;
	if (nremote != NULL)
		*nremote = r.nremote;
	return (int)(r.n + r.nremote);
}

int
user_resolve(const char *local, struct mailuser *out, size_t max)
{
	size_t nremote;
	int n = user_resolve_all(local, out, max, NULL, 0, &nremote);

	return n < 0 ? n : n - (int)nremote;
}
