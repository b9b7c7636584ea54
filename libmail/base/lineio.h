/*
 * lineio.h - all network input and output. One bounded line reader with one
 * explicit policy for CR, LF and NUL; replies collect in an output buffer
 * that is flushed only when the client has nothing more buffered for us
 * (one write per pipelined group) or before we block. Every wait is a poll()
 * with the session's timeout. The transport is pluggable (plain fds, TLS).
 */
#ifndef INETMAIL_LINEIO_H
#define INETMAIL_LINEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

#define IO_INBUF	16384
#define IO_OUTMAX	(1024 * 1024)	/* replies never exceed this buffered */
#define IO_FLUSH_AT	65536		/* io_write flushes past this */

/* A transport moves bytes; plain fds when io->tr is NULL. */
struct io_transport {
	ssize_t	(*read)(void *ctx, void *buf, size_t len);
	ssize_t	(*write)(void *ctx, const void *buf, size_t len);
	int	(*pending)(void *ctx);	/* bytes already decoded and waiting */
};

struct io {
	int			 rfd, wfd;
	const struct io_transport *tr;
	void			*trctx;
	unsigned char		 in[IO_INBUF];
	size_t			 inpos, inlen;
	struct buf		 out;
	int			 timeout_ms;	/* per read or write */
	uint64_t		 deadline_ms;	/* now_ms() limit for all of them,
						   0 = none (a peer trickling
						   bytes cannot outlast it) */
	int			 crlf_only;	/* only CR LF ends a line (SMTP) */
	int			 eof;		/* io_pending saw end of file */
	unsigned long long	 bytes_in, bytes_out;
};

/* io_getline results. */
#define IO_OK		0
#define IO_EOF		(-1)	/* peer closed (a partial last line is dropped) */
#define IO_TIMEOUT	(-2)
#define IO_ERROR	(-3)

/*
 * Flags describing the line just read. A line ends at LF; with crlf_only
 * set, only at CR LF, and a bare LF is kept in the line (PROTOCOL-NOTES:
 * a bare LF never ends an SMTP command or text line).
 */
#define IOL_CRLF	0x01	/* ended with CR LF */
#define IOL_BARE_LF	0x02	/* a LF without CR: ended the line or is inside it */
#define IOL_BARE_CR	0x04	/* a CR not followed by LF inside the line */
#define IOL_NUL		0x08	/* a NUL byte inside the line */
#define IOL_LONG	0x10	/* over max: the rest up to LF was read and dropped */

void	io_init(struct io *, int rfd, int wfd, unsigned timeout_s);
/*
 * Reads one line into line (room for max+1 bytes; NUL-terminated; may hold
 * NUL bytes, so use *len). The terminator is not stored. Before blocking it
 * flushes pending output.
 */
int	io_getline(struct io *, char *line, size_t max, size_t *len, unsigned *flags);
/* Reads 1..len raw bytes (BDAT); returns count or IO_EOF/IO_TIMEOUT/IO_ERROR. */
ssize_t	io_read(struct io *, void *buf, size_t len);
/* True if input is already waiting (buffered or readable right now). */
int	io_pending(struct io *);
/* Drops everything buffered and readable right now (STARTTLS: CVE-2011-0411). */
void	io_discard_input(struct io *);

/* Queue output; io_printf appends nothing else (callers add CRLF). */
int	io_write(struct io *, const void *, size_t);
int	io_printf(struct io *, const char *, ...) __attribute__((format(printf, 2, 3)));
/* Writes all queued output; 0 ok, -1 on error or timeout. */
int	io_flush(struct io *);

#endif
