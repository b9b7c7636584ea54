/*
 * maildb.h - what the maildb subcommand files share.
 */
#ifndef MAILDB_H
#define MAILDB_H

#include <stddef.h>
#include <stdint.h>

/* Prints s as a JSON string on stdout (maildb.c). */
void	json_str(const char *s);
/* Unix time as 2024-05-01T12:00:00Z, as everywhere in maildb's output. */
void	fmt_time(int64_t t, char *out, size_t size);
/* Unix time in local time without a zone, "-" for 0 (throttle, greylist). */
void	local_time(int64_t t, char *buf, size_t size);

/* `maildb apop set|rm|ls ...` (apop_cmd.c); argv[0] is "apop". */
int	maildb_apop(int argc, char **argv);
/* `maildb throttle ls | clear ADDRESS|USER` (throttle_cmd.c). */
int	maildb_throttle(int argc, char **argv);
/* `maildb greylist ls | clear ...` (greylist_cmd.c). */
int	maildb_greylist(int argc, char **argv);

/* `maildb queue list|show|flush|delete|bounce ...` (queue_cmd.c); opts
 * are maildb's own -f/-o arguments, passed on to `smtpd -q`. */
int	maildb_queue(int argc, char **argv, char *const *opts, int nopts);

#endif
