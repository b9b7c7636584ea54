/*
 * preauth.c - the AUTHORIZATION state: runs as unpriv_user in chroot_dir,
 * parses USER/PASS/AUTH/APOP/CAPA/QUIT, and asks the monitor one question,
 * AUTH(user, password) or APOP(user, digest, timestamp) -> ok / perm /
 * temp. On "ok" this process is done: the monitor starts the post-auth
 * child on the same client fds.
 *
 * Pipelined input after the login command: whatever this process has
 * already read from the socket but not parsed travels to the post-auth
 * child in a memfd with the AUTH request, so no client byte is lost and
 * none is read twice. All replies are flushed before the request, so the
 * post-auth child's first reply is the next thing on the wire.
 *
 * TLS (STLS, RFC 2595, or implicit on 995): plaintext received after the
 * STLS line is dropped before the handshake. After a login over TLS this
 * process keeps the TLS session and relays between the client and the
 * post-auth child over a socketpair; the input already decrypted but not
 * parsed goes through it first. With auth_require_tls, USER/PASS and AUTH
 * PLAIN/LOGIN wait for TLS (APOP sends no password and stays allowed).
 */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "apop.h"
#include "conf.h"
#include "log.h"
#include "pop3d.h"
#include "privsep.h"
#include "sasl.h"
#include "tls_proxy.h"
#include "tls_server.h"
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

/*
 * Sends a login request (f) to the monitor with the unparsed input, and
 * answers the client from the monitor's verdict; on success never returns.
 * The caller has flushed every reply, so the post-auth child speaks next.
 */
static void
ask_monitor(struct pop *p, struct ps_frame *f)
{
	int fd, sp[2] = { -1, -1 };

	if (tls_active(&p->io)) {
		/* sp[0] stays here for the proxy; sp[1] becomes the client
		 * of the post-auth child */
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
			fatal("socketpair");
		fd = sp[1];
	} else
		fd = leftover_fd(p);
	if (ps_send(p->mfd, f, fd) == -1)
		fatal("send to monitor");
	explicit_bzero(f->data, sizeof(f->data));
	if (fd != -1)
		close(fd);
	if (ps_recv(p->mfd, f, -1) == -1 || f->len != 0)
		fatalx("bad answer from monitor");
	if (f->type != POP_ANS_OK && sp[0] != -1)
		close(sp[0]);
	switch (f->type) {
	case POP_ANS_OK:
		if (sp[0] != -1)	/* pop3_timeout ends the session first */
			tls_proxy(&p->io, sp[0],
			    (unsigned)(conf.pop3_timeout / 1000) + 60);
		_exit(0);	/* the post-auth child takes over */
	case POP_ANS_PERM:
		reply(p, "-ERR [AUTH] Authentication failed");
		if (++p->authfails >= POP3_AUTH_TRIES && !p->quit) {
			reply(p, "-ERR [AUTH] Too many failures, closing connection");
			p->quit = 1;
		}
		break;
	case POP_ANS_TEMP:
		reply(p, "-ERR [SYS/TEMP] Authentication temporarily unavailable");
		break;
	case POP_ANS_DELAY:
		/* RFC 2449 8.1.1: not now, try again after a while */
		reply(p, "-ERR [LOGIN-DELAY] Too many failed logins from your "
		    "address, try again later");
		p->quit = 1;
		break;
	default:
		fatalx("bad answer %u from monitor", (unsigned)f->type);
	}
}

/* Asks the monitor; on success never returns. pass is wiped. */
static void
login(struct pop *p, const char *user, void *pass, size_t passlen,
    const char *mech)
{
	struct ps_frame f;
	const char *u = sasl_user(user, USER_NAME_MAX);

	if (io_flush(&p->io) == -1) {
		explicit_bzero(pass, passlen);
		_exit(0);
	}
	ps_init(&f, POP_REQ_AUTH);
	if (ps_put_str(&f, u) == -1 || ps_put_u32(&f, (uint32_t)passlen) == -1 ||
	    ps_put_bytes(&f, pass, passlen) == -1 || ps_put_str(&f, mech) == -1)
		fatalx("auth frame too long");
	explicit_bzero(pass, passlen);
	ask_monitor(p, &f);
}

