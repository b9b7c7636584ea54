/*
 * lineio.c - the bounded line reader and the batched writer.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lineio.h"
#include "util.h"

void
io_init(struct io *io, int rfd, int wfd, unsigned timeout_s)
{
	int one = 1;

	memset(io, 0, sizeof(*io));
	io->rfd = rfd;
	io->wfd = wfd;
	io->timeout_ms = (int)timeout_s * 1000;
	buf_init(&io->out, IO_OUTMAX);
	/* Replies are batched by us; Nagle would only delay them. */
	(void)setsockopt(wfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int
wait_fd(int fd, short ev, int timeout_ms)
{
	struct pollfd p = { fd, ev, 0 };
	int r;

	do
		r = poll(&p, 1, timeout_ms);
	while (r == -1 && errno == EINTR);
	if (r == 0)
		return IO_TIMEOUT;
	return r == -1 ? IO_ERROR : IO_OK;
}

/* The poll timeout for io: timeout_ms, cut to what is left until the
 * deadline; 0 when the deadline has passed (the poll then times out). */
static int
io_wait_ms(const struct io *io)
{
	uint64_t now;

	if (io->deadline_ms == 0)
		return io->timeout_ms;
	if ((now = now_ms()) >= io->deadline_ms)
		return 0;
	if (io->timeout_ms < 0 || io->deadline_ms - now < (uint64_t)io->timeout_ms)
		return (int)(io->deadline_ms - now);
	return io->timeout_ms;
}

/* Refills io->in (which must be empty). */
static int
fill(struct io *io)
{
	ssize_t n;
	int r;

	if (io_flush(io) == -1)
		return IO_ERROR;
	if (io->eof)
		return IO_EOF;
	for (;;) {
		if ((io->tr == NULL || !io->tr->pending(io->trctx)) &&
		    (r = wait_fd(io->rfd, POLLIN, io_wait_ms(io))) != IO_OK)
			return r;
		if (io->tr != NULL)
			n = io->tr->read(io->trctx, io->in, sizeof(io->in));
		else
			n = read(io->rfd, io->in, sizeof(io->in));
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		break;
	}
	if (n == 0)
		return IO_EOF;
	if (n < 0)
		return IO_ERROR;
	io->inpos = 0;
	io->inlen = (size_t)n;
	io->bytes_in += (unsigned long long)n;
	return IO_OK;
}

#define STORE(c) do {					\
	if (len < max)					\
		line[len++] = (char)(c);		\
	else						\
		*flags |= IOL_LONG;			\
} while (0)

int
io_getline(struct io *io, char *line, size_t max, size_t *lenp, unsigned *flags)
{
	size_t len = 0;
	int prev_cr = 0, r;

	*flags = 0;
	for (;;) {
		unsigned char *p, *lf;
		size_t avail, take, i;

		if (io->inpos == io->inlen && (r = fill(io)) != IO_OK)
			return r;
		p = io->in + io->inpos;
		avail = io->inlen - io->inpos;
		lf = memchr(p, '\n', avail);
		take = lf ? (size_t)(lf - p) : avail;
		/*
		 * Classify every byte before the LF. A CR is held back until
		 * the next byte shows whether it was part of CR LF, so that a
		 * CR never counts against max.
		 */
		for (i = 0; i < take; i++) {
			unsigned char c = p[i];

			if (prev_cr) {
				*flags |= IOL_BARE_CR;
				STORE('\r');
			}
			prev_cr = c == '\r';
			if (prev_cr)
				continue;
			if (c == '\0')
				*flags |= IOL_NUL;
			STORE(c);
		}
		io->inpos += take;
		if (lf == NULL)
			continue;
		io->inpos++;	/* the LF */
		if (!prev_cr && io->crlf_only) {
			*flags |= IOL_BARE_LF;
			STORE('\n');
			continue;
		}
		*flags |= prev_cr ? IOL_CRLF : IOL_BARE_LF;
		line[len] = '\0';
		*lenp = len;
		return IO_OK;
	}
}

ssize_t
io_read(struct io *io, void *buf, size_t len)
{
	size_t n;
	int r;

	if (io->inpos == io->inlen && (r = fill(io)) != IO_OK)
		return r;
	n = io->inlen - io->inpos;
	if (n > len)
		n = len;
	memcpy(buf, io->in + io->inpos, n);
	io->inpos += n;
	return (ssize_t)n;
}

int
io_pending(struct io *io)
{
	ssize_t n;

	if (io->inpos < io->inlen)
		return 1;
	if (io->tr != NULL)
		return io->tr->pending(io->trctx) ||
		    wait_fd(io->rfd, POLLIN, 0) == IO_OK;
	if (io->eof || wait_fd(io->rfd, POLLIN, 0) != IO_OK)
		return 0;
	/*
	 * Readable can mean end of file (a client that sent QUIT and
	 * half-closed): read now, so that only real input counts as pending.
	 */
	n = read(io->rfd, io->in, sizeof(io->in));
	if (n <= 0) {
		io->eof = n == 0;
		return 0;
	}
	io->inpos = 0;
	io->inlen = (size_t)n;
	io->bytes_in += (unsigned long long)n;
	return 1;
}

void
io_discard_input(struct io *io)
{
	io->inpos = io->inlen = 0;
}

int
io_write(struct io *io, const void *p, size_t n)
{
	if (buf_add(&io->out, p, n) == -1)
		return -1;
	if (io->out.len >= IO_FLUSH_AT)
		return io_flush(io);
	return 0;
}

int
io_printf(struct io *io, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -1;
	return io_write(io, line, (size_t)n);
}

int
io_flush(struct io *io)
{
	size_t off = 0;

	while (off < io->out.len) {
		ssize_t n;

		if (wait_fd(io->wfd, POLLOUT, io_wait_ms(io)) != IO_OK)
			return -1;
		if (io->tr != NULL)
			n = io->tr->write(io->trctx, io->out.ptr + off, io->out.len - off);
		else
			n = write(io->wfd, io->out.ptr + off, io->out.len - off);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return -1;
		off += (size_t)n;
		io->bytes_out += (unsigned long long)n;
	}
	buf_reset(&io->out);
	return 0;
}
