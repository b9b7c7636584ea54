/*
 * preauth.c - the AUTHORIZATION state: runs as unpriv_user in chroot_dir,
 * parses USER/PASS/AUTH/APOP/CAPA/QUIT, and asks the monitor one question,
 * AUTH(user, password) -> ok / perm / temp. On "ok" this process is done:
 * the monitor starts the post-auth child on the same client fds.
 *
 * Pipelined input after the login command: whatever this process has
 * already read from the socket but not parsed travels to the post-auth
 * child in a memfd with the AUTH request, so no client byte is lost and
 * none is read twice. All replies are flushed before the request, so the
 * post-auth child's first reply is the next thing on the wire.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "pop3d.h"
#include "privsep.h"
#include "util.h"

#define SASL_MAX	POP3_CMD_MAX	/* decoded SASL data */

/* The bytes read from the client but not yet parsed, in a memfd; -1 if none. */
static int
leftover_fd(struct pop *p)
{
	size_t n = p->io.inlen - p->io.inpos;
	int fd;

	if (n == 0)
		return -1;
	if ((fd = memfd_create("pop3-input", MFD_CLOEXEC)) == -1)
		fatal("memfd_create");
	if (write_all(fd, p->io.in + p->io.inpos, n) == -1)
		fatal("memfd write");
	return fd;
}

/* Asks the monitor; on success never returns. pass is wiped. */
static void
login(struct pop *p, const char *user, char *pass, size_t passlen,
    const char *mech)
{
	struct ps_frame f;
	const char *u = user;
	size_t i;
	int fd;

	/* names the monitor would refuse as malformed still cost the delay */
	if (strlen(u) > USER_NAME_MAX)
		u = "";
	for (i = 0; u[i] != '\0'; i++)
		if ((unsigned char)u[i] < 0x20 || u[i] == 0x7f)
			u = "";
	if (io_flush(&p->io) == -1) {
		explicit_bzero(pass, passlen);
		_exit(0);
	}
	ps_init(&f, REQ_AUTH);
	if (ps_put_str(&f, u) == -1 || ps_put_u32(&f, (uint32_t)passlen) == -1 ||
	    ps_put_bytes(&f, pass, passlen) == -1 || ps_put_str(&f, mech) == -1)
		fatalx("auth frame too long");
	explicit_bzero(pass, passlen);
	fd = leftover_fd(p);
	if (ps_send(p->mfd, &f, fd) == -1)
		fatal("send to monitor");
	explicit_bzero(f.data, sizeof(f.data));
	if (fd != -1)
		close(fd);
	if (ps_recv(p->mfd, &f, -1) == -1 || f.len != 0)
		fatalx("bad answer from monitor");
	switch (f.type) {
	case ANS_OK:
		_exit(0);	/* the post-auth child takes over */
	case ANS_PERM:
		reply(p, "-ERR [AUTH] Authentication failed");
		if (++p->authfails >= POP3_AUTH_TRIES && !p->quit) {
			reply(p, "-ERR [AUTH] Too many failures, closing connection");
			p->quit = 1;
		}
		break;
	case ANS_TEMP:
		reply(p, "-ERR [SYS/TEMP] Authentication temporarily unavailable");
		break;
	default:
		fatalx("bad answer %u from monitor", (unsigned)f.type);
	}
}

int
cmd_user(struct pop *p, char *arg)
{
	if (*arg == '\0')
		return R_SYNTAX;
	str_copy(p->username, sizeof(p->username), arg);
	p->have_user = 1;
	reply(p, "+OK send PASS");
	return R_DONE;
}

int
cmd_pass(struct pop *p, char *arg)
{
	size_t n = strlen(arg);

	if (!p->have_user) {
		explicit_bzero(arg, n);
		reply(p, "-ERR send USER first");
		return R_DONE;
	}
	p->have_user = 0;
	login(p, p->username, arg, n, "USER");
	return R_DONE;
}

int
cmd_apop(struct pop *p, char *arg)
{
	(void)arg;
	reply(p, "-ERR APOP is not enabled on this server");
	return R_DONE;
}

/*
 * Reads one SASL continuation line; *cancel when it was "*". 0 ok, -1 the
 * session is over, 1 a bad line (already answered).
 */
static int
sasl_line(struct pop *p, char *line, size_t size)
{
	int r = read_command(p, line, size);

	if (r == -1)
		return -1;
	return r == 1 ? 0 : 1;
}

