/*
 * session.c - the SMTP session: runs unprivileged in chroot_dir, parses
 * everything the client sends, and asks the monitor a few fixed questions
 * (may this recipient receive; is this login right; is this sender the
 * user's; deliver this message). One command table;
 * handlers reply through reply(), which also counts errors.
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

#include "base64.h"
#include "buf.h"
#include "conf.h"
#include "lineio.h"
#include "log.h"
#include "message.h"
#include "params.h"
#include "privsep.h"
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
		s->state = ST_HELO;
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
	return strcmp(conf.role, "submission") == 0;
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

static void
cmd_helo(struct session *s, char *arg, int esmtp)
{
	if (!helo_name_ok(arg)) {
		reply(s, 501, "5.5.4 Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
		return;
	}
	reset_transaction(s);
	str_copy(s->helo, sizeof(s->helo), arg);
	s->esmtp = esmtp;
	s->state = ST_HELO;
	if (!esmtp) {
		io_printf(&s->io, "250 %s\r\n", conf.hostname);
		return;
	}
	io_printf(&s->io, "250-%s\r\n250-PIPELINING\r\n250-SIZE %llu\r\n"
	    "250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n%s%s250-SMTPUTF8\r\n"
	    "250 CHUNKING\r\n", conf.hostname,
	    (unsigned long long)conf.max_message_size,
	    tls_mode() == TLS_STARTTLS && !tls_active(&s->io) ?
	    "250-STARTTLS\r\n" : "",
	    submission() && plaintext_auth_ok(s) ? "250-AUTH PLAIN LOGIN\r\n" :
	    "");
}

static void cmd_ehlo(struct session *s, char *arg) { cmd_helo(s, arg, 1); }
static void cmd_helo1(struct session *s, char *arg) { cmd_helo(s, arg, 0); }

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

static void
cmd_mail(struct session *s, char *arg)
{
	char addr[SMTP_PATH_MAX + 1], *p, *param;
	const char *rest;
	int flags, utf8 = 0;

	if (submission() && s->auth_user[0] == '\0') {
		reply(s, 530, "5.7.0 Authentication required");
		return;
	}
	if ((p = after_keyword(arg, "FROM:")) == NULL) {
		reply(s, 501, "5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	if (parse_path(p, addr, sizeof(addr), &rest, &flags) == -1) {
		reply(s, 501, "5.1.7 Bad sender address syntax");
		return;
	}
	p = (char *)rest;
	if (*p != '\0' && *p != ' ') {
		reply(s, 501, "5.1.7 Bad sender address syntax");
		return;
	}
	while ((param = strsep(&p, " ")) != NULL) {
		uint64_t size;

		if (*param == '\0')
			continue;
		if (!s->esmtp) {
			reply(s, 555, "5.5.4 Parameters need EHLO");
			return;
		}
		if (str_prefix_ci(param, "SIZE=")) {
			if (parse_u64(param + 5, UINT64_MAX, &size) == -1) {
				reply(s, 501, "5.5.4 Bad SIZE parameter");
				return;
			}
			if (size > conf.max_message_size) {
				reply(s, 552, "5.3.4 Message size exceeds fixed limit");
				return;
			}
		} else if (str_prefix_ci(param, "BODY=")) {
			if (strcasecmp(param + 5, "7BIT") != 0 &&
			    strcasecmp(param + 5, "8BITMIME") != 0) {
				reply(s, 501, "5.5.4 Unsupported BODY type");
				return;
			}
		} else if (strcasecmp(param, "SMTPUTF8") == 0) {
			utf8 = 1;
		} else if (str_prefix_ci(param, "AUTH=")) {
			;	/* RFC 4954 5: accepted; meaningful only when relaying */
		} else {
			reply(s, 555, "5.5.4 Unsupported parameter %.40s", param);
			return;
		}
	}
	if ((flags & ADDR_UTF8) && !utf8) {
		reply(s, 553, "5.6.7 Non-ASCII address needs SMTPUTF8");
		return;
	}
	if (submission() && conf.sender_check) {
		char user[USER_NAME_MAX + 1];

		switch (ask(s, REQ_SENDER, addr, user, sizeof(user))) {
		case ANS_OK:
			break;
		case ANS_NOT_OWNER:
			reply(s, 553, "5.7.1 <%s>: Sender address rejected: not "
			    "owned by user %s", addr, user);
			return;
		default:
			reply(s, 451, "4.3.0 <%s>: Temporary lookup failure", addr);
			return;
		}
	}
	new_msgid(s);
	str_copy(s->sender, sizeof(s->sender), addr);
	s->utf8 = utf8;
	s->state = ST_MAIL;
	s->nrcpt = 0;
	reply(s, 250, "2.1.0 Ok");
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

