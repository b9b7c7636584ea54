/*
 * log.h - syslog (facility mail), one key=value line per event, tagged with
 * the connection id. Nothing goes to stderr unless -d asked for it: under
 * inetd fd 2 is the client socket.
 */
#ifndef INETMAIL_LOG_H
#define INETMAIL_LOG_H

#include <stddef.h>

/* prog names the syslog tag; to_stderr is set by -d. */
void	log_open(const char *prog, int to_stderr);
/* Sets the per-connection id put on every line ("id=..."). */
void	log_set_id(const char *id);
const char *log_id(void);

void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
/* log_warn appends ": strerror(errno)"; log_warnx does not. */
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * Makes client text safe to log: non-printable bytes become \xNN, quotes and
 * backslashes are escaped, and the result is cut to LOG_TEXT_MAX with "...".
 * Writes into out (size bytes) and returns out.
 */
char	*printable(const char *s, size_t len, char *out, size_t size);
/*
 * The same for a NUL-terminated string, into one of LOG_PR_SLOTS (params.h)
 * static buffers used in turn: up to that many pr() results are valid at
 * once, so one log line may pass several (pr(a), pr(b)); the next call
 * after that reuses the oldest buffer.
 */
const char *pr(const char *s);

#endif