/* Decodes a SASL response: "=" is empty. -1 answered with -ERR. */
static int
sasl_decode(struct pop *p, const char *in, unsigned char *out, size_t *len)
{
	if (strcmp(in, "*") == 0) {
		reply(p, "-ERR authentication cancelled");
		return -1;
	}
	if (strcmp(in, "=") == 0) {
		*len = 0;
		return 0;
	}
	if (b64_decode(in, out, SASL_MAX, len) == -1) {
		reply(p, "-ERR invalid base64 data");
		return -1;
	}
	return 0;
}

static void
auth_plain(struct pop *p, char *ir)
{
	char line[POP3_CMD_MAX], user[USER_NAME_MAX + 2];
	unsigned char buf[SASL_MAX + 1];
	unsigned char *authz, *authc, *pw, *end;
	size_t n;

	if (ir == NULL) {
		reply(p, "+ ");
		if (sasl_line(p, line, sizeof(line)) != 0)
			return;
		ir = line;
	}
	if (sasl_decode(p, ir, buf, &n) == -1)
		goto out;
	end = buf + n;
	authz = buf;
	if ((authc = memchr(authz, '\0', n)) == NULL) {
		reply(p, "-ERR malformed PLAIN response");
		goto out;
	}
	authc++;
	if ((pw = memchr(authc, '\0', (size_t)(end - authc))) == NULL) {
		reply(p, "-ERR malformed PLAIN response");
		goto out;
	}
	pw++;
	if (memchr(pw, '\0', (size_t)(end - pw)) != NULL) {
		reply(p, "-ERR malformed PLAIN response");
		goto out;
	}
	if ((size_t)(pw - 1 - authc) > USER_NAME_MAX)
		user[0] = '\0';
	else {
		memcpy(user, authc, (size_t)(pw - 1 - authc));
		user[pw - 1 - authc] = '\0';
	}
	if (authz[0] != '\0' && strcmp((char *)authz, user) != 0) {
		/* acting for someone else is not offered; a failed login */
		user[0] = '\0';
	}
	login(p, user, (char *)pw, (size_t)(end - pw), "PLAIN");
out:
	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(line, sizeof(line));
}

static void
auth_login(struct pop *p, char *ir)
{
	char line[POP3_CMD_MAX], user[USER_NAME_MAX + 2];
	unsigned char buf[SASL_MAX + 1];
	size_t n;

	if (ir == NULL) {
		reply(p, "+ VXNlcm5hbWU6");
		if (sasl_line(p, line, sizeof(line)) != 0)
			return;
		ir = line;
	}
	if (sasl_decode(p, ir, buf, &n) == -1)
		return;
	if (n > USER_NAME_MAX || memchr(buf, '\0', n) != NULL)
		n = 0;
	memcpy(user, buf, n);
	user[n] = '\0';
	reply(p, "+ UGFzc3dvcmQ6");
	if (sasl_line(p, line, sizeof(line)) != 0)
		return;
	if (sasl_decode(p, line, buf, &n) == -1)
		goto out;
	login(p, user, (char *)buf, n, "LOGIN");
out:
	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(line, sizeof(line));
}

int
cmd_auth(struct pop *p, char *arg)
{
	char *ir;

	if (*arg == '\0') {	/* Outlook: list the mechanisms */
		io_printf(&p->io, "+OK\r\nPLAIN\r\nLOGIN\r\n.\r\n");
		return R_DONE;
	}
	if ((ir = strchr(arg, ' ')) != NULL) {
		*ir++ = '\0';
		if (*ir == '\0' || strchr(ir, ' ') != NULL)
			return R_SYNTAX;
	}
	if (strcasecmp(arg, "PLAIN") == 0)
		auth_plain(p, ir);
	else if (strcasecmp(arg, "LOGIN") == 0)
		auth_login(p, ir);
	else
		reply(p, "-ERR unsupported authentication mechanism");
	return R_DONE;
}

void
preauth_run(int mfd)
{
	struct pop p;
	char line[POP3_CMD_MAX];
	int r;

	memset(&p, 0, sizeof(p));
	p.mfd = mfd;
	p.state = ST_AUTH;
	io_init(&p.io, 0, 1, POP3_TIMEOUT_AUTH);
	reply(&p, "+OK inetmail POP3 server ready");
	while (!p.quit) {
		if ((r = read_command(&p, line, sizeof(line))) == -1)
			break;
		if (r == 1)
			dispatch(&p, line);
	}
	explicit_bzero(line, sizeof(line));
	io_flush(&p.io);
}
