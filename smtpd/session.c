/*
 * session.c - the SMTP session: runs unprivileged in chroot_dir, parses
 * everything the client sends, and asks the monitor a few fixed questions
 * (may this recipient receive; is this login right; is this sender the
 * user's; deliver this message). One command table; each handler writes
 * its own replies through reply(), which also counts errors, and returns
 * R_DONE or a result for which the dispatcher writes the generic reply
 * (syntax, bad sequence). State changes go through enter_state().
 *
 * DATA and BDAT are smuggling-proof: only CR LF "." CR LF ends DATA, where
 * the CR LF before the dot is the previous line's real end; a bare CR or LF
 * or a NUL anywhere in the message gets it rejected after the real end of
 * data; pipelining sync is enforced after the commands RFC 2920 puts last
 * in a group.
 *
 * STARTTLS (RFC 3207): at this point there must not be any pending
 * plaintext. Whatever the client sent after the STARTTLS line is dropped
 * before the handshake (CVE-2011-0411), and afterwards the session starts
 * over without a new greeting: HELO/EHLO, MAIL and RCPT are forgotten.
 * With tls = implicit (port 465) the handshake comes before the greeting.
 *
 * AUTH PLAIN and LOGIN (RFC 4954) on role = submission only, and only
 * after TLS unless auth_require_tls = no (or no TLS is configured at all);
 * the monitor checks the credentials and remembers who logged in. On
 * submission MAIL needs AUTH first, and with sender_check the monitor
 * says whether the sender belongs to that user. Whether a recipient
 * outside local_domains may be relayed to is the monitor's decision too.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "lineio.h"
#include "log.h"
#include "message.h"
#include "params.h"
#include "privsep.h"
#include "sasl.h"
#include "smtpd.h"
#include "tls_server.h"
#include "util.h"

/* Session states, as bits so a command table row can allow several. */
#define ST_GREET	0x01	/* no HELO/EHLO yet */
#define ST_HELO		0x02	/* HELO/EHLO done, no transaction */
#define ST_MAIL		0x04	/* MAIL accepted */
#define ST_RCPT		0x08	/* at least one RCPT accepted */
#define ST_ANY		0x0f

#define CF_SYNC		0x01	/* must end a pipelined group (RFC 2920 3.1) */

/* Handlers return one of these; the dispatcher writes the generic replies. */
#define R_DONE		0	/* the handler replied */
#define R_SYNTAX	1	/* 501 Syntax: the command's usage */
#define R_NEED_HELO	2	/* 503 send HELO/EHLO first */
#define R_NESTED_MAIL	3	/* 503 nested MAIL command */
#define R_NEED_MAIL	4	/* 503 need MAIL command */
#define R_NO_RCPT	5	/* 554 no valid recipients */
#define R_NEED_RCPT	6	/* 503 need RCPT command */
#define R_IN_TX		7	/* 503 MAIL transaction in progress */

struct session {
	struct io	 io;
	int		 mfd;		/* monitor socket */
	const struct peer *peer;
	unsigned	 state;
	int		 esmtp;
	char		 helo[SMTP_DOMAIN_MAX + 1];
	char		 sender[SMTP_PATH_MAX + 1];
	int		 utf8;		/* MAIL ... SMTPUTF8 */
	char		(*rcpts)[SMTP_PATH_MAX + 1];
	unsigned	 nrcpt;
	int		 bdat;		/* a BDAT transaction is under way */
	int		 bdat_failed;	/* an earlier chunk was refused */
	struct msgw	 w;
	char		 msgid[16];
	unsigned	 errors, ncmds;
	int		 quit;
	char		 auth_user[USER_NAME_MAX + 1];	/* "" until AUTH */
	unsigned	 authfails;
};

#define SASL_MAX	(SMTP_AUTH_LINE_MAX / 4 * 3)	/* decoded response */

