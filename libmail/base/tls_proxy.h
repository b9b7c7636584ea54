/*
 * tls_proxy.h - relays a TLS client to a plain socket: pop3d's pre-auth
 * process, after a login over TLS, keeps the client's TLS session and
 * serves the user's process over a socketpair (Dovecot's model).
 */
#ifndef INETMAIL_TLS_PROXY_H
#define INETMAIL_TLS_PROXY_H

#include "lineio.h"

/*
 * Relays between io's TLS client and the plain stream socket fd until
 * either side is done or nothing moves for idle_timeout_s seconds. Input
 * already buffered in io goes to fd first. Returns when the relay is over
 * (close_notify sent, fd closed).
 */
void	tls_proxy(struct io *, int fd, unsigned idle_timeout_s);

#endif
