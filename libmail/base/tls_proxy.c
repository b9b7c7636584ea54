/*
 * tls_proxy.c - the TLS proxy: after a login over TLS, pop3d's pre-auth
 * process keeps the client's TLS session and relays it, in both
 * directions, to the user's process over a plain socketpair.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "log.h"
#include "tls.h"
#include "tls_int.h"
#include "tls_proxy.h"

/* One direction of the relay: bytes read, not yet written on. */
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
	tls_set_nonblock(fd);
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
						log_info("tls proxy: %s", tls_reason());
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
