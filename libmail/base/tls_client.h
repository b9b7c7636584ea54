/*
 * tls_client.h - the client side of TLS (the outbound SMTP client,
 * smtpc.c). Once tls_connect() succeeds the io speaks TLS (tls.h).
 */
#ifndef INETMAIL_TLS_CLIENT_H
#define INETMAIL_TLS_CLIENT_H

#include <stddef.h>

#include "lineio.h"
#include "tls.h"

/*
 * Builds the one client context: TLS >= 1.2, trusted CAs from cafile
 * (PEM; "" = the system's store). Call it before a privilege drop when
 * cafile may be readable by root only. 0 ok; -1 with a one-line reason in
 * err.
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

#endif