/* The refusal of a plaintext password before TLS. */
static void
need_tls(struct pop *p)
{
	reply(p, "-ERR Plaintext authentication disallowed without TLS, "
	    "use STLS first");
}

static int
cmd_stls(struct pop *p, char *arg)
{
	size_t dropped;

	if (*arg != '\0')
		return R_SYNTAX;
	if (tls_active(&p->io)) {
		reply(p, "-ERR TLS already active");
		return R_DONE;
	}
	if (tls_mode() != TLS_STARTTLS) {
		reply(p, "-ERR STLS not available");
		return R_DONE;
	}
	reply(p, "+OK Begin TLS negotiation");
	if (io_flush(&p->io) == -1) {
		p->quit = 1;
		return R_DONE;
	}
	/* At this point there must not be any pending plaintext. */
	dropped = p->io.inlen - p->io.inpos;
	io_discard_input(&p->io);
	if (dropped > 0)
		log_info("stls discarded=%zu reason=plaintext_after_stls", dropped);
	if (tls_accept(&p->io, POP3_TIMEOUT_AUTH) == -1) {
		log_info("disconnect reason=tls_handshake_failed");
		p->quit = 1;
		return R_DONE;
	}
	p->have_user = 0;	/* nothing from before TLS counts */
	p->username[0] = '\0';
	return R_DONE;
}

static int
cmd_user(struct pop *p, char *arg)
{
	if (*arg == '\0')
		return R_SYNTAX;
	if (!plaintext_auth_ok(p)) {
		need_tls(p);
		return R_DONE;
	}
	str_copy(p->username, sizeof(p->username), arg);
	p->have_user = 1;
	reply(p, "+OK send PASS");
	return R_DONE;
}

static int
cmd_pass(struct pop *p, char *arg)
{
	size_t n = strlen(arg);

	if (!plaintext_auth_ok(p)) {
		explicit_bzero(arg, n);
		need_tls(p);
		return R_DONE;
	}
	if (!p->have_user) {
		explicit_bzero(arg, n);
		reply(p, "-ERR send USER first");
		return R_DONE;
	}
	p->have_user = 0;
	login(p, p->username, arg, n, "USER");
	return R_DONE;
}

/*
 * APOP name digest (RFC 1939 7): exactly one space between the two, the
 * digest 32 lower-case hex digits. The monitor checks the digest against
 * its own copy of the greeting timestamp; ours is sent so that it can
 * refuse a request that does not belong to this greeting.
 */
static int
cmd_apop(struct pop *p, char *arg)
{
	struct ps_frame f;
	char *digest;

	if (p->apop_ts == NULL) {
		reply(p, "-ERR APOP is not enabled on this server");
		return R_DONE;
	}
	if ((digest = strchr(arg, ' ')) == NULL || digest == arg)
		return R_SYNTAX;
	*digest++ = '\0';
	if (!apop_digest_syntax_ok(digest))
		return R_SYNTAX;
	p->have_user = 0;
	if (io_flush(&p->io) == -1)
		_exit(0);
	ps_init(&f, POP_REQ_APOP);
	if (ps_put_str(&f, sasl_user(arg, USER_NAME_MAX)) == -1 ||
	    ps_put_str(&f, digest) == -1 || ps_put_str(&f, p->apop_ts) == -1)
		fatalx("apop frame too long");
	ask_monitor(p, &f);
	return R_DONE;
}

/* The reply to an exchange that sasl_step ended with result r. */
static void
sasl_refused(struct pop *p, int r)
{
	if (r == SASL_CANCEL)
		reply(p, "-ERR authentication cancelled");
	else if (r == SASL_BAD_BASE64)
		reply(p, "-ERR invalid base64 data");
	else
		reply(p, "-ERR malformed PLAIN response");
}