static void	 reply(struct session *, int code, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static void
reply(struct session *s, int code, const char *fmt, ...)
{
	char text[SMTP_CMD_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	io_printf(&s->io, "%d %s\r\n", code, text);
	if (code >= 400) {
		log_info("reject code=%d text=\"%s\"", code, pr(text));
		if (code != 421 && ++s->errors >= conf.max_errors) {
			io_printf(&s->io, "421 4.7.0 %s Error: too many errors\r\n",
			    conf.hostname);
			log_info("disconnect reason=too_many_errors");
			s->quit = 1;
		}
	}
}

static const char *
state_name(unsigned state)
{
	switch (state) {
	case ST_GREET:	return "GREET";
	case ST_HELO:	return "HELO";
	case ST_MAIL:	return "MAIL";
	case ST_RCPT:	return "RCPT";
	default:	return "NONE";
	}
}

/* Every state change goes through here, and is logged (with -d). */
static void
enter_state(struct session *s, unsigned state)
{
	if (s->state == state)
		return;
	log_debug("state from=%s to=%s", state_name(s->state),
	    state_name(state));
	s->state = state;
}

/* ---- transaction ------------------------------------------------------- */

static void
new_msgid(struct session *s)
{
	static const char set[] = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
	unsigned char r[10];
	size_t i;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		fatal("getrandom");
	for (i = 0; i < sizeof(r); i++)
		s->msgid[i] = set[r[i] % (sizeof(set) - 1)];
	s->msgid[i] = '\0';
}

static void
reset_transaction(struct session *s)
{
	if (s->state & (ST_MAIL | ST_RCPT))
		enter_state(s, ST_HELO);
	s->nrcpt = 0;
	s->sender[0] = '\0';
	s->utf8 = 0;
	if (s->bdat)
		msgw_discard(&s->w);
	s->bdat = s->bdat_failed = 0;
}

/* Asks the monitor about addr; returns its answer type. */
static uint32_t
ask(struct session *s, uint32_t type, const char *addr, char *detail, size_t size)
{
	struct ps_frame f;

	ps_init(&f, type);
	if (ps_put_str(&f, addr) == -1 || ps_send(s->mfd, &f, -1) == -1 ||
	    ps_recv(s->mfd, &f, -1) == -1)
		fatalx("monitor went away");
	if (ps_get_str(&f, detail, size) == -1)
		fatalx("monitor: bad answer");
	return f.type;
}

static void
write_received(struct session *s)
{
	char date[64], line[1024];
	time_t now = time(NULL);
	struct tm tm;
	char proto[16], tls[128], using[160] = "";
	int secure = tls_active(&s->io);

	/* RFC 3848 protocol types: ESMTPS, ESMTPA, ESMTPSA; UTF8SMTPS and
	 * UTF8SMTPSA (RFC 6531) */
	str_fmt(proto, sizeof(proto), "%s%s%s", s->esmtp ? (s->utf8 ?
	    "UTF8SMTP" : "ESMTP") : "SMTP", secure && s->esmtp ? "S" : "",
	    s->auth_user[0] != '\0' && s->esmtp ? "A" : "");
	if (secure) {
		tls_describe(&s->io, tls, sizeof(tls));
		str_fmt(using, sizeof(using), "\n\t(using %s)", tls);
	}
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	if (s->nrcpt == 1)
		str_fmt(line, sizeof(line), "Received: from %s (%s)%s\n\tby %s "
		    "(inetmail) with %s id %s\n\tfor <%s>; %s\n", s->helo,
		    s->peer->name, using, conf.hostname, proto, s->msgid,
		    s->rcpts[0], date);
	else
		str_fmt(line, sizeof(line), "Received: from %s (%s)%s\n\tby %s "
		    "(inetmail) with %s id %s;\n\t%s\n", s->helo, s->peer->name,
		    using, conf.hostname, proto, s->msgid, date);
	msgw_put(&s->w, line, strlen(line));
}

/* Reports the message writer's verdict or delivers; ends the transaction. */
static void
finish_message(struct session *s)
{
	struct ps_frame f;
	char detail[64];
	unsigned i, err;

	msgw_finish(&s->w);
	err = s->w.err;
	if (err & E_IO)
		reply(s, 451, "4.3.0 Error: local error while storing message");
	else if (err & E_SIZE)
		reply(s, 552, "5.3.4 Error: message too big");
	else if (err & E_EOL)
		reply(s, 550, "5.6.0 Error: bare CR or LF in message text");
	else if (err & E_NUL)
		reply(s, 550, "5.6.0 Error: NUL byte in message text");
	else if (err & E_LONG)
		reply(s, 550, "5.6.0 Error: message line longer than 998 octets");
	else if (err & E_LOOP)
		reply(s, 554, "5.4.6 Error: too many hops (mail loop?)");
	if (err != 0) {
		log_info("msgid=%s from=<%s> size=%llu status=rejected", s->msgid,
		    pr(s->sender), (unsigned long long)s->w.size);
		goto done;
	}
	for (i = 0; i < s->nrcpt; i++) {
		ps_init(&f, REQ_DELIVER_RCPT);
		if (ps_put_str(&f, s->rcpts[i]) == -1 ||
		    ps_send(s->mfd, &f, -1) == -1)
			fatalx("monitor went away");
	}
	ps_init(&f, REQ_DELIVER);
	if (ps_put_str(&f, s->sender) == -1 || ps_put_str(&f, s->msgid) == -1 ||
	    ps_send(s->mfd, &f, s->w.fd) == -1 || ps_recv(s->mfd, &f, -1) == -1 ||
	    ps_get_str(&f, detail, sizeof(detail)) == -1)
		fatalx("monitor went away");
	switch (f.type) {
	case ANS_OK:
		reply(s, 250, "2.0.0 Ok: queued as %s", s->msgid);
		log_info("msgid=%s from=<%s> nrcpt=%u size=%llu status=accepted",
		    s->msgid, pr(s->sender), s->nrcpt, (unsigned long long)s->w.size);
		break;
	case ANS_FULL:
		reply(s, 452, "4.3.1 Error: insufficient system storage");
		break;
	default:
		reply(s, 451, "4.3.0 Error: local delivery failed, try again later");
		break;
	}
done:
	msgw_discard(&s->w);
	s->bdat = 0;
	reset_transaction(s);
}

/* ---- commands ---------------------------------------------------------- */

static int
submission(void)
{
	return conf.role == ROLE_SUBMISSION;
}

/* May a plaintext mechanism (PLAIN, LOGIN) be used now? Only inside TLS
 * unless auth_require_tls = no (RFC 4954 4): a submission listener without
 * a certificate offers no AUTH at all rather than take system passwords
 * in clear. */
static int
plaintext_auth_ok(const struct session *s)
{
	return !conf.auth_require_tls || tls_active(&s->io);
}

static int
helo_name_ok(const char *h)
{
	size_t n = strlen(h);

	if (n == 0 || n > SMTP_DOMAIN_MAX)
		return 0;
	return strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789.-_:[]") == n;
}

static int
cmd_helo(struct session *s, char *arg, int esmtp)
{
	if (!helo_name_ok(arg))
		return R_SYNTAX;
	reset_transaction(s);
	str_copy(s->helo, sizeof(s->helo), arg);
	s->esmtp = esmtp;
	enter_state(s, ST_HELO);
	if (!esmtp) {
		io_printf(&s->io, "250 %s\r\n", conf.hostname);
		return R_DONE;
	}
	io_printf(&s->io, "250-%s\r\n250-PIPELINING\r\n250-SIZE %llu\r\n"
	    "250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n%s%s250-SMTPUTF8\r\n"
	    "250 CHUNKING\r\n", conf.hostname,
	    (unsigned long long)conf.max_message_size,
	    tls_mode() == TLS_STARTTLS && !tls_active(&s->io) ?
	    "250-STARTTLS\r\n" : "",
	    submission() && plaintext_auth_ok(s) ? "250-AUTH PLAIN LOGIN\r\n" :
	    "");
	return R_DONE;
}

static int cmd_ehlo(struct session *s, char *arg) { return cmd_helo(s, arg, 1); }
static int cmd_helo1(struct session *s, char *arg) { return cmd_helo(s, arg, 0); }

/* Skips "FROM:" / "TO:" and optional spaces; NULL if absent. */
static char *
after_keyword(char *arg, const char *kw)
{
	size_t n = str_prefix_ci(arg, kw);

	if (n == 0)
		return NULL;
	arg += n;
	while (*arg == ' ')
		arg++;
	return arg;
}

static int
cmd_mail(struct session *s, char *arg)
{
	char addr[SMTP_PATH_MAX + 1], *p, *param;
	const char *rest;
	int flags, utf8 = 0;

	if (submission() && s->auth_user[0] == '\0') {
		reply(s, 530, "5.7.0 Authentication required");
		return R_DONE;
	}
	if ((p = after_keyword(arg, "FROM:")) == NULL)
		return R_SYNTAX;
	if (parse_path(p, addr, sizeof(addr), &rest, &flags) == -1) {
		reply(s, 501, "5.1.7 Bad sender address syntax");
		return R_DONE;
	}
	p = (char *)rest;
	if (*p != '\0' && *p != ' ') {
		reply(s, 501, "5.1.7 Bad sender address syntax");
		return R_DONE;
	}
	while ((param = strsep(&p, " ")) != NULL) {
		uint64_t size;

		if (*param == '\0')
			continue;
		if (!s->esmtp) {
			reply(s, 555, "5.5.4 Parameters need EHLO");
			return R_DONE;
		}
		if (str_prefix_ci(param, "SIZE=")) {
			if (parse_u64(param + 5, UINT64_MAX, &size) == -1) {
				reply(s, 501, "5.5.4 Bad SIZE parameter");
				return R_DONE;
			}
			if (size > conf.max_message_size) {
				reply(s, 552, "5.3.4 Message size exceeds fixed limit");
				return R_DONE;
			}
		} else if (str_prefix_ci(param, "BODY=")) {
			if (strcasecmp(param + 5, "7BIT") != 0 &&
			    strcasecmp(param + 5, "8BITMIME") != 0) {
				reply(s, 501, "5.5.4 Unsupported BODY type");
				return R_DONE;
			}
		} else if (strcasecmp(param, "SMTPUTF8") == 0) {
			utf8 = 1;
		} else if (str_prefix_ci(param, "AUTH=")) {
			;	/* RFC 4954 5: accepted; meaningful only when relaying */
		} else {
			reply(s, 555, "5.5.4 Unsupported parameter %.40s", param);
			return R_DONE;
		}
	}
	if ((flags & ADDR_UTF8) && !utf8) {
		reply(s, 553, "5.6.7 Non-ASCII address needs SMTPUTF8");
		return R_DONE;
	}
	if (submission() && conf.sender_check) {
		char user[USER_NAME_MAX + 1];

		switch (ask(s, REQ_SENDER, addr, user, sizeof(user))) {
		case ANS_OK:
			break;
		case ANS_NOT_OWNER:
			reply(s, 553, "5.7.1 <%s>: Sender address rejected: not "
			    "owned by user %s", addr, user);
			return R_DONE;
		default:
			reply(s, 451, "4.3.0 <%s>: Temporary lookup failure", addr);
			return R_DONE;
		}
	}
	new_msgid(s);
	str_copy(s->sender, sizeof(s->sender), addr);
	s->utf8 = utf8;
	enter_state(s, ST_MAIL);
	s->nrcpt = 0;
	reply(s, 250, "2.1.0 Ok");
	return R_DONE;
}

/* RCPT in a transaction: the monitor checks the recipient and, knowing
 * the sender, greylisting (REQ_TX_RCPT). */
static uint32_t
ask_rcpt(struct session *s, const char *addr, char *detail, size_t size)
{
	struct ps_frame f;

	ps_init(&f, REQ_TX_RCPT);
	if (ps_put_str(&f, addr) == -1 || ps_put_str(&f, s->sender) == -1 ||
	    ps_send(s->mfd, &f, -1) == -1 || ps_recv(s->mfd, &f, -1) == -1)
		fatalx("monitor went away");
	if (ps_get_str(&f, detail, size) == -1)
		fatalx("monitor: bad answer");
	return f.type;
}

static int
cmd_rcpt(struct session *s, char *arg)
{
	char addr[SMTP_PATH_MAX + 1], detail[32], *p;
	const char *rest;
	int flags;

	if ((p = after_keyword(arg, "TO:")) == NULL)
		return R_SYNTAX;
	if (parse_path(p, addr, sizeof(addr), &rest, &flags) == -1 ||
	    addr[0] == '\0') {
		reply(s, 501, "5.1.3 Bad recipient address syntax");
		return R_DONE;
	}
	if (*rest != '\0') {
		reply(s, *rest == ' ' ? 555 : 501, *rest == ' ' ?
		    "5.5.4 Unsupported parameter" : "5.1.3 Bad recipient address syntax");
		return R_DONE;
	}
	if ((flags & ADDR_UTF8) && !s->utf8) {
		reply(s, 553, "5.6.7 Non-ASCII address needs SMTPUTF8");
		return R_DONE;
	}
	if (s->nrcpt >= conf.max_recipients) {
		reply(s, 452, "4.5.3 Error: too many recipients");
		return R_DONE;
	}
	/* relaying is the monitor's decision: it knows who authenticated
	 * and the client's real address */
	switch (ask_rcpt(s, addr, detail, sizeof(detail))) {
	case ANS_OK:
		break;
	case ANS_RELAY:
		reply(s, 554, "5.7.1 <%s>: Relay access denied", addr);
		return R_DONE;
	case ANS_NOUSER:
		reply(s, 550, "5.1.1 <%s>: Recipient address rejected: User unknown", addr);
		return R_DONE;
	case ANS_GREYLISTED:
		reply(s, 450, "4.2.0 <%s>: Recipient address rejected: "
		    "Greylisted, try again in %s seconds", addr, detail);
		return R_DONE;
	default:
		reply(s, 451, "4.3.0 <%s>: Temporary lookup failure", addr);
		return R_DONE;
	}
	if (s->rcpts == NULL)
		s->rcpts = xcalloc(conf.max_recipients, sizeof(*s->rcpts));
	str_copy(s->rcpts[s->nrcpt++], sizeof(s->rcpts[0]), addr);
	enter_state(s, ST_RCPT);
	reply(s, 250, "2.1.5 Ok");
	return R_DONE;
}

static int
cmd_data(struct session *s, char *arg)
{
	int r;

	if (*arg != '\0')
		return R_SYNTAX;
	if (s->bdat) {
		reply(s, 503, "5.5.1 Error: DATA after BDAT");
		return R_DONE;
	}
	if (msgw_start(&s->w) == -1) {
		reply(s, 451, "4.3.0 Error: local error");
		return R_DONE;
	}
	write_received(s);
	reply(s, 354, "End data with <CR><LF>.<CR><LF>");
	if ((r = msgw_read_data(&s->w, &s->io)) != IO_OK) {
		msgw_discard(&s->w);
		if (r == IO_TIMEOUT)
			reply(s, 421, "4.4.2 %s Error: timeout exceeded", conf.hostname);
		log_info("msgid=%s status=lost_connection during DATA", s->msgid);
		s->quit = 1;
		return R_DONE;
	}
	finish_message(s);
	return R_DONE;
}

static int
cmd_bdat(struct session *s, char *arg)
{
	char chunk[16384], *sp, *last = NULL;
	uint64_t size, left;
	int is_last = 0;

	sp = strchr(arg, ' ');
	if (sp != NULL) {
		*sp = '\0';
		last = sp + 1;
	}
	/* A syntax error: the chunk length is unknown, nothing can be skipped. */
	if (parse_u64(arg, UINT64_MAX / 2, &size) == -1 ||
	    (last != NULL && !(is_last = strcasecmp(last, "LAST") == 0)))
		return R_SYNTAX;
	/* The chunk is read in full even when it is refused (RFC 3030 2). */
	if (s->state == ST_RCPT && !s->bdat_failed && !s->bdat) {
		if (msgw_start(&s->w) == -1)
			s->bdat_failed = 1;
		else {
			s->bdat = 1;
			write_received(s);
		}
	}
	for (left = size; left > 0; ) {
		ssize_t n = io_read(&s->io, chunk, left < sizeof(chunk) ?
		    (size_t)left : sizeof(chunk));

		if (n <= 0) {
			if (n == IO_TIMEOUT)
				reply(s, 421, "4.4.2 %s Error: timeout exceeded", conf.hostname);
			s->quit = 1;
			return R_DONE;
		}
		if (s->bdat)
			msgw_feed(&s->w, chunk, (size_t)n);
		left -= (uint64_t)n;
	}
	if (s->state == ST_GREET || s->state == ST_HELO)
		return R_NEED_MAIL;
	if (s->state == ST_MAIL)
		return R_NO_RCPT;
	if (!s->bdat) {
		reply(s, s->bdat_failed ? 503 : 451, s->bdat_failed ?
		    "5.5.1 Error: transaction failed, send RSET" :
		    "4.3.0 Error: local error");
		return R_DONE;
	}
	if (is_last) {
		finish_message(s);
		return R_DONE;
	}
	if (s->w.err & E_SIZE) {
		reply(s, 552, "5.3.4 Error: message too big");
		msgw_discard(&s->w);
		s->bdat = 0;
		s->bdat_failed = 1;
		return R_DONE;
	}
	reply(s, 250, "2.0.0 Ok: %llu octets received", (unsigned long long)size);
	return R_DONE;
}

/* Tells the monitor that plaintext is over (it must not write any). */
static void
tls_notify(struct session *s)
{
	struct ps_frame f;

	ps_init(&f, REQ_TLS);
	if (ps_send(s->mfd, &f, -1) == -1)
		fatalx("monitor went away");
}

static int
cmd_starttls(struct session *s, char *arg)
{
	size_t dropped;

	if (tls_active(&s->io)) {
		reply(s, 503, "5.5.1 Error: TLS already active");
		return R_DONE;
	}
	if (tls_mode() != TLS_STARTTLS) {
		reply(s, 502, "5.5.1 Error: command not implemented");
		return R_DONE;
	}
	if (*arg != '\0')
		return R_SYNTAX;
	if (s->state & (ST_MAIL | ST_RCPT))
		return R_IN_TX;
	reply(s, 220, "2.0.0 Ready to start TLS");
	if (io_flush(&s->io) == -1) {
		s->quit = 1;
		return R_DONE;
	}
	/* CVE-2011-0411: no plaintext from before the handshake survives it. */
	dropped = s->io.inlen - s->io.inpos;
	io_discard_input(&s->io);
	if (dropped > 0)
		log_info("starttls discarded=%zu reason=plaintext_after_starttls",
		    dropped);
	if (tls_accept(&s->io, (unsigned)(conf.smtp_timeout / 1000)) == -1) {
		log_info("disconnect reason=tls_handshake_failed");
		s->quit = 1;
		return R_DONE;
	}
	tls_notify(s);
	/* RFC 3207 4.2: forget everything, the client starts with EHLO
	 * (a login before TLS too; the monitor forgets it at REQ_TLS). */
	reset_transaction(s);
	enter_state(s, ST_GREET);
	s->esmtp = 0;
	s->helo[0] = '\0';
	s->auth_user[0] = '\0';
	return R_DONE;
}

/* ---- AUTH (RFC 4954) ----------------------------------------------------- */

/*
 * Reads one SASL response line (up to SMTP_AUTH_LINE_MAX with CRLF).
 * 0 ok; -1 the exchange is over: answered, or the session ends.
 */
static int
sasl_line(struct session *s, char *line, size_t size)
{
	size_t len;
	unsigned flags;
	int r;

	r = io_getline(&s->io, line, size - 2, &len, &flags);
	if (r == IO_TIMEOUT) {
		reply(s, 421, "4.4.2 %s Error: timeout exceeded", conf.hostname);
		s->quit = 1;
		return -1;
	}
	if (r != IO_OK) {
		log_info("disconnect reason=%s during AUTH", r == IO_EOF ? "eof" :
		    "error");
		s->quit = 1;
		return -1;
	}
	if (++s->ncmds > SMTP_MAX_COMMANDS) {
		reply(s, 421, "4.7.0 %s Error: too many commands", conf.hostname);
		s->quit = 1;
		return -1;
	}
	if (flags & IOL_LONG) {
		reply(s, 500, "5.5.6 Authentication Exchange line is too long");
		return -1;
	}
	if (flags & (IOL_BARE_LF | IOL_BARE_CR | IOL_NUL)) {
		reply(s, 501, "5.5.2 Error: bad characters in AUTH response");
		return -1;
	}
	return 0;
}

/* The reply to an exchange that sasl_step ended with result r. */
static void
sasl_refused(struct session *s, int r)
{
	if (r == SASL_CANCEL)
		reply(s, 501, "5.7.0 Authentication aborted");
	else if (r == SASL_BAD_BASE64)
		reply(s, 501, "5.5.2 Cannot decode response");
	else
		reply(s, 501, "5.5.2 Malformed PLAIN response");
}

/* Asks the monitor to check user/pass and answers the client. */
static void
login(struct session *s, const char *user, unsigned char *pass,
    size_t passlen, const char *mech)
{
	struct ps_frame f;
	char who[USER_NAME_MAX + 1];
	const char *u = sasl_user(user, USER_NAME_MAX);

	if (passlen > SMTP_PASS_MAX) {	/* no such password: fail, checked */
		u = "";
		passlen = 0;
	}
	ps_init(&f, REQ_AUTH);
	if (ps_put_str(&f, u) == -1 || ps_put_u32(&f, (uint32_t)passlen) == -1 ||
	    ps_put_bytes(&f, pass, passlen) == -1 || ps_put_str(&f, mech) == -1)
		fatalx("auth frame too long");
	explicit_bzero(pass, passlen);
	if (ps_send(s->mfd, &f, -1) == -1)
		fatalx("monitor went away");
	explicit_bzero(f.data, sizeof(f.data));
	if (ps_recv(s->mfd, &f, -1) == -1 ||
	    ps_get_str(&f, who, sizeof(who)) == -1)
		fatalx("monitor: bad answer");
	switch (f.type) {
	case ANS_OK:
		str_copy(s->auth_user, sizeof(s->auth_user), who);
		reply(s, 235, "2.7.0 Authentication successful");
		break;
	case ANS_AUTH_FAIL:
		reply(s, 535, "5.7.8 Authentication credentials invalid");
		if (++s->authfails >= SMTP_AUTH_TRIES && !s->quit) {
			reply(s, 421, "4.7.0 %s Error: too many failed "
			    "authentication attempts", conf.hostname);
			log_info("disconnect reason=auth_failures");
			s->quit = 1;
		}
		break;
	case ANS_AUTH_BLOCKED:
		reply(s, 421, "4.7.0 %s Error: too many failed logins from "
		    "your address, try again later", conf.hostname);
		log_info("disconnect reason=auth_throttled");
		s->quit = 1;
		break;
	case ANS_TEMP:
		reply(s, 454, "4.7.0 Temporary authentication failure");
		break;
	default:
		fatalx("bad answer %u from monitor", (unsigned)f.type);
	}
}

/*
 * One PLAIN (RFC 4616) or LOGIN exchange: the challenges go out as "334",
 * the responses are parsed by sasl_step; ir is the initial response or
 * NULL.
 */
static void
auth_exchange(struct session *s, int mech, char *ir)
{
	static char line[SMTP_AUTH_LINE_MAX];
	static unsigned char buf[SASL_MAX];
	char user[USER_NAME_MAX + 1];
	const char *challenge;
	struct sasl x;
	int r;

	sasl_start(&x, mech, buf, sizeof(buf), user, sizeof(user));
	while ((r = sasl_step(&x, ir, &challenge)) == SASL_CONTINUE) {
		io_printf(&s->io, "334 %s\r\n", challenge);
		if (sasl_line(s, line, sizeof(line)) == -1)
			goto out;
		ir = line;
	}
	if (r == SASL_OK)
		login(s, user, x.pass, x.passlen, sasl_mech_name(mech));
	else
		sasl_refused(s, r);
out:
	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(line, sizeof(line));
}

static int
cmd_auth(struct session *s, char *arg)
{
	char *ir;
	int mech;

	if (!submission()) {
		reply(s, 503, "5.5.1 Error: authentication not enabled");
		return R_DONE;
	}
	if (!s->esmtp) {
		reply(s, 503, "5.5.1 Error: send EHLO first");
		return R_DONE;
	}
	if (s->state & (ST_MAIL | ST_RCPT))
		return R_IN_TX;
	if (s->auth_user[0] != '\0') {
		reply(s, 503, "5.5.1 Error: already authenticated");
		return R_DONE;
	}
	if (sasl_split(arg, &ir) == -1 || *arg == '\0')
		return R_SYNTAX;
	if ((mech = sasl_mech(arg)) == 0) {
		reply(s, 504, "5.5.4 Unrecognized authentication type");
		return R_DONE;
	}
	if (!plaintext_auth_ok(s)) {
		reply(s, 538, "5.7.11 Encryption required for requested "
		    "authentication mechanism");
		return R_DONE;
	}
	auth_exchange(s, mech, ir);
	return R_DONE;
}

static int
cmd_rset(struct session *s, char *arg)
{
	(void)arg;
	reset_transaction(s);
	reply(s, 250, "2.0.0 Ok");
	return R_DONE;
}

static int
cmd_noop(struct session *s, char *arg)
{
	(void)arg;
	reply(s, 250, "2.0.0 Ok");
	return R_DONE;
}

static int
cmd_quit(struct session *s, char *arg)
{
	(void)arg;
	reply(s, 221, "2.0.0 Bye");
	s->quit = 1;
	return R_DONE;
}

static int
cmd_help(struct session *s, char *arg)
{
	(void)arg;
	reply(s, 214, "2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP "
	    "QUIT HELP VRFY EXPN%s", submission() ? " AUTH" : "");
	return R_DONE;
}

/* VRFY and EXPN take a bare name or a path. */
static int
name_arg(const char *arg, char *addr, size_t size)
{
	const char *rest;
	int flags;

	if (arg[0] == '<')
		return parse_path(arg, addr, size, &rest, &flags) == -1 ||
		    *rest != '\0' || addr[0] == '\0' ? -1 : 0;
	if (arg[0] == '\0' || strpbrk(arg, " <>\"") != NULL)
		return -1;
	return str_copy(addr, size, arg);
}

static int
cmd_vrfy(struct session *s, char *arg)
{
	char addr[SMTP_PATH_MAX + 1], detail[8];

	if (arg[0] == '\0')
		return R_SYNTAX;
	if (!conf.vrfy) {
		reply(s, 252, "2.5.2 Cannot VRFY user, but will accept message "
		    "and attempt delivery");
		return R_DONE;
	}
	if (name_arg(arg, addr, sizeof(addr)) == -1) {
		reply(s, 501, "5.1.3 Bad address syntax");
		return R_DONE;
	}
	switch (ask(s, REQ_RCPT, addr, detail, sizeof(detail))) {
	case ANS_OK:
		reply(s, 250, "2.1.5 <%s>", addr);
		break;
	case ANS_NOUSER:
		reply(s, 550, "5.1.1 <%s>: User unknown", addr);
		break;
	default:
		reply(s, 451, "4.3.0 Temporary lookup failure");
	}
	return R_DONE;
}

static int
cmd_expn(struct session *s, char *arg)
{
	char addr[SMTP_PATH_MAX + 1], list[1024], *p, *name;

	if (!conf.expn) {
		reply(s, 502, "5.5.1 EXPN not available");
		return R_DONE;
	}
	if (name_arg(arg, addr, sizeof(addr)) == -1)
		return R_SYNTAX;
	if (ask(s, REQ_EXPN, addr, list, sizeof(list)) != ANS_OK) {
		reply(s, 550, "5.1.1 <%s>: no such list or user", addr);
		return R_DONE;
	}
	p = list;
	while ((name = strsep(&p, " ")) != NULL)
		io_printf(&s->io, "250%c2.1.5 <%s%s%s>\r\n", p ? '-' : ' ', name,
		    strchr(name, '@') ? "" : "@",	/* forwarding: an address */
		    strchr(name, '@') ? "" : conf.hostname);
	return R_DONE;
}

struct cmd {
	const char	*name;
	unsigned	 states;
	unsigned	 flags;
	int		(*fn)(struct session *, char *);
	const char	*usage;		/* for R_SYNTAX */
};

static const struct cmd cmds[] = {
	{ "EHLO",	ST_ANY,		CF_SYNC,	cmd_ehlo, "EHLO hostname" },
	{ "HELO",	ST_ANY,		CF_SYNC,	cmd_helo1, "HELO hostname" },
	{ "MAIL",	ST_HELO,	0,		cmd_mail,
	    "MAIL FROM:<address>" },
	{ "RCPT",	ST_MAIL | ST_RCPT, 0,		cmd_rcpt, "RCPT TO:<address>" },
	{ "DATA",	ST_RCPT,	CF_SYNC,	cmd_data, "DATA" },
	{ "BDAT",	ST_ANY,		0,		cmd_bdat, "BDAT size [LAST]" },
	{ "RSET",	ST_ANY,		0,		cmd_rset, NULL },
	{ "NOOP",	ST_ANY,		CF_SYNC,	cmd_noop, NULL },
	{ "QUIT",	ST_ANY,		CF_SYNC,	cmd_quit, NULL },
	{ "HELP",	ST_ANY,		0,		cmd_help, NULL },
	{ "VRFY",	ST_ANY,		CF_SYNC,	cmd_vrfy, "VRFY address" },
	{ "EXPN",	ST_ANY,		CF_SYNC,	cmd_expn, "EXPN name" },
	{ "STARTTLS",	ST_ANY,		0,		cmd_starttls, "STARTTLS" },
	{ "AUTH",	ST_HELO | ST_MAIL | ST_RCPT, 0,	cmd_auth,
	    "AUTH mechanism [initial-response]" },
	{ NULL,		0,		0,		NULL, NULL },
};

/* The generic replies, by handler result (R_SYNTAX adds the row's usage). */
static const struct {
	int		 code;
	const char	*text;
} generic[] = {
	[R_SYNTAX] =		{ 501, "5.5.4 Syntax:" },
	[R_NEED_HELO] =		{ 503, "5.5.1 Error: send HELO/EHLO first" },
	[R_NESTED_MAIL] =	{ 503, "5.5.1 Error: nested MAIL command" },
	[R_NEED_MAIL] =		{ 503, "5.5.1 Error: need MAIL command" },
	[R_NO_RCPT] =		{ 554, "5.5.1 Error: no valid recipients" },
	[R_NEED_RCPT] =		{ 503, "5.5.1 Error: need RCPT command" },
	[R_IN_TX] =		{ 503, "5.5.1 Error: MAIL transaction in progress" },
};

/* The result for a command that is valid but not now. */
static int
wrong_state(const struct session *s, const struct cmd *c)
{
	if (s->state == ST_GREET)
		return R_NEED_HELO;
	if (strcmp(c->name, "MAIL") == 0)
		return R_NESTED_MAIL;
	if (strcmp(c->name, "RCPT") == 0)
		return R_NEED_MAIL;
	if (s->state == ST_MAIL)
		return R_NO_RCPT;
	return R_NEED_RCPT;
}

static void
dispatch(struct session *s, char *line)
{
	const struct cmd *c;
	char *arg = line + strcspn(line, " ");
	size_t n = (size_t)(arg - line);
	int r;

	if (*arg == ' ')
		*arg++ = '\0';
	for (c = cmds; c->name != NULL; c++)
		if (n == strlen(c->name) && strcasecmp(line, c->name) == 0)
			break;
	if (c->name == NULL) {
		reply(s, 500, "5.5.2 Error: command not recognized");
		return;
	}
	if ((c->flags & CF_SYNC) && io_pending(&s->io)) {
		reply(s, 554, "5.5.0 Error: SMTP protocol synchronization");
		log_info("disconnect reason=pipelining_violation cmd=%s", c->name);
		s->quit = 1;
		return;
	}
	r = c->states & s->state ? c->fn(s, arg) : wrong_state(s, c);
	if (r == R_DONE)
		return;
	if (r < 0 || (size_t)r >= sizeof(generic) / sizeof(generic[0]) ||
	    generic[r].text == NULL)
		fatalx("handler %s: bad result %d", c->name, r);
	if (r == R_SYNTAX)
		reply(s, generic[r].code, "%s %s", generic[r].text,
		    c->usage != NULL ? c->usage : c->name);
	else
		reply(s, generic[r].code, "%s", generic[r].text);
}

/* Waits up to ms for input (or EOF) on fd, before the greeting. */
static void
greet_wait(int fd, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms, now;
	struct pollfd pfd;
	int r;

	while ((now = now_ms()) < end) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		r = poll(&pfd, 1, (int)(end - now));
		if (r > 0 || (r == -1 && errno != EINTR))
			return;	/* input, EOF or an error: the caller looks */
	}
}

/*
 * DNSBL (dnsbl_zones): the monitor looked the client up; a listed client
 * gets 554 instead of 220 and, as RFC 5321 3.1 asks, 503 to anything but
 * QUIT (bounded by max_errors and smtp_timeout). 1 when refused.
 */
static int
dnsbl_refused(struct session *s)
{
	char zone[256], line[SMTP_CMD_MAX];
	struct ps_frame f;
	unsigned flags;
	size_t len;
	int r;

	if (conf.dnsbl_zones[0] == '\0')
		return 0;
	ps_init(&f, REQ_CONNECT);
	if (ps_send(s->mfd, &f, -1) == -1 || ps_recv(s->mfd, &f, -1) == -1)
		fatalx("monitor went away");
	if (ps_get_str(&f, zone, sizeof(zone)) == -1)
		fatalx("monitor: bad answer");
	if (f.type != ANS_BLOCKED)
		return 0;
	io_printf(&s->io, "554 5.7.1 Service unavailable; client host [%s] "
	    "blocked using %s\r\n", s->peer->addr, zone);
	log_info("disconnect reason=dnsbl zone=%s", pr(zone));
	while (!s->quit) {
		r = io_getline(&s->io, line, SMTP_CMD_MAX - 2, &len, &flags);
		if (r != IO_OK || ++s->ncmds > SMTP_MAX_COMMANDS)
			break;
		if (!(flags & (IOL_LONG | IOL_BARE_LF | IOL_BARE_CR | IOL_NUL)) &&
		    strcasecmp(line, "QUIT") == 0) {
			reply(s, 221, "2.0.0 Bye");
			break;
		}
		reply(s, 503, "5.7.1 Error: service unavailable, only QUIT");
	}
	io_flush(&s->io);
	tls_end(&s->io);
	return 1;
}

void
session_run(int mfd, const struct peer *peer)
{
	struct session s;
	static char line[SMTP_AUTH_LINE_MAX];	/* RFC 4954 4: AUTH lines */
	size_t len;
	unsigned flags;
	int r;

	memset(&s, 0, sizeof(s));
	s.mfd = mfd;
	s.peer = peer;
	enter_state(&s, ST_GREET);
	s.w.fd = -1;
	io_init(&s.io, 0, 1, (unsigned)(conf.smtp_timeout / 1000));
	s.io.crlf_only = 1;
	if (tls_mode() == TLS_IMPLICIT &&
	    tls_accept(&s.io, (unsigned)(conf.smtp_timeout / 1000)) == -1) {
		log_info("disconnect reason=tls_handshake_failed");
		return;
	}
	/* greet_delay: a client that talks before the greeting is a bot
	 * that does not wait for replies (postscreen's pregreet test) */
	if (conf.greet_delay > 0 && !io_pending(&s.io))
		greet_wait(s.io.rfd, (int)conf.greet_delay);
	if (io_pending(&s.io)) {
		io_printf(&s.io, "554 5.5.0 %s Error: talked before the greeting\r\n",
		    conf.hostname);
		io_flush(&s.io);
		log_info("disconnect reason=early_talker");
		return;
	}
	if (dnsbl_refused(&s))
		return;
	io_printf(&s.io, "220 %s ESMTP inetmail\r\n", conf.hostname);
	while (!s.quit) {
		r = io_getline(&s.io, line, sizeof(line) - 2, &len, &flags);
		if (r == IO_TIMEOUT) {
			reply(&s, 421, "4.4.2 %s Error: timeout exceeded", conf.hostname);
			break;
		}
		/* only AUTH may be longer than 512 octets (RFC 5321 4.5.3.1.4) */
		if (r == IO_OK && len > SMTP_CMD_MAX - 2 &&
		    !str_prefix_ci(line, "AUTH "))
			flags |= IOL_LONG;
		if (r != IO_OK) {
			log_info("disconnect reason=%s", r == IO_EOF ? "eof" : "error");
			break;
		}
		if (++s.ncmds > SMTP_MAX_COMMANDS) {
			reply(&s, 421, "4.7.0 %s Error: too many commands", conf.hostname);
			break;
		}
		if (flags & IOL_LONG)
			reply(&s, 500, "5.5.2 Error: command line too long");
		else if (flags & (IOL_BARE_LF | IOL_BARE_CR))
			reply(&s, 500, "5.5.2 Error: bare CR or LF in command");
		else if (flags & IOL_NUL)
			reply(&s, 500, "5.5.2 Error: NUL byte in command");
		else
			dispatch(&s, line);
	}
	io_flush(&s.io);
	tls_end(&s.io);
}
