/*
 * tls_int.h - private to the TLS files (tls.c, tls_server.c, tls_client.c,
 * tls_proxy.c): the state of one TLS session on an io and the helpers the
 * server, the client and the proxy share. Nothing else includes it.
 */
#ifndef INETMAIL_TLS_INT_H
#define INETMAIL_TLS_INT_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "lineio.h"

/* One TLS session, the trctx of an io whose tr is &tls_transport. */
struct tls_conn {
	SSL	*ssl;
	int	 rfd, wfd;
	int	 timeout_ms;
};

/* The io transport through a tls_conn. */
extern const struct io_transport tls_transport;

/* The last OpenSSL error as text, for a log line or a startup error. */
const char	*tls_reason(void);
/*
 * A new context of method (TLS_server_method, TLS_client_method) with what
 * both sides use: at least protocol version minv, no compression, no
 * renegotiation, no session resumption, partial writes. NULL with the
 * reason in err.
 */
SSL_CTX		*tls_ctx_new(const SSL_METHOD *method, int minv, char *err,
		    size_t errsize);
/*
 * 0 if path can be opened for reading; else -1 with "key path: reason" in
 * err (key: the configuration key that named the file).
 */
int		 tls_readable(const char *key, const char *path, char *err,
		    size_t errsize);
/* poll() one fd; 1 ready, 0 timeout, -1 error. */
int		 tls_wait_one(int fd, short ev, int timeout_ms);
/* Sets O_NONBLOCK on fd (best effort). */
void		 tls_set_nonblock(int fd);
/* A tls_conn with an SSL from cx on io's fds; NULL (logged) on failure. */
struct tls_conn	*tls_conn_new(SSL_CTX *cx, struct io *io);
/* Frees *cp and its SSL (no close_notify) and sets *cp to NULL. */
void		 tls_conn_free(struct tls_conn **cp);
/*
 * Runs the handshake of c (set up on io's fds) within timeout_s seconds,
 * as a client or as a server. 0 ok; -1 with a static or tls_reason() text
 * in *why.
 */
int		 tls_handshake(struct tls_conn *c, struct io *io, int client,
		    unsigned timeout_s, const char **why);

#endif
