/*
 * maildrop.c - the TRANSACTION and UPDATE states, running as the mail
 * user (the monitor's post-auth child, already dropped to that user): the
 * maildrop's lock, its message list, the commands on it and its update.
 *
 * Maildrop lock: MAILDIR/inetmail/pop3.lock, flock(LOCK_EX|LOCK_NB) for the
 * whole session; a second session gets -ERR [IN-USE]; the lock dies with
 * the process. The index lock (MAILDIR/inetmail/lock, taken by idx_open) is
 * held only while the index is read at login and changed at QUIT, so that
 * delivery to this mailbox never waits for a POP3 session to end.
 *
 * At login: new/ -> cur/ (NAME:2,), idx_sync, and the message list is read
 * from the index (no message file is opened for STAT/LIST/UIDL).
 *
 * UPDATE (QUIT): first the files of the deleted messages are unlinked, then
 * their records are removed in one index transaction. A kill -9 between the
 * two leaves records whose files are gone; unlinking changed cur/'s mtime,
 * so the next session's idx_sync rescans cur/ and drops them before anything
 * is listed. A message is therefore never listed without its file, and an
 * undeleted message is never touched.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "index.h"
#include "log.h"
#include "maildir.h"
#include "pop3d.h"
#include "util.h"

#define CHUNK		65536
#define LOCK_NAME	"pop3.lock"

static const char *const subdir[2] = { "new", "cur" };

/* ---- opening the maildrop ---- */

/* 0 locked, 1 in use, -1 error. The fd is kept open (and locked) for good. */
static int
lock_maildrop(const char *maildir)
{
	char path[4200];
	int fd;

	if (str_fmt(path, sizeof(path), "%s/%s", maildir, IDX_DIRNAME) == -1)
		return -1;
	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		return -1;
	if (str_fmt(path, sizeof(path), "%s/%s/%s", maildir, IDX_DIRNAME,
	    LOCK_NAME) == -1)
		return -1;
	if ((fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600)) == -1)
		return -1;
	while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EINTR)
			continue;
		close(fd);
		return errno == EWOULDBLOCK ? 1 : -1;
	}
	return 0;
}

/* Moves every message in new/ to cur/NAME:2, (the client has seen it now). */
static void
pick_up_new(struct pop *p)
{
	struct dirent *de;
	char to[IDX_NAME_MAX + 8];
	DIR *d;
	int fd;

	if ((fd = dup(p->dirfd[IDX_NEW])) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		log_warn("user=%s opendir new", p->user);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (strchr(de->d_name, ':') != NULL)
			str_copy(to, sizeof(to), de->d_name);
		else if (str_fmt(to, sizeof(to), "%s:2,", de->d_name) == -1)
			continue;
		if (strlen(to) >= IDX_NAME_MAX)
			continue;	/* leave it in new/; still served */
		if (renameat2(p->dirfd[IDX_NEW], de->d_name, p->dirfd[IDX_CUR],
		    to, RENAME_NOREPLACE) == -1 && errno != ENOENT)
			log_warn("user=%s rename new/%s", p->user, pr(de->d_name));
	}
	closedir(d);
}

static int
collect(const struct idx_rec *r, void *arg)
{
	struct pop *p = arg;
	struct msg *m;

	if (p->nmsgs % 1024 == 0)
		p->msgs = xreallocarray(p->msgs, p->nmsgs + 1024, sizeof(*p->msgs));
	m = &p->msgs[p->nmsgs++];
	m->name = xstrdup(r->name);
	memcpy(m->uidl, r->uidl, sizeof(m->uidl));
	m->size = r->size;
	m->wsize = r->wsize;
	m->dir = r->dir <= IDX_CUR ? r->dir : IDX_CUR;
	m->deleted = 0;
	return 0;
}

