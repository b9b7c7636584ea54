/*
 * tls.h - TLS (OpenSSL 3) behind the line I/O transport: the server side
 * of smtpd and pop3d, and the client side of outbound SMTP (smtpc.c).
 *
 * The root process builds the one server context with tls_server_init()
 * before it forks and drops privileges: the certificate and the private key
 * are read then and never again; the unprivileged session child inherits
 * the context. tls_accept() runs the handshake on a struct io (STARTTLS,
 * STLS, or implicit TLS before the greeting) and from then on every read
 * and write of that io goes through TLS. tls_proxy() relays a TLS client to
 * a plain socket (pop3d: the pre-auth process serving the user's process).
 */
#ifndef INETMAIL_TLS_H
#define INETMAIL_TLS_H

#include <stddef.h>

#include "lineio.h"

/* The server mode, as decided by tls_server_init(). */
#define TLS_NONE	0
#define TLS_STARTTLS	1	/* offered on request (STARTTLS, STLS) */
#define TLS_IMPLICIT	2	/* handshake before the greeting (465, 995) */

/*
 * The server settings, as the caller read them (daemon_tls_init: the tls_*
 * keys of inetmail.conf, whose names the error messages use). No field
 * may be NULL; "" where the key is unset.
 */
struct tls_server_conf {
	const char	*mode;		/* none|starttls|implicit; "" = starttls
					   when cert is set, else none */
	const char	*cert;		/* PEM, leaf first then the chain */
	const char	*key;		/* PEM; "" = in cert */
	const char	*min_version;	/* TLSv1, TLSv1.1, TLSv1.2, TLSv1.3 */
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
/* True when io speaks TLS. */
int	tls_active(const struct io *);
/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"; "" without TLS. */
void	tls_describe(const struct io *, char *buf, size_t size);
/* Sends close_notify (best effort, never blocks) and frees the TLS state. */
void	tls_end(struct io *);

/*
 * Client side (the outbound SMTP client). tls_client_init() builds the one
 * client context: TLS >= 1.2, trusted CAs from cafile (PEM; "" = the
 * system's store). Call it before a privilege drop when cafile may be
 * readable by root only. 0 ok; -1 with a one-line reason in err.
 */
int	tls_client_init(const char *cafile, char *err, size_t errsize);
/* Frees the client context. */
void	tls_client_free(void);
/*
 * Client handshake on io's fds within timeout_s seconds, sending SNI for
 * servername (when it is a host name, not an address). With verify the
 * server's chain must lead to a trusted CA and its certificate must name
 * servername (SSL_set1_host; an address is matched against IP SANs).
 * Input buffered in io is discarded first (nothing the server sent before
 * the handshake may count as protected). 0: io now speaks TLS; -1 failed,
 * the reason logged and put in why (may be NULL); close the connection.
 */
int	tls_connect(struct io *, const char *servername, int verify,
	    unsigned timeout_s, char *why, size_t whysize);

/*
 * Relays between io's TLS client and the plain stream socket fd until
 * either side is done or nothing moves for idle_timeout_s seconds. Input
 * already buffered in io goes to fd first. Returns when the relay is over
 * (close_notify sent, fd closed).
 */
void	tls_proxy(struct io *, int fd, unsigned idle_timeout_s);

#endif
