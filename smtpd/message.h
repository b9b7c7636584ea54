/*
 * message.h - the message as smtpd receives it: the DATA reader (only
 * CR LF "." CR LF ends a message) and the message writer, which checks the
 * received octets byte by byte (bare CR or LF, NUL, line length, size,
 * Received: count) and stores them with LF line ends in a memfd that the
 * monitor receives. Kept apart from the session so that both are fuzzed.
 */
#ifndef SMTPD_MESSAGE_H
#define SMTPD_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "lineio.h"

/* Message writer errors, in the order they are reported. */
#define E_IO		0x01
#define E_SIZE		0x02
#define E_EOL		0x04
#define E_NUL		0x08
#define E_LONG		0x10
#define E_LOOP		0x20

/*
 * The message writer: takes the message as received (CRLF line ends, after
 * dot-unstuffing for DATA), checks it byte by byte, and stores it with LF
 * line ends in a memfd that the monitor receives.
 */
struct msgw {
	int		 fd;
	struct buf	 out;
	uint64_t	 size;		/* octets received */
	int		 cr;		/* last byte was a CR */
	size_t		 linelen;
	int		 in_hdr;
	char		 hdr[10];	/* the start of the current header line */
	unsigned	 received;	/* Received: headers seen */
	unsigned	 err;
};

/* Opens the memfd; -1 (logged) on failure. */
int	msgw_start(struct msgw *);
/* Stores octets as they are (our own header lines, LF ends). */
void	msgw_put(struct msgw *, const char *, size_t);
/* Feeds received octets (CRLF form): checked, converted, stored. */
void	msgw_feed(struct msgw *, const char *, size_t);
/* Ends the message: a last line without CRLF gets an LF (BDAT). */
void	msgw_finish(struct msgw *);
void	msgw_discard(struct msgw *);
/*
 * Reads DATA up to the real end: a line that is exactly "." after a line
 * that ended with CR LF (the reader must be in crlf_only mode, so a bare
 * LF never ends a line). Dot-unstuffs and feeds every line. Returns IO_OK
 * at the end of data, else the reader's IO_EOF/IO_TIMEOUT/IO_ERROR.
 */
int	msgw_read_data(struct msgw *, struct io *);

#endif
