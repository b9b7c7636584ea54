/*
 * maildb.h - what the maildb subcommand files share.
 */
#ifndef MAILDB_H
#define MAILDB_H

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
