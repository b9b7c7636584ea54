/*
 * tls.c - the OpenSSL 3 server and client contexts and the TLS transport
 * of struct io.
 *
 * The sockets are switched to non-blocking for the TLS session: OpenSSL may
 * need several reads for one record, and a blocking SSL_read() after a
 * poll() could wait forever for a record a client never finishes. Every
 * WANT_READ/WANT_WRITE goes back to a poll() with the session's timeout
 * (in lineio.c, or here for the handshake and the proxy).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "log.h"
#include "params.h"
#include "tls.h"
#include "util.h"

struct tls_conn {
	SSL	*ssl;
	int	 rfd, wfd;
	int	 timeout_ms;
};

static SSL_CTX	*ctx;
static int	 mode = TLS_NONE;

/* The last OpenSSL error as text, for a log line or a startup error. */
static const char *
ssl_reason(void)
{
	static char buf[256];
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		return "unknown error";
	ERR_error_string_n(e, buf, sizeof(buf));
	return buf;
}

/* 0 if path can be opened for reading, else -1 with errno set. */
static int
readable(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		return -1;
	close(fd);
	return 0;
}

int
tls_server_init(const struct tls_server_conf *tc, char *err, size_t errsize)
{
	const char *key = tc->key[0] != '\0' ? tc->key : tc->cert;
	int minv;

	if (tc->mode[0] == '\0')
		mode = tc->cert[0] != '\0' ? TLS_STARTTLS : TLS_NONE;
	else if (strcmp(tc->mode, "none") == 0)
		mode = TLS_NONE;
	else if (strcmp(tc->mode, "starttls") == 0)
		mode = TLS_STARTTLS;
	else if (strcmp(tc->mode, "implicit") == 0)
		mode = TLS_IMPLICIT;
	else {
		str_fmt(err, errsize, "tls: expected none, starttls or implicit, "
		    "got \"%.40s\"", tc->mode);
		return -1;
	}
	if (strcmp(tc->min_version, "TLSv1.2") == 0)
		minv = TLS1_2_VERSION;
	else if (strcmp(tc->min_version, "TLSv1.3") == 0)
		minv = TLS1_3_VERSION;
	else if (strcmp(tc->min_version, "TLSv1.1") == 0)
		minv = TLS1_1_VERSION;
	else if (strcmp(tc->min_version, "TLSv1") == 0)
		minv = TLS1_VERSION;
	else {
		str_fmt(err, errsize, "tls_min_version: expected TLSv1.2 or "
		    "TLSv1.3, got \"%.40s\"", tc->min_version);
		return -1;
	}
	if (mode == TLS_NONE)
		return 0;
	if (tc->cert[0] == '\0') {
		str_fmt(err, errsize, "tls = %s needs tls_cert", tc->mode);
		goto fail;
	}
	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		str_fmt(err, errsize, "SSL_CTX_new: %s", ssl_reason());
		goto fail;
	}
	SSL_CTX_set_min_proto_version(ctx, minv);
	/*
	 * One process per connection: a session cache or ticket keys would
	 * die with it, so resumption is off. No renegotiation, no compression.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_dh_auto(ctx, 1);
	if (SSL_CTX_set_cipher_list(ctx, tc->ciphers) != 1) {
		str_fmt(err, errsize, "tls_ciphers: no usable cipher in \"%.60s\"",
		    tc->ciphers);
		goto fail;
	}
	if (SSL_CTX_set_ciphersuites(ctx, tc->ciphersuites) != 1) {
		str_fmt(err, errsize, "tls_ciphersuites: bad list \"%.60s\"",
		    tc->ciphersuites);
		goto fail;
	}
	if (readable(tc->cert) == -1) {
		str_fmt(err, errsize, "tls_cert %s: %s", tc->cert, strerror(errno));
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, tc->cert) != 1) {
		str_fmt(err, errsize, "tls_cert %s: not a PEM certificate chain: %s",
		    tc->cert, ssl_reason());
		goto fail;
	}
	if (readable(key) == -1) {
		str_fmt(err, errsize, "tls_key %s: %s", key, strerror(errno));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		unsigned long e = ERR_peek_last_error();

		if (ERR_GET_LIB(e) == ERR_LIB_X509 &&
		    (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH ||
		    ERR_GET_REASON(e) == X509_R_KEY_TYPE_MISMATCH))
			str_fmt(err, errsize, "tls_key %s does not match the "
			    "certificate in tls_cert %s", key, tc->cert);
		else
			str_fmt(err, errsize, "tls_key %s: not a PEM private key: %s", key,
		    ssl_reason());
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		str_fmt(err, errsize, "tls_key %s does not match the certificate "
		    "in tls_cert %s", key, tc->cert);
		goto fail;
	}
	ERR_clear_error();
	return 0;
fail:
	tls_server_free();
	mode = TLS_NONE;
	ERR_clear_error();
	return -1;
}

int
tls_mode(void)
{
	return mode;
}

void
tls_server_free(void)
{
	SSL_CTX_free(ctx);
	ctx = NULL;
}

/* poll() one fd; 1 ready, 0 timeout, -1 error. */
static int
wait_one(int fd, short ev, int timeout_ms)
{
	struct pollfd p = { fd, ev, 0 };
	int r;

	do
		r = poll(&p, 1, timeout_ms);
	while (r == -1 && errno == EINTR);
	return r;
}

