/*
 * tls.c - the TLS transport of struct io, shared by the server side
 * (tls_server.c), the client side (tls_client.c) and the proxy
 * (tls_proxy.c): reads and writes through a TLS session, the handshake
 * loop, and the end of a session.
 *
 * The sockets are switched to non-blocking for the TLS session: OpenSSL may
 * need several reads for one record, and a blocking SSL_read() after a
 * poll() could wait forever for a record a client never finishes. Every
 * WANT_READ/WANT_WRITE goes back to a poll() with the session's timeout
 * (in lineio.c, or here for the handshake and in tls_proxy.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "log.h"
#include "tls.h"
#include "tls_int.h"
#include "util.h"

const char *
tls_reason(void)
{
	static char buf[256];
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		return "unknown error";
	ERR_error_string_n(e, buf, sizeof(buf));
	return buf;
}

SSL_CTX *
tls_ctx_new(const SSL_METHOD *method, int minv, char *err, size_t errsize)
{
	SSL_CTX *cx;

	ERR_clear_error();
	if ((cx = SSL_CTX_new(method)) == NULL) {
		str_fmt(err, errsize, "SSL_CTX_new: %s", tls_reason());
		return NULL;
	}
	SSL_CTX_set_min_proto_version(cx, minv);
	/*
	 * One process per connection: a session cache or ticket keys would
	 * die with it, so resumption is off. No renegotiation, no compression.
	 */
	SSL_CTX_set_options(cx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_session_cache_mode(cx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(cx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return cx;
}

int
tls_readable(const char *key, const char *path, char *err, size_t errsize)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1) {
		str_fmt(err, errsize, "%s %s: %s", key, path, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

int
tls_wait_one(int fd, short ev, int timeout_ms)
{
	struct pollfd p = { fd, ev, 0 };
	int r;

	do
		r = poll(&p, 1, timeout_ms);
	while (r == -1 && errno == EINTR);
	return r;
}

void
tls_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl != -1)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* ---- the io transport ---- */

static ssize_t
tr_read(void *arg, void *buf, size_t len)
{
	struct tls_conn *c = arg;
	size_t n;
	int r;

	for (;;) {
		ERR_clear_error();
		if ((r = SSL_read_ex(c->ssl, buf, len, &n)) == 1)
			return (ssize_t)n;
		switch (SSL_get_error(c->ssl, r)) {
		case SSL_ERROR_WANT_READ:
			errno = EAGAIN;	/* lineio polls with its timeout */
			return -1;
		case SSL_ERROR_WANT_WRITE:
			if (tls_wait_one(c->wfd, POLLOUT, c->timeout_ms) != 1) {
				errno = ETIMEDOUT;
				return -1;
			}
			continue;
		case SSL_ERROR_ZERO_RETURN:
			return 0;
		case SSL_ERROR_SYSCALL:
			if (ERR_peek_error() == 0 && errno == 0)
				return 0;
			return -1;
		default:
			log_info("tls read error: %s", tls_reason());
			errno = EIO;
			return -1;
		}
	}
}

static ssize_t
tr_write(void *arg, const void *buf, size_t len)
{
	struct tls_conn *c = arg;
	size_t n;
	int r;

	for (;;) {
		ERR_clear_error();
		if ((r = SSL_write_ex(c->ssl, buf, len, &n)) == 1)
			return (ssize_t)n;
		switch (SSL_get_error(c->ssl, r)) {
		case SSL_ERROR_WANT_WRITE:
			errno = EAGAIN;	/* lineio polls with its timeout */
			return -1;
		case SSL_ERROR_WANT_READ:
			if (tls_wait_one(c->rfd, POLLIN, c->timeout_ms) != 1) {
				errno = ETIMEDOUT;
				return -1;
			}
			continue;
		default:
			errno = EIO;
			return -1;
		}
	}
}

static int
tr_pending(void *arg)
{
	struct tls_conn *c = arg;

	return SSL_pending(c->ssl) > 0;
}

const struct io_transport tls_transport = { tr_read, tr_write, tr_pending };

int
tls_handshake(struct tls_conn *c, struct io *io, int client,
    unsigned timeout_s, const char **why)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_s * 1000;
	int r, e;

	tls_set_nonblock(io->rfd);
	tls_set_nonblock(io->wfd);
	for (;;) {
		uint64_t now = now_ms();

		ERR_clear_error();
		errno = 0;
		if ((r = client ? SSL_connect(c->ssl) : SSL_accept(c->ssl)) == 1)
			return 0;
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			int w = now >= deadline ? 0 :
			    tls_wait_one(e == SSL_ERROR_WANT_READ ? io->rfd : io->wfd,
			    e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
			    (int)(deadline - now));

			if (w == 1)
				continue;
			*why = w == 0 ? "timeout" : "poll error";
		} else if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
			*why = errno == 0 ? (client ? "server closed the connection" :
			    "client closed the connection") : strerror(errno);
		else if (e == SSL_ERROR_ZERO_RETURN)
			*why = client ? "server closed the connection" :
			    "client closed the connection";
		else
			*why = tls_reason();
		return -1;
	}
}

struct tls_conn *
tls_conn_new(SSL_CTX *cx, struct io *io)
{
	struct tls_conn *c = xcalloc(1, sizeof(*c));

	c->rfd = io->rfd;
	c->wfd = io->wfd;
	c->timeout_ms = io->timeout_ms;
	if ((c->ssl = SSL_new(cx)) == NULL ||
	    (io->rfd == io->wfd ? SSL_set_fd(c->ssl, io->rfd) :
	    SSL_set_rfd(c->ssl, io->rfd) && SSL_set_wfd(c->ssl, io->wfd)) != 1) {
		log_warnx("tls handshake: %s", tls_reason());
		tls_conn_free(&c);
		ERR_clear_error();
		return NULL;
	}
	return c;
}

void
tls_conn_free(struct tls_conn **cp)
{
	if (*cp == NULL)
		return;
	SSL_free((*cp)->ssl);
	free(*cp);
	*cp = NULL;
}

int
tls_active(const struct io *io)
{
	return io->tr == &tls_transport;
}

void
tls_describe(const struct io *io, char *buf, size_t size)
{
	struct tls_conn *c = io->trctx;
	int alg = 0, bits;

	if (!tls_active(io)) {
		str_copy(buf, size, "");
		return;
	}
	bits = SSL_get_cipher_bits(c->ssl, &alg);
	str_fmt(buf, size, "%s with cipher %s (%d/%d bits)",
	    SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl), bits, alg);
}

void
tls_end(struct io *io)
{
	struct tls_conn *c = io->trctx;

	if (!tls_active(io))
		return;
	ERR_clear_error();
	(void)SSL_shutdown(c->ssl);	/* one try; we are closing anyway */
	tls_conn_free(&c);
	io->tr = NULL;
	io->trctx = NULL;
	ERR_clear_error();
}
