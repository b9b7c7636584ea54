/*
 * daemon.h - what every inetd-style daemon does first: the command line
 * (-d, -V, -f FILE, -o key=value; -q when the caller has a queue), the
 * configuration (-o wins over the file), the log, signals, the connection
 * id and the client's address.
 */
#ifndef INETMAIL_DAEMON_H
#define INETMAIL_DAEMON_H

#include <stddef.h>

struct peer {
	char	addr[64];	/* printable IP, or "pipe" */
	char	name[64];	/* the address literal for Received: */
};

/* daemon_start flags */
#define DAEMON_QUEUE	0x01	/* accept -q: the caller has a queue to run */

/*
 * Runs the steps above for the program prog (its syslog tag). -V prints
 * the version and exits; bad usage (-q without DAEMON_QUEUE in flags)
 * exits 2. Returns 0, or -1 with the configuration error in err: the
 * caller answers in its own protocol.
 */
int	daemon_start(int argc, char *argv[], const char *prog, int flags,
	    struct peer *, char *err, size_t errsize);

/*
 * True when -q was given (only with DAEMON_QUEUE; smtpd: run the relay
 * queue once instead of serving a connection on fd 0). In that mode
 * daemon_start neither looks at fd 0 nor logs a connection; peer says
 * "pipe".
 */
int	daemon_queue_mode(void);

/*
 * The -d, -f and -o options this process was started with, in their
 * order, as a NULL-terminated argv tail (copies, valid for the life of the
 * process): what smtpd passes on when it starts `smtpd -q`.
 */
char *const *daemon_args(void);

/*
 * tls_server_init() with the tls_* keys of the configuration: call as
 * root, before the privilege drop. 0 ok; -1 with a one-line reason in err.
 */
int	daemon_tls_init(char *err, size_t errsize);

#endif