/* -1 with an -ERR sent. */
static int
open_maildrop(struct pop *p, const struct mailuser *u)
{
	struct idx *ix = NULL;
	int d, r;

	if (user_maildir(u, p->maildir, sizeof(p->maildir)) == -1) {
		log_warnx("user=%s bad mailbox path", u->name);
		goto temp;
	}
	if (maildir_create(p->maildir) == -1) {
		log_warn("user=%s maildir %s", u->name, pr(p->maildir));
		goto temp;
	}
	if ((r = lock_maildrop(p->maildir)) == 1) {
		reply(p, "-ERR [IN-USE] Mailbox is locked by another POP3 session");
		log_info("login user=%s status=in_use", u->name);
		return -1;
	}
	if (r == -1) {
		log_warn("user=%s lock", u->name);
		goto temp;
	}
	for (d = 0; d < 2; d++) {
		char path[4200];

		if (str_fmt(path, sizeof(path), "%s/%s", p->maildir,
		    subdir[d]) == -1 || (p->dirfd[d] = open(path, O_RDONLY |
		    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
			log_warn("user=%s open %s", u->name, subdir[d]);
			goto temp;
		}
	}
	pick_up_new(p);
	if (idx_open(&ix, p->maildir, IDX_CREATE) == -1 ||
	    idx_sync(ix, p->maildir, 0, NULL, NULL) == -1 ||
	    idx_iter(ix, collect, p) == -1) {
		log_warn("user=%s index", u->name);
		idx_close(&ix);
		goto temp;
	}
	idx_close(&ix);
	return 0;
temp:
	reply(p, "-ERR [SYS/TEMP] Cannot open the maildrop, try again later");
	return -1;
}

/* ---- arguments ---- */

/* A message number: strict decimal, 1..nmsgs, not deleted. NULL if not. */
static struct msg *
msgno(struct pop *p, const char *s, int *err)
{
	uint64_t n;

	if (parse_u64(s, UINT32_MAX, &n) == -1) {
		*err = R_SYNTAX;
		return NULL;
	}
	if (n == 0 || n > p->nmsgs || p->msgs[n - 1].deleted) {
		*err = R_NOMSG;
		return NULL;
	}
	return &p->msgs[n - 1];
}

static void
totals(struct pop *p, size_t *count, uint64_t *size)
{
	size_t i;

	*count = 0;
	*size = 0;
	for (i = 0; i < p->nmsgs; i++)
		if (!p->msgs[i].deleted) {
			(*count)++;
			*size += p->msgs[i].wsize;
		}
}

/* ---- commands ---- */

static int
cmd_stat(struct pop *p, char *arg)
{
	size_t n;
	uint64_t sz;

	if (*arg != '\0')
		return R_SYNTAX;
	totals(p, &n, &sz);
	reply(p, "+OK %zu %llu", n, (unsigned long long)sz);
	return R_DONE;
}

/* LIST and UIDL: one message, or all. */
static int
listing(struct pop *p, char *arg, int uidl)
{
	struct msg *m;
	size_t i, n;
	uint64_t sz;
	int err;

	if (*arg != '\0') {
		if ((m = msgno(p, arg, &err)) == NULL)
			return err;
		if (uidl)
			reply(p, "+OK %zu %s", (size_t)(m - p->msgs) + 1, m->uidl);
		else
			reply(p, "+OK %zu %llu", (size_t)(m - p->msgs) + 1,
			    (unsigned long long)m->wsize);
		return R_DONE;
	}
	totals(p, &n, &sz);
	if (uidl)
		io_printf(&p->io, "+OK unique-id listing follows\r\n");
	else
		io_printf(&p->io, "+OK %zu messages (%llu octets)\r\n", n,
		    (unsigned long long)sz);
	for (i = 0; i < p->nmsgs; i++) {
		m = &p->msgs[i];
		if (m->deleted)
			continue;
		if (uidl)
			io_printf(&p->io, "%zu %s\r\n", i + 1, m->uidl);
		else
			io_printf(&p->io, "%zu %llu\r\n", i + 1,
			    (unsigned long long)m->wsize);
	}
	io_printf(&p->io, ".\r\n");
	return R_DONE;
}

static int
cmd_list(struct pop *p, char *arg)
{
	return listing(p, arg, 0);
}

static int
cmd_uidl(struct pop *p, char *arg)
{
	return listing(p, arg, 1);
}

/*
 * Sends message m: LF -> CRLF, byte-stuffing, a CRLF after an unterminated
 * last line, then ".". With body_lines >= 0 (TOP) only the header, the
 * blank line and that many body lines. Returns 0, or -1 when the file could
 * not be opened (nothing sent; -ERR written). A read error after "+OK" ends
 * the session: a half-sent message cannot be taken back.
 */
static int
send_message(struct pop *p, struct msg *m, int64_t body_lines)
{
	unsigned char *buf;
	uint64_t sent = 0;	/* octets before stuffing: must equal wsize */
	int fd, bol = 1, in_hdr = 1, done = 0;
	size_t linelen = 0;
	int64_t left = body_lines;
	struct stat st;

	if ((fd = openat(p->dirfd[m->dir], m->name, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 || fstat(fd, &st) == -1) {
		log_warn("user=%s open %s/%s", p->user, subdir[m->dir],
		    pr(m->name));
		if (fd != -1)
			close(fd);
		reply(p, "-ERR [SYS/TEMP] Cannot read this message now");
		return -1;
	}
	if ((uint64_t)st.st_size != m->size)
		log_warnx("user=%s file=%s size changed since it was indexed",
		    p->user, pr(m->name));
	if (body_lines < 0)
		io_printf(&p->io, "+OK %llu octets\r\n",
		    (unsigned long long)m->wsize);
	else
		io_printf(&p->io, "+OK top of message follows\r\n");
	buf = xmalloc(CHUNK);
	while (!done) {
		ssize_t n = read(fd, buf, CHUNK);
		size_t i, start = 0;

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			log_warn("user=%s read %s", p->user, pr(m->name));
			io_flush(&p->io);
			_exit(1);
		}
		if (n == 0)
			break;
		/* a line at a time (memchr), not a byte at a time: RETR of
		 * big messages is bound by this loop */
		for (i = 0; i < (size_t)n; ) {
			unsigned char *nl;
			size_t k;

			if (bol) {
				if (!in_hdr && body_lines >= 0 && left-- <= 0) {
					done = 1;
					break;
				}
				if (buf[i] == '.') {	/* byte-stuffing */
					io_write(&p->io, buf + start, i - start);
					io_write(&p->io, ".", 1);
					start = i;
				}
				bol = 0;
			}
			if ((nl = memchr(buf + i, '\n', (size_t)n - i)) == NULL) {
				linelen += (size_t)n - i;
				i = (size_t)n;
				break;
			}
			k = (size_t)(nl - buf);
			linelen += k - i;
			io_write(&p->io, buf + start, k - start);
			io_write(&p->io, "\r\n", 2);
			start = k + 1;
			sent++;		/* the CR added */
			if (in_hdr && linelen == 0)
				in_hdr = 0;	/* the blank line ends the header */
			linelen = 0;
			bol = 1;
			i = k + 1;
		}
		io_write(&p->io, buf + start, i - start);
		sent += i;
		if (io_flush(&p->io) == -1) {
			log_info("disconnect reason=write_error");
			_exit(1);
		}
	}
	if (!bol && !done) {	/* an unterminated last line */
		io_write(&p->io, "\r\n", 2);
		sent += 2;
	}
	io_write(&p->io, ".\r\n", 3);
	close(fd);
	free(buf);
	if (body_lines < 0 && sent != m->wsize)
		log_warnx("user=%s file=%s sent %llu octets, indexed %llu",
		    p->user, pr(m->name), (unsigned long long)sent,
		    (unsigned long long)m->wsize);
	if (body_lines < 0)
		p->retr_bytes += sent;
	return 0;
}

static int
cmd_retr(struct pop *p, char *arg)
{
	struct msg *m;
	int err;

	if ((m = msgno(p, arg, &err)) == NULL)
		return err;
	if (send_message(p, m, -1) == 0) {
		p->nretr++;
		if ((unsigned)(m - p->msgs) + 1 > p->last)
			p->last = (unsigned)(m - p->msgs) + 1;
	}
	return R_DONE;
}

static int
cmd_top(struct pop *p, char *arg)
{
	char *sp = strchr(arg, ' ');
	struct msg *m;
	uint64_t lines;
	int err;

	if (sp == NULL)
		return R_SYNTAX;
	*sp++ = '\0';
	if (parse_u64(sp, INT64_MAX, &lines) == -1)
		return R_SYNTAX;
	if ((m = msgno(p, arg, &err)) == NULL)
		return err;
	if (send_message(p, m, (int64_t)lines) == 0)
		p->ntop++;
	return R_DONE;
}

static int
cmd_dele(struct pop *p, char *arg)
{
	struct msg *m;
	uint64_t n;

	if (parse_u64(arg, UINT32_MAX, &n) == -1)
		return R_SYNTAX;
	if (n == 0 || n > p->nmsgs)
		return R_NOMSG;
	m = &p->msgs[n - 1];
	if (m->deleted) {
		reply(p, "-ERR message %llu already deleted", (unsigned long long)n);
		return R_DONE;
	}
	m->deleted = 1;
	p->ndele++;
	reply(p, "+OK message %llu deleted", (unsigned long long)n);
	return R_DONE;
}

static int
cmd_noop(struct pop *p, char *arg)
{
	if (*arg != '\0')
		return R_SYNTAX;
	reply(p, "+OK");
	return R_DONE;
}

static int
cmd_rset(struct pop *p, char *arg)
{
	size_t i, n;
	uint64_t sz;

	if (*arg != '\0')
		return R_SYNTAX;
	for (i = 0; i < p->nmsgs; i++)
		p->msgs[i].deleted = 0;
	p->last = 0;
	p->ndele = 0;
	totals(p, &n, &sz);
	reply(p, "+OK maildrop has %zu messages (%llu octets)", n,
	    (unsigned long long)sz);
	return R_DONE;
}

static int
cmd_last(struct pop *p, char *arg)
{
	if (*arg != '\0')
		return R_SYNTAX;
	reply(p, "+OK %u", p->last);
	return R_DONE;
}

/* ---- UPDATE ---- */

/* Removes the deleted messages; replies. */
static void
update(struct pop *p)
{
	struct idx *ix = NULL;
	size_t i, n, left;
	uint64_t sz;
	unsigned failed = 0, removed = 0;

	for (i = 0; i < p->nmsgs; i++) {
		if (!p->msgs[i].deleted)
			continue;
		if (unlinkat(p->dirfd[p->msgs[i].dir], p->msgs[i].name, 0) == -1 &&
		    errno != ENOENT) {
			log_warn("user=%s unlink %s", p->user, pr(p->msgs[i].name));
			p->msgs[i].deleted = 0;		/* still there */
			failed++;
			continue;
		}
		removed++;
	}
	if (removed > 0) {
		/* a failure here is repaired by the next sync (see the top) */
		if (idx_open(&ix, p->maildir, IDX_CREATE) == -1 ||
		    idx_begin(ix) == -1)
			log_warn("user=%s index not updated at QUIT", p->user);
		else {
			for (i = 0; i < p->nmsgs; i++)
				if (p->msgs[i].deleted &&
				    idx_del(ix, p->msgs[i].name) == -1)
					break;
			if (i < p->nmsgs || idx_commit(ix) == -1) {
				idx_abort(ix);
				log_warnx("user=%s index not updated at QUIT",
				    p->user);
			}
		}
		idx_close(&ix);
	}
	totals(p, &n, &sz);
	left = n;
	log_info("logout user=%s retr=%u top=%u dele=%u deleted=%u "
	    "failed=%u left=%zu bytes_out=%llu status=quit", p->user, p->nretr,
	    p->ntop, p->ndele, removed, failed, left, p->io.bytes_out);
	if (failed > 0)
		reply(p, "-ERR [SYS/TEMP] %u messages could not be deleted",
		    failed);
	else
		reply(p, "+OK inetmail POP3 server signing off (%zu messages "
		    "left)", left);
}

/* QUIT in TRANSACTION: UPDATE (RFC 1939 6). */
static int
cmd_quit(struct pop *p, char *arg)
{
	if (*arg != '\0')
		return R_SYNTAX;
	enter_state(p, ST_UPDATE);
	update(p);
	p->quit = 1;
	return R_DONE;
}

/* TRANSACTION (RFC 1939 5, RFC 2449). */
static const struct cmd trans_cmds[] = {
	{ "CAPA",	0,	cmd_capa },
	{ "QUIT",	0,	cmd_quit },
	{ "STAT",	0,	cmd_stat },
	{ "LIST",	0,	cmd_list },
	{ "UIDL",	0,	cmd_uidl },
	{ "RETR",	0,	cmd_retr },
	{ "TOP",	0,	cmd_top },
	{ "DELE",	0,	cmd_dele },
	{ "NOOP",	0,	cmd_noop },
	{ "RSET",	0,	cmd_rset },
	{ "LAST",	0,	cmd_last },
	{ NULL,		0,	NULL }
};

void
maildrop_run(const struct mailuser *u, int leftover, const char *mech,
    const char *ip)
{
	struct pop p;
	char line[POP3_CMD_MAX];
	int r;

	memset(&p, 0, sizeof(p));
	enter_state(&p, ST_TRANS);
	p.mfd = -1;
	p.dirfd[0] = p.dirfd[1] = -1;
	str_copy(p.user, sizeof(p.user), u->name);
	io_init(&p.io, 0, 1, (unsigned)(conf.pop3_timeout / 1000));
	if (leftover != -1) {	/* input pipelined after the login command */
		ssize_t n = pread(leftover, p.io.in, sizeof(p.io.in), 0);

		if (n > 0)
			p.io.inlen = (size_t)n;
		close(leftover);
	}
	if (open_maildrop(&p, u) == -1) {
		io_flush(&p.io);
		return;
	}
	{
		size_t n;
		uint64_t sz;

		totals(&p, &n, &sz);
		reply(&p, "+OK %s has %zu messages (%llu octets)", p.user, n,
		    (unsigned long long)sz);
		log_info("session user=%s ip=%s method=%s messages=%zu size=%llu",
		    p.user, ip, mech, n, (unsigned long long)sz);
	}
	while (!p.quit) {
		if ((r = read_command(&p, line, sizeof(line))) == -1) {
			log_info("logout user=%s retr=%u top=%u dele=0 "
			    "status=aborted", p.user, p.nretr, p.ntop);
			break;
		}
		if (r == 1)
			dispatch(&p, trans_cmds, line);
	}
	io_flush(&p.io);
}