static void
cmd_rcpt(struct session *s, char *arg)
{
	char addr[SMTP_PATH_MAX + 1], detail[32], *p;
	const char *rest;
	int flags;

	if ((p = after_keyword(arg, "TO:")) == NULL) {
		reply(s, 501, "5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	if (parse_path(p, addr, sizeof(addr), &rest, &flags) == -1 ||
	    addr[0] == '\0') {
		reply(s, 501, "5.1.3 Bad recipient address syntax");
		return;
	}
	if (*rest != '\0') {
		reply(s, *rest == ' ' ? 555 : 501, *rest == ' ' ?
		    "5.5.4 Unsupported parameter" : "5.1.3 Bad recipient address syntax");
		return;
	}
	if ((flags & ADDR_UTF8) && !s->utf8) {
		reply(s, 553, "5.6.7 Non-ASCII address needs SMTPUTF8");
		return;
	}
	if (s->nrcpt >= conf.max_recipients) {
		reply(s, 452, "4.5.3 Error: too many recipients");
		return;
	}
	/* relaying is the monitor's decision: it knows who authenticated
	 * and the client's real address */
	switch (ask_rcpt(s, addr, detail, sizeof(detail))) {
	case ANS_OK:
		break;
	case ANS_RELAY:
		reply(s, 554, "5.7.1 <%s>: Relay access denied", addr);
		return;
	case ANS_NOUSER:
		reply(s, 550, "5.1.1 <%s>: Recipient address rejected: User unknown", addr);
		return;
	case ANS_GREYLISTED:
		reply(s, 450, "4.2.0 <%s>: Recipient address rejected: "
		    "Greylisted, try again in %s seconds", addr, detail);
		return;
	default:
		reply(s, 451, "4.3.0 <%s>: Temporary lookup failure", addr);
		return;
	}
	if (s->rcpts == NULL)
		s->rcpts = xcalloc(conf.max_recipients, sizeof(*s->rcpts));
	str_copy(s->rcpts[s->nrcpt++], sizeof(s->rcpts[0]), addr);
	s->state = ST_RCPT;
	reply(s, 250, "2.1.5 Ok");
}

static void
cmd_data(struct session *s, char *arg)
{
	int r;

	if (*arg != '\0') {
		reply(s, 501, "5.5.4 Syntax: DATA");
		return;
	}
	if (s->bdat) {
		reply(s, 503, "5.5.1 Error: DATA after BDAT");
		return;
	}
	if (msgw_start(&s->w) == -1) {
		reply(s, 451, "4.3.0 Error: local error");
		return;
	}
	write_received(s);
	reply(s, 354, "End data with <CR><LF>.<CR><LF>");
	if ((r = msgw_read_data(&s->w, &s->io)) != IO_OK) {
		msgw_discard(&s->w);
		if (r == IO_TIMEOUT)
			reply(s, 421, "4.4.2 %s Error: timeout exceeded", conf.hostname);
		log_info("msgid=%s status=lost_connection during DATA", s->msgid);
		s->quit = 1;
		return;
	}
	finish_message(s);
}

static void
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
	if (parse_u64(arg, UINT64_MAX / 2, &size) == -1 ||
	    (last != NULL && !(is_last = strcasecmp(last, "LAST") == 0))) {
		/* The chunk length is unknown, so nothing can be skipped. */
		reply(s, 501, "5.5.4 Syntax: BDAT size [LAST]");
		return;
	}
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
			return;
		}
		if (s->bdat)
			msgw_feed(&s->w, chunk, (size_t)n);
		left -= (uint64_t)n;
	}
	if (s->state == ST_GREET || s->state == ST_HELO) {
		reply(s, 503, "5.5.1 Error: need MAIL command");
		return;
	}
	if (s->state == ST_MAIL) {
		reply(s, 554, "5.5.1 Error: no valid recipients");
		return;
	}
	if (!s->bdat) {
		reply(s, s->bdat_failed ? 503 : 451, s->bdat_failed ?
		    "5.5.1 Error: transaction failed, send RSET" :
		    "4.3.0 Error: local error");
		return;
	}
	if (is_last) {
		finish_message(s);
		return;
	}
	if (s->w.err & E_SIZE) {
		reply(s, 552, "5.3.4 Error: message too big");
		msgw_discard(&s->w);
		s->bdat = 0;
		s->bdat_failed = 1;
		return;
	}
	reply(s, 250, "2.0.0 Ok: %llu octets received", (unsigned long long)size);
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

