/*
 * common.c - what both pop3d session halves share: the one reply writer,
 * the state changes, the line policy, the dispatcher (each state brings
 * its own command table: preauth.c AUTHORIZATION, maildrop.c
 * TRANSACTION), CAPA.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "log.h"
#include "pop3d.h"
#include "tls_server.h"
#include "util.h"

void
reply(struct pop *p, const char *fmt, ...)
{
	char text[512 - 2];	/* RFC 2449 4: responses up to 512 octets */
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	io_printf(&p->io, "%s\r\n", text);
	if (text[0] == '-' && ++p->errors >= conf.max_errors && !p->quit) {
		io_printf(&p->io, "-ERR too many errors, closing connection\r\n");
		log_info("disconnect reason=too_many_errors");
		p->quit = 1;
	}
}

static const char *
state_name(unsigned state)
{
	switch (state) {
	case ST_AUTH:	return "AUTHORIZATION";
	case ST_TRANS:	return "TRANSACTION";
	case ST_UPDATE:	return "UPDATE";
	default:	return "NONE";
	}
}

void
enter_state(struct pop *p, unsigned state)
{
	if (p->state == state)
		return;
	log_debug("state from=%s to=%s", state_name(p->state),
	    state_name(state));
	p->state = state;
}

int
plaintext_auth_ok(const struct pop *p)
{
	return p->state != ST_AUTH || !conf.auth_require_tls ||
	    tls_mode() == TLS_NONE || tls_active(&p->io);
}

/*
 * The same list before and after login (RFC 2449 5), except that STLS is
 * offered only before login and without TLS, and USER and SASL PLAIN LOGIN
 * are hidden while a plaintext password is refused (RFC 2595 4).
 */
static void
send_capa(struct pop *p)
{
	int plain = plaintext_auth_ok(p);

	io_printf(&p->io, "+OK Capability list follows\r\n"
	    "TOP\r\n%sUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
	    "PIPELINING\r\n%s%sIMPLEMENTATION inetmail\r\n.\r\n",
	    plain ? "USER\r\n" : "", plain ? "SASL PLAIN LOGIN\r\n" : "",
	    p->state == ST_AUTH && tls_mode() == TLS_STARTTLS &&
	    !tls_active(&p->io) ? "STLS\r\n" : "");
}

int
cmd_capa(struct pop *p, char *arg)
{
	if (*arg != '\0')
		return R_SYNTAX;
	send_capa(p);
	return R_DONE;
}

/*
 * Every command pop3d knows, in any state: one that is not in the current
 * state's table is "not valid in this state" rather than unknown.
 */
static const char *const known[] = {
	"CAPA", "QUIT", "USER", "PASS", "AUTH", "APOP", "STLS",
	"STAT", "LIST", "UIDL", "RETR", "TOP", "DELE", "NOOP", "RSET", "LAST",
	NULL
};

static int
known_command(const char *name)
{
	size_t i;

	for (i = 0; known[i] != NULL; i++)
		if (strcasecmp(name, known[i]) == 0)
			return 1;
	return 0;
}

void
dispatch(struct pop *p, const struct cmd *table, char *line)
{
	const struct cmd *c;
	char *arg = line + strcspn(line, " ");
	size_t n = (size_t)(arg - line), len;

	if (*arg == ' ')
		*arg++ = '\0';
	for (c = table; c->name != NULL; c++)
		if (n == strlen(c->name) && strcasecmp(line, c->name) == 0)
			break;
	if (c->name == NULL) {
		reply(p, known_command(line) ? "-ERR command not valid in "
		    "this state" : "-ERR unknown command");
		return;
	}
	/* trailing blanks, as typed in telnet, are not arguments */
	len = strlen(arg);
	while (!(c->flags & CF_RAWARG) && len > 0 &&
	    (arg[len - 1] == ' ' || arg[len - 1] == '\t'))
		arg[--len] = '\0';
	switch (c->fn(p, arg)) {
	case R_SYNTAX:
		reply(p, "-ERR syntax error");
		break;
	case R_NOMSG:
		reply(p, "-ERR no such message");
		break;
	}
}

int
read_command(struct pop *p, char *line, size_t size)
{
	size_t len;
	unsigned flags;
	int r;

	r = io_getline(&p->io, line, size - 2, &len, &flags);
	if (r == IO_TIMEOUT) {
		io_printf(&p->io, "-ERR timeout, closing connection\r\n");
		io_flush(&p->io);
		log_info("disconnect reason=timeout");
		return -1;
	}
	if (r != IO_OK) {
		log_info("disconnect reason=%s", r == IO_EOF ? "eof" : "error");
		return -1;
	}
	if (++p->ncmds > POP3_MAX_COMMANDS) {
		reply(p, "-ERR too many commands");
		return -1;
	}
	if (flags & IOL_LONG)
		reply(p, "-ERR line too long");
	else if (flags & IOL_BARE_CR)
		reply(p, "-ERR bare CR in command");
	else if (flags & IOL_NUL)
		reply(p, "-ERR NUL byte in command");
	else
		return 1;
	return p->quit ? -1 : 0;
}