/*
 * One PLAIN (RFC 4616) or LOGIN exchange (RFC 5034 4): the challenges go
 * out as "+ ", the responses are parsed by sasl_step; ir is the initial
 * response or NULL. On success never returns.
 */
static void
auth_exchange(struct pop *p, int mech, char *ir)
{
	char line[POP3_CMD_MAX], user[USER_NAME_MAX + 1];
	unsigned char buf[SASL_MAX];
	const char *challenge;
	struct sasl x;
	int r;

	sasl_start(&x, mech, buf, sizeof(buf), user, sizeof(user));
	while ((r = sasl_step(&x, ir, &challenge)) == SASL_CONTINUE) {
		reply(p, "+ %s", challenge);
		if (read_command(p, line, sizeof(line)) != 1)
			goto out;	/* over, or a bad line (answered) */
		ir = line;
	}
	if (r == SASL_OK)
		login(p, user, x.pass, x.passlen, sasl_mech_name(mech));
	else
		sasl_refused(p, r);
out:
	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(line, sizeof(line));
}

static int
cmd_auth(struct pop *p, char *arg)
{
	char *ir;
	int mech;

	if (*arg == '\0') {	/* Outlook: list the mechanisms */
		io_printf(&p->io, "+OK\r\n%s.\r\n", plaintext_auth_ok(p) ?
		    "PLAIN\r\nLOGIN\r\n" : "");
		return R_DONE;
	}
	if (sasl_split(arg, &ir) == -1)
		return R_SYNTAX;
	if ((mech = sasl_mech(arg)) == 0) {
		reply(p, "-ERR unsupported authentication mechanism");
		return R_DONE;
	}
	if (!plaintext_auth_ok(p)) {
		need_tls(p);
		return R_DONE;
	}
	auth_exchange(p, mech, ir);
	return R_DONE;
}

static int
cmd_quit(struct pop *p, char *arg)
{
	if (*arg != '\0')
		return R_SYNTAX;
	reply(p, "+OK inetmail POP3 server signing off");
	p->quit = 1;
	return R_DONE;
}

/* AUTHORIZATION (RFC 1939 4, RFC 2449, RFC 2595, RFC 5034). */
static const struct cmd auth_cmds[] = {
	{ "CAPA",	0,		cmd_capa },
	{ "USER",	0,		cmd_user },
	{ "PASS",	CF_RAWARG,	cmd_pass },
	{ "AUTH",	0,		cmd_auth },
	{ "APOP",	0,		cmd_apop },
	{ "STLS",	0,		cmd_stls },
	{ "QUIT",	0,		cmd_quit },
	{ NULL,		0,		NULL }
};

void
preauth_run(int mfd, const char *apop_ts)
{
	struct pop p;
	char line[POP3_CMD_MAX];
	int r;

	memset(&p, 0, sizeof(p));
	p.mfd = mfd;
	p.apop_ts = apop_ts;
	enter_state(&p, ST_AUTH);
	io_init(&p.io, 0, 1, POP3_TIMEOUT_AUTH);
	if (tls_mode() == TLS_IMPLICIT &&
	    tls_accept(&p.io, POP3_TIMEOUT_AUTH) == -1) {
		log_info("disconnect reason=tls_handshake_failed");
		return;
	}
	if (apop_ts != NULL)
		reply(&p, "+OK inetmail POP3 server ready %s", apop_ts);
	else
		reply(&p, "+OK inetmail POP3 server ready");
	while (!p.quit) {
		if ((r = read_command(&p, line, sizeof(line))) == -1)
			break;
		if (r == 1)
			dispatch(&p, auth_cmds, line);
	}
	explicit_bzero(line, sizeof(line));
	io_flush(&p.io);
	tls_end(&p.io);
}