static void
set_nonblock(int fd)
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
			if (wait_one(c->wfd, POLLOUT, c->timeout_ms) != 1) {
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
			log_info("tls read error: %s", ssl_reason());
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
			if (wait_one(c->rfd, POLLIN, c->timeout_ms) != 1) {
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

static const struct io_transport tls_transport = { tr_read, tr_write, tr_pending };

/*
 * Runs the handshake of c (set up on io's fds) within timeout_s seconds.
 * 0 ok; -1 with a static or ssl_reason() text in *why.
 */
static int
handshake(struct tls_conn *c, struct io *io, int client, unsigned timeout_s,
    const char **why)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_s * 1000;
	int r, e;

	set_nonblock(io->rfd);
	set_nonblock(io->wfd);
	for (;;) {
		uint64_t now = now_ms();

		ERR_clear_error();
		errno = 0;
		if ((r = client ? SSL_connect(c->ssl) : SSL_accept(c->ssl)) == 1)
			return 0;
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			int w = now >= deadline ? 0 : wait_one(e == SSL_ERROR_WANT_READ ?
			    io->rfd : io->wfd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
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
			*why = ssl_reason();
		return -1;
	}
}

/* A tls_conn with an SSL from cx on io's fds; NULL (logged) on failure. */
static struct tls_conn *
conn_new(SSL_CTX *cx, struct io *io)
{
	struct tls_conn *c = xcalloc(1, sizeof(*c));

	c->rfd = io->rfd;
	c->wfd = io->wfd;
	c->timeout_ms = io->timeout_ms;
	if ((c->ssl = SSL_new(cx)) == NULL ||
	    (io->rfd == io->wfd ? SSL_set_fd(c->ssl, io->rfd) :
	    SSL_set_rfd(c->ssl, io->rfd) && SSL_set_wfd(c->ssl, io->wfd)) != 1) {
		log_warnx("tls handshake: %s", ssl_reason());
		SSL_free(c->ssl);
		free(c);
		ERR_clear_error();
		return NULL;
	}
	return c;
}

int
tls_accept(struct io *io, unsigned timeout_s)
{
	struct tls_conn *c;
	const char *why;

	if (ctx == NULL || io->tr != NULL) {
		log_warnx("tls handshake: TLS not configured");
		return -1;
	}
	if ((c = conn_new(ctx, io)) == NULL)
		return -1;
	if (handshake(c, io, 0, timeout_s, &why) == -1) {
		log_info("tls handshake failed reason=\"%s\"", pr(why));
		SSL_free(c->ssl);
		free(c);
		ERR_clear_error();
		return -1;
	}
	io->tr = &tls_transport;
	io->trctx = c;
	log_info("tls version=%s cipher=%s", SSL_get_version(c->ssl),
	    SSL_get_cipher_name(c->ssl));
	return 0;
}

/* ---- the client side ---- */

static SSL_CTX	*cctx;

int
tls_client_init(const char *cafile, char *err, size_t errsize)
{
	tls_client_free();
	ERR_clear_error();
	if ((cctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		str_fmt(err, errsize, "SSL_CTX_new: %s", ssl_reason());
		goto fail;
	}
	SSL_CTX_set_min_proto_version(cctx, TLS1_2_VERSION);
	SSL_CTX_set_options(cctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_session_cache_mode(cctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(cctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (cafile != NULL && cafile[0] != '\0') {
		if (readable(cafile) == -1) {
			str_fmt(err, errsize, "relay_tls_ca_file %s: %s", cafile,
			    strerror(errno));
			goto fail;
		}
		if (SSL_CTX_load_verify_locations(cctx, cafile, NULL) != 1) {
			str_fmt(err, errsize, "relay_tls_ca_file %s: no PEM "
			    "certificate: %s", cafile, ssl_reason());
			goto fail;
		}
	} else if (SSL_CTX_set_default_verify_paths(cctx) != 1) {
		str_fmt(err, errsize, "the system's CA store: %s", ssl_reason());
		goto fail;
	}
	ERR_clear_error();
	return 0;
fail:
	tls_client_free();
	ERR_clear_error();
	return -1;
}

void
tls_client_free(void)
{
	SSL_CTX_free(cctx);
	cctx = NULL;
}

/* True if s is a numeric IPv4 or IPv6 address. */
static int
is_ip(const char *s)
{
	unsigned char a[16];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

int
tls_connect(struct io *io, const char *servername, int verify,
    unsigned timeout_s, char *whybuf, size_t whysize)
{
	struct tls_conn *c;
	const char *why = NULL;
	char vwhy[200];
	long vr;
	int ip = servername != NULL && is_ip(servername);

	if (whybuf != NULL)
		str_copy(whybuf, whysize, "");
	if (cctx == NULL || io->tr != NULL) {
		why = "TLS client not initialised";
		goto fail_nossl;
	}
	/* Plaintext the server sent before the handshake is not protected. */
	io_discard_input(io);
	if ((c = conn_new(cctx, io)) == NULL) {
		why = "cannot set up a TLS session";
		goto fail_nossl;
	}
	if (servername != NULL && servername[0] != '\0' && !ip &&
	    SSL_set_tlsext_host_name(c->ssl, servername) != 1) {
		why = ssl_reason();
		goto fail;
	}
	if (verify) {
		if (servername == NULL || servername[0] == '\0') {
			why = "no server name to verify";
			goto fail;
		}
		if ((ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl),
		    servername) : SSL_set1_host(c->ssl, servername)) != 1) {
			why = ssl_reason();
			goto fail;
		}
		SSL_set_verify(c->ssl, SSL_VERIFY_PEER, NULL);
	} else
		SSL_set_verify(c->ssl, SSL_VERIFY_NONE, NULL);
	if (handshake(c, io, 1, timeout_s, &why) == -1) {
		vr = SSL_get_verify_result(c->ssl);
		if (verify && vr != X509_V_OK) {
			str_fmt(vwhy, sizeof(vwhy), "certificate verification failed: %s",
			    X509_verify_cert_error_string(vr));
			why = vwhy;
		}
		goto fail;
	}
	if (verify && (vr = SSL_get_verify_result(c->ssl)) != X509_V_OK) {
		/* cannot happen with SSL_VERIFY_PEER; checked all the same */
		str_fmt(vwhy, sizeof(vwhy), "certificate verification failed: %s",
		    X509_verify_cert_error_string(vr));
		why = vwhy;
		goto fail;
	}
	io->tr = &tls_transport;
	io->trctx = c;
	log_info("tls client server=%s version=%s cipher=%s verified=%s",
	    pr(servername != NULL ? servername : ""), SSL_get_version(c->ssl),
	    SSL_get_cipher_name(c->ssl), verify ? "yes" : "no");
	return 0;
fail:
	SSL_free(c->ssl);
	free(c);
fail_nossl:
	{
		char sn[LOG_TEXT_MAX + 8];	/* pr() has one buffer */

		printable(servername != NULL ? servername : "",
		    servername != NULL ? strlen(servername) : 0, sn, sizeof(sn));
		log_info("tls client handshake failed server=%s reason=\"%s\"",
		    sn, pr(why));
	}
	if (whybuf != NULL)
		str_copy(whybuf, whysize, why);
	ERR_clear_error();
	return -1;
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
	SSL_free(c->ssl);
	free(c);
	io->tr = NULL;
	io->trctx = NULL;
	ERR_clear_error();
}

/* ---- the proxy (pop3d after a login over TLS) ---- */

struct half {
	unsigned char	 b[16384];
	size_t		 pos, len;
};

void
tls_proxy(struct io *io, int fd, unsigned idle_timeout_s)
{
	struct tls_conn *c = io->trctx;
	struct half up, down;	/* up: client -> fd; down: fd -> client */
	int cli_eof = 0, srv_eof = 0, rd_want = 0, wr_want = 0;
	size_t n;
	int r;

	if (!tls_active(io)) {
		close(fd);
		return;
	}
	set_nonblock(fd);
	up.pos = down.pos = down.len = 0;
	/* input pipelined after the login command comes first */
	up.len = io->inlen - io->inpos;
	memcpy(up.b, io->in + io->inpos, up.len);
	io_discard_input(io);
	for (;;) {
		struct pollfd p[3];
		int progress = 0;

		rd_want = wr_want = 0;
		/* client -> us */
		if (up.len == 0 && !cli_eof) {
			ERR_clear_error();
			errno = 0;
			if ((r = SSL_read_ex(c->ssl, up.b, sizeof(up.b), &n)) == 1) {
				up.pos = 0;
				up.len = n;
				progress = 1;
			} else {
				int e = SSL_get_error(c->ssl, r);

				if (e == SSL_ERROR_WANT_READ)
					rd_want = POLLIN;
				else if (e == SSL_ERROR_WANT_WRITE)
					rd_want = POLLOUT;
				else {
					if (e != SSL_ERROR_ZERO_RETURN &&
					    !(e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0))
						log_info("tls proxy: %s", ssl_reason());
					cli_eof = 1;
					progress = 1;
				}
			}
		}
		/* us -> fd */
		if (up.len > 0) {
			ssize_t w = write(fd, up.b + up.pos, up.len);

			if (w > 0) {
				up.pos += (size_t)w;
				up.len -= (size_t)w;
				progress = 1;
			} else if (errno != EAGAIN && errno != EINTR)
				break;	/* the user's process is gone */
		}
		if (cli_eof && up.len == 0 && cli_eof != 2) {
			(void)shutdown(fd, SHUT_WR);
			cli_eof = 2;
		}
		/* fd -> us */
		if (down.len == 0 && !srv_eof) {
			ssize_t rr = read(fd, down.b, sizeof(down.b));

			if (rr > 0) {
				down.pos = 0;
				down.len = (size_t)rr;
				progress = 1;
			} else if (rr == 0 || (errno != EAGAIN && errno != EINTR)) {
				srv_eof = 1;
				progress = 1;
			}
		}
		/* us -> client */
		if (down.len > 0) {
			ERR_clear_error();
			if ((r = SSL_write_ex(c->ssl, down.b + down.pos, down.len, &n)) == 1) {
				down.pos += n;
				down.len -= n;
				progress = 1;
			} else {
				int e = SSL_get_error(c->ssl, r);

				if (e == SSL_ERROR_WANT_WRITE)
					wr_want = POLLOUT;
				else if (e == SSL_ERROR_WANT_READ)
					wr_want = POLLIN;
				else
					break;	/* the client is gone */
			}
		}
		if (srv_eof && down.len == 0)
			break;		/* the user's session is over */
		if (progress)
			continue;
		p[0].fd = c->rfd;
		p[0].events = (short)(((rd_want | wr_want) & POLLIN));
		p[1].fd = c->wfd;
		p[1].events = (short)(((rd_want | wr_want) & POLLOUT));
		p[2].fd = fd;
		p[2].events = (short)((up.len > 0 ? POLLOUT : 0) |
		    (down.len == 0 && !srv_eof ? POLLIN : 0));
		for (r = 0; r < 3; r++) {
			if (p[r].events == 0)
				p[r].fd = -1;	/* a hung-up fd must not wake us */
			p[r].revents = 0;
		}
		do
			r = poll(p, 3, (int)idle_timeout_s * 1000);
		while (r == -1 && errno == EINTR);
		if (r == 0) {
			log_info("tls proxy: idle timeout");
			break;
		}
		if (r == -1)
			break;
	}
	close(fd);
	tls_end(io);
}
