/*
 * log.c - syslog with a connection id; stderr only with -d.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "log.h"
#include "params.h"

static int to_stderr;
static char conn_id[32];
static const char *progname = "inetmail";

void
log_open(const char *prog, int err)
{
	progname = prog;
	to_stderr = err;
	openlog(prog, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void
log_set_id(const char *id)
{
	snprintf(conn_id, sizeof(conn_id), "%s", id);
}

const char *
log_id(void)
{
	return conn_id;
}

static void
vlog(int pri, const char *fmt, va_list ap, int with_errno)
{
	char msg[1024];
	int saved = errno;
	size_t n = 0;

	if (conn_id[0] != '\0')
		n = (size_t)snprintf(msg, sizeof(msg), "id=%s ", conn_id);
	vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	if (with_errno) {
		n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(saved));
	}
	syslog(pri, "%s", msg);
	if (to_stderr)
		fprintf(stderr, "%s: %s\n", progname, msg);
	errno = saved;
}

#define LOGFN(name, pri, err)					\
void name(const char *fmt, ...)					\
{								\
	va_list ap;						\
	va_start(ap, fmt);					\
	vlog(pri, fmt, ap, err);				\
	va_end(ap);						\
}

LOGFN(log_info, LOG_INFO, 0)
LOGFN(log_warn, LOG_WARNING, 1)
LOGFN(log_warnx, LOG_WARNING, 0)

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!to_stderr)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap, 0);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap, 1);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap, 0);
	va_end(ap);
	exit(1);
}

char *
printable(const char *s, size_t len, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0, cap = size - 4;	/* room for "..." and NUL */

	if (cap > LOG_TEXT_MAX)
		cap = LOG_TEXT_MAX;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		size_t need = (c < 0x20 || c >= 0x7f) ? 4 :
		    (c == '"' || c == '\\') ? 2 : 1;

		if (o + need > cap) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (need == 4) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			if (need == 2)
				out[o++] = '\\';
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	return out;
}

const char *
pr(const char *s)
{
	static char buf[LOG_PR_SLOTS][LOG_TEXT_MAX + 8];
	static unsigned next;
	char *out = buf[next];

	next = (next + 1) % LOG_PR_SLOTS;
	return printable(s, strlen(s), out, sizeof(buf[0]));
}
