/*
 * tls_server.h - the server side of TLS (smtpd and pop3d).
 *
 * The root process builds the one server context with tls_server_init()
 * before it forks and drops privileges: the certificate and the private key
 * are read then and never again; the unprivileged session child inherits
 * the context. tls_accept() runs the handshake on a struct io (STARTTLS,
 * STLS, or implicit TLS before the greeting); from then on the io speaks
 * TLS (tls.h).
 */
#ifndef INETMAIL_TLS_SERVER_H
#define INETMAIL_TLS_SERVER_H

#include <stddef.h>

#include "lineio.h"
#include "tls.h"

/* The server mode, as decided by tls_server_init(). */
#define TLS_AUTO	(-1)	/* unset: STARTTLS with a cert, else none */
#define TLS_NONE	0
#define TLS_STARTTLS	1	/* offered on request (STARTTLS, STLS) */
#define TLS_IMPLICIT	2	/* handshake before the greeting (465, 995) */

/* Protocol versions as on the wire (RFC 8446 4.2.1; OpenSSL's values). */
#define TLS_V1_0	0x0301
#define TLS_V1_1	0x0302
#define TLS_V1_2	0x0303
#define TLS_V1_3	0x0304

/*
 * The server settings, as the caller read them (daemon_tls_init: the tls_*
 * keys of inetmail.conf, whose names the error messages use). No string
 * may be NULL; "" where the key is unset.
 */
struct tls_server_conf {
	int		 mode;		/* TLS_AUTO, TLS_NONE, TLS_STARTTLS or
					   TLS_IMPLICIT */
	const char	*cert;		/* PEM, leaf first then the chain */
	const char	*key;		/* PEM; "" = in cert */
	int		 min_version;	/* TLS_V1_0 .. TLS_V1_3 */
	const char	*ciphers;	/* TLS <= 1.2 cipher list */
	const char	*ciphersuites;	/* TLS 1.3 suites */
};

/*
 * Checks the settings in tc and, unless the mode is none, loads the
 * certificate (with its chain) and the key into the server context. Call
 * as root before the privilege drop. 0 ok; -1 with a one-line reason in
 * err (the key file is unreadable, does not match the certificate, a bad
 * value, ...).
 */
int	tls_server_init(const struct tls_server_conf *tc, char *err,
	    size_t errsize);
/* The mode chosen by tls_server_init() (TLS_NONE before it). */
int	tls_mode(void);
/* Frees the server context (a process that will never handshake). */
void	tls_server_free(void);

/*
 * Server handshake on io's fds within timeout_s seconds. Any input still
 * buffered in io must have been discarded by the caller (io_discard_input:
 * plaintext after STARTTLS is never read as if it came through TLS).
 * 0: io now speaks TLS; -1: failed, logged, the connection must be closed.
 */
int	tls_accept(struct io *, unsigned timeout_s);

#endif