static void
cmd_starttls(struct session *s, char *arg)
{
	size_t dropped;

	if (tls_active(&s->io)) {
		reply(s, 503, "5.5.1 Error: TLS already active");
		return;
	}
	if (tls_mode() != TLS_STARTTLS) {
		reply(s, 502, "5.5.1 Error: command not implemented");
		return;
	}
	if (*arg != '\0') {
		reply(s, 501, "5.5.4 Syntax: STARTTLS");
		return;
	}
	if (s->state & (ST_MAIL | ST_RCPT)) {
		reply(s, 503, "5.5.1 Error: MAIL transaction in progress");
		return;
	}
	reply(s, 220, "2.0.0 Ready to start TLS");
	if (io_flush(&s->io) == -1) {
		s->quit = 1;
		return;
	}
	/* CVE-2011-0411: no plaintext from before the handshake survives it. */
	dropped = s->io.inlen - s->io.inpos;
	io_discard_input(&s->io);
	if (dropped > 0)
		log_info("starttls discarded=%zu reason=plaintext_after_starttls",
		    dropped);
	if (tls_accept(&s->io, (unsigned)conf.smtp_timeout) == -1) {
		log_info("disconnect reason=tls_handshake_failed");
		s->quit = 1;
		return;
	}
	tls_notify(s);
	/* RFC 3207 4.2: forget everything, the client starts with EHLO
	 * (a login before TLS too; the monitor forgets it at REQ_TLS). */
	reset_transaction(s);
	s->state = ST_GREET;
	s->esmtp = 0;
	s->helo[0] = '\0';
	s->auth_user[0] = '\0';
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

/* Decodes a SASL response ("=" is empty, "*" cancels); -1 answered. */
static int
sasl_decode(struct session *s, const char *in, unsigned char *out,
    size_t *len)
{
	if (strcmp(in, "*") == 0) {
		reply(s, 501, "5.7.0 Authentication aborted");
		return -1;
	}
	if (strcmp(in, "=") == 0) {
		*len = 0;
		return 0;
	}
	if (b64_decode(in, out, SASL_MAX, len) == -1) {
		reply(s, 501, "5.5.2 Cannot decode response");
		return -1;
	}
	return 0;
}

/* A name the monitor would refuse as malformed becomes "" (still a
 * failed attempt that costs the delay and counts for the throttle). */
static const char *
frame_name(const char *user)
{
	size_t i;

	if (strlen(user) > USER_NAME_MAX)
		return "";
	for (i = 0; user[i] != '\0'; i++)
		if ((unsigned char)user[i] < 0x20 || user[i] == 0x7f)
			return "";
	return user;
}

/* Asks the monitor to check user/pass and answers the client. */
static void
login(struct session *s, const char *user, unsigned char *pass,
    size_t passlen, const char *mech)
{
	struct ps_frame f;
	char who[USER_NAME_MAX + 1];
	const char *u = frame_name(user);

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

/* PLAIN (RFC 4616): [authzid] NUL authcid NUL passwd. */
static void
auth_plain(struct session *s, char *ir)
{
	static char line[SMTP_AUTH_LINE_MAX];
	static unsigned char buf[SASL_MAX + 1];
	unsigned char *authz, *authc, *pw, *end;
	char user[USER_NAME_MAX + 2];
	size_t n;

	if (ir == NULL) {
		io_printf(&s->io, "334 \r\n");
		if (sasl_line(s, line, sizeof(line)) == -1)
			goto out;
		ir = line;
	}
	if (sasl_decode(s, ir, buf, &n) == -1)
		goto out;
	end = buf + n;
	authz = buf;
	if ((authc = memchr(authz, '\0', n)) == NULL ||
	    (pw = memchr(authc + 1, '\0', (size_t)(end - authc - 1))) == NULL ||
	    memchr(pw + 1, '\0', (size_t)(end - pw - 1)) != NULL) {
		reply(s, 501, "5.5.2 Malformed PLAIN response");
		goto out;
	}
	authc++;
	pw++;
	if ((size_t)(pw - 1 - authc) > USER_NAME_MAX)
		user[0] = '\0';
	else {
		memcpy(user, authc, (size_t)(pw - 1 - authc));
		user[pw - 1 - authc] = '\0';
	}
	/* acting for someone else is not offered: a failed login */
	if (authz[0] != '\0' && strcmp((char *)authz, user) != 0)
		user[0] = '\0';
	login(s, user, pw, (size_t)(end - pw), "PLAIN");
out:
	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(line, sizeof(line));
}

/* LOGIN (draft-murchison-sasl-login): user name, then password. */
static void
auth_login(struct session *s, char *ir)
{
	static char line[SMTP_AUTH_LINE_MAX];
	static unsigned char buf[SASL_MAX + 1];
	char user[USER_NAME_MAX + 2];
	size_t n;

	if (ir == NULL) {
		io_printf(&s->io, "334 VXNlcm5hbWU6\r\n");
		if (sasl_line(s, line, sizeof(line)) == -1)
			goto out;
		ir = line;
	}
	if (sasl_decode(s, ir, buf, &n) == -1)
		goto out;
	if (n > USER_NAME_MAX || memchr(buf, '\0', n) != NULL)
		n = 0;
	memcpy(user, buf, n);
	user[n] = '\0';
	io_printf(&s->io, "334 UGFzc3dvcmQ6\r\n");
	if (sasl_line(s, line, sizeof(line)) == -1 ||
	    sasl_decode(s, line, buf, &n) == -1)
		goto out;
	login(s, user, buf, n, "LOGIN");
out:
	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(line, sizeof(line));
}

static void
cmd_auth(struct session *s, char *arg)
{
	char *ir;

	if (!submission()) {
		reply(s, 503, "5.5.1 Error: authentication not enabled");
		return;
	}
	if (!s->esmtp) {
		reply(s, 503, "5.5.1 Error: send EHLO first");
		return;
	}
	if (s->state & (ST_MAIL | ST_RCPT)) {
		reply(s, 503, "5.5.1 Error: MAIL transaction in progress");
		return;
	}
	if (s->auth_user[0] != '\0') {
		reply(s, 503, "5.5.1 Error: already authenticated");
		return;
	}
	if ((ir = strchr(arg, ' ')) != NULL) {
		*ir++ = '\0';
		if (*ir == '\0' || strchr(ir, ' ') != NULL) {
			reply(s, 501, "5.5.4 Syntax: AUTH mechanism "
			    "[initial-response]");
			return;
		}
	}
	if (*arg == '\0') {
		reply(s, 501, "5.5.4 Syntax: AUTH mechanism [initial-response]");
		return;
	}
	if (strcasecmp(arg, "PLAIN") != 0 && strcasecmp(arg, "LOGIN") != 0) {
		reply(s, 504, "5.5.4 Unrecognized authentication type");
		return;
	}
	if (!plaintext_auth_ok(s)) {
		reply(s, 538, "5.7.11 Encryption required for requested "
		    "authentication mechanism");
		return;
	}
	if (strcasecmp(arg, "PLAIN") == 0)
		auth_plain(s, ir);
	else
		auth_login(s, ir);
}

static void
cmd_rset(struct session *s, char *arg)
{
	(void)arg;
	reset_transaction(s);
	reply(s, 250, "2.0.0 Ok");
}

static void
cmd_noop(struct session *s, char *arg)
{
	(void)arg;
	reply(s, 250, "2.0.0 Ok");
}

static void
cmd_quit(struct session *s, char *arg)
{
	(void)arg;
	reply(s, 221, "2.0.0 Bye");
	s->quit = 1;
}

static void
cmd_help(struct session *s, char *arg)
{
	(void)arg;
	reply(s, 214, "2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP "
	    "QUIT HELP VRFY EXPN%s", submission() ? " AUTH" : "");
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

static void
cmd_vrfy(struct session *s, char *arg)
{
	char addr[SMTP_PATH_MAX + 1], detail[8];

	if (arg[0] == '\0') {
		reply(s, 501, "5.5.4 Syntax: VRFY address");
		return;
	}
	if (!conf.vrfy) {
		reply(s, 252, "2.5.2 Cannot VRFY user, but will accept message "
		    "and attempt delivery");
		return;
	}
	if (name_arg(arg, addr, sizeof(addr)) == -1) {
		reply(s, 501, "5.1.3 Bad address syntax");
		return;
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
}

static void
cmd_expn(struct session *s, char *arg)
{
	char addr[SMTP_PATH_MAX + 1], list[1024], *p, *name;

	if (!conf.expn) {
		reply(s, 502, "5.5.1 EXPN not available");
		return;
	}
	if (name_arg(arg, addr, sizeof(addr)) == -1) {
		reply(s, 501, "5.5.4 Syntax: EXPN name");
		return;
	}
	if (ask(s, REQ_EXPN, addr, list, sizeof(list)) != ANS_OK) {
		reply(s, 550, "5.1.1 <%s>: no such list or user", addr);
		return;
	}
	p = list;
	while ((name = strsep(&p, " ")) != NULL)
		io_printf(&s->io, "250%c2.1.5 <%s%s%s>\r\n", p ? '-' : ' ', name,
		    strchr(name, '@') ? "" : "@",	/* forwarding: an address */
		    strchr(name, '@') ? "" : conf.hostname);
}

struct cmd {
	const char	*name;
	unsigned	 states;
	unsigned	 flags;
	void		(*fn)(struct session *, char *);
};

static const struct cmd cmds[] = {
	{ "EHLO",	ST_ANY,			CF_SYNC,	cmd_ehlo },
	{ "HELO",	ST_ANY,			CF_SYNC,	cmd_helo1 },
	{ "MAIL",	ST_HELO,		0,		cmd_mail },
	{ "RCPT",	ST_MAIL | ST_RCPT,	0,		cmd_rcpt },
	{ "DATA",	ST_RCPT,		CF_SYNC,	cmd_data },
	{ "BDAT",	ST_ANY,			0,		cmd_bdat },
	{ "RSET",	ST_ANY,			0,		cmd_rset },
	{ "NOOP",	ST_ANY,			CF_SYNC,	cmd_noop },
	{ "QUIT",	ST_ANY,			CF_SYNC,	cmd_quit },
	{ "HELP",	ST_ANY,			0,		cmd_help },
	{ "VRFY",	ST_ANY,			CF_SYNC,	cmd_vrfy },
	{ "EXPN",	ST_ANY,			CF_SYNC,	cmd_expn },
	{ "STARTTLS",	ST_ANY,			0,		cmd_starttls },
	{ "AUTH",	ST_HELO | ST_MAIL | ST_RCPT, 0,		cmd_auth },
	{ NULL,		0,			0,		NULL },
};

/* The reply for a command that is valid but not now. */
static void
wrong_state(struct session *s, const struct cmd *c)
{
	if (s->state == ST_GREET)
		reply(s, 503, "5.5.1 Error: send HELO/EHLO first");
	else if (strcmp(c->name, "MAIL") == 0)
		reply(s, 503, "5.5.1 Error: nested MAIL command");
	else if (strcmp(c->name, "RCPT") == 0)
		reply(s, 503, "5.5.1 Error: need MAIL command");
	else if (s->state == ST_MAIL)
		reply(s, 554, "5.5.1 Error: no valid recipients");
	else
		reply(s, 503, "5.5.1 Error: need RCPT command");
}

static void
dispatch(struct session *s, char *line)
{
	const struct cmd *c;
	char *arg = line + strcspn(line, " ");
	size_t n = (size_t)(arg - line);

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
	if (!(c->states & s->state)) {
		wrong_state(s, c);
		return;
	}
	c->fn(s, arg);
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
	s.state = ST_GREET;
	s.w.fd = -1;
	io_init(&s.io, 0, 1, (unsigned)conf.smtp_timeout);
	s.io.crlf_only = 1;
	if (tls_mode() == TLS_IMPLICIT &&
	    tls_accept(&s.io, (unsigned)conf.smtp_timeout) == -1) {
		log_info("disconnect reason=tls_handshake_failed");
		return;
	}
	/* greet_delay: a client that talks before the greeting is a bot
	 * that does not wait for replies (postscreen's pregreet test) */
	if (conf.greet_delay > 0 && !io_pending(&s.io))
		greet_wait(s.io.rfd, (int)conf.greet_delay * 1000);
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
