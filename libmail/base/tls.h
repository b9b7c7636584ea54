/*
 * tls.h - TLS (OpenSSL 3) behind the line I/O transport: what both sides
 * share once the handshake is done. tls_server.h starts TLS as a server
 * (smtpd, pop3d), tls_client.h as a client (outbound SMTP, smtpc.c), and
 * tls_proxy.h relays a TLS client to a plain socket (pop3d after login).
 *
 * After tls_accept() or tls_connect() every read and write of that io goes
 * through TLS until tls_end().
 */
#ifndef INETMAIL_TLS_H
#define INETMAIL_TLS_H

#include <stddef.h>

#include "lineio.h"

/* True when io speaks TLS. */
int	tls_active(const struct io *);
/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"; "" without TLS. */
void	tls_describe(const struct io *, char *buf, size_t size);
/* Sends close_notify (best effort, never blocks) and frees the TLS state. */
void	tls_end(struct io *);

#endif
