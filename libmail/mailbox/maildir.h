/*
 * maildir.h - safe Maildir delivery and message file helpers. Runs as the
 * mailbox owner (the delivery child has already dropped to that user).
 *
 * Delivery: a unique name in tmp/ (O_EXCL|O_NOFOLLOW, 0600), write, fsync,
 * link into new/ (then unlink the tmp name), fsync new/. Only when all of
 * this succeeded is the copy safe. The index is left to the next reader's
 * idx_sync (see maildir.c). Names are
 * TIME.MusecPpidQcount.HOST,S=<octets on disk>,W=<octets as CRLF>.
 * Messages are stored with LF line ends.
 */
#ifndef INETMAIL_MAILDIR_H
#define INETMAIL_MAILDIR_H

#include <stdint.h>
#include <sys/types.h>

#include "params.h"

/*
 * The description of one message file: what maildir_deliver() and
 * maildir_index_file() fill in and the index (index.h) stores.
 */
enum idx_dir { IDX_NEW = 0, IDX_CUR = 1 };

struct idx_rec {
	char	 name[IDX_NAME_MAX];	/* file name inside new/ or cur/ */
	char	 uidl[UIDL_MAX + 1];	/* from the unique part of the name */
	uint8_t	 dir;			/* enum idx_dir */
	uint64_t size;			/* octets on disk (LF line ends) */
	uint64_t wsize;			/* octets with CRLF line ends (POP3 size) */
	uint32_t lines;			/* line count */
	int64_t	 arrival;		/* Unix time of delivery */
	char	 from[IDX_HDR_MAX + 1];	/* header values, unfolded, printable, cut */
	char	 to[IDX_HDR_MAX + 1];
	char	 subject[IDX_HDR_MAX + 1];
	char	 date[IDX_HDR_MAX + 1];
	char	 msgid[IDX_HDR_MAX + 1];
};

/* Creates path, path/tmp, path/new, path/cur (0700) where missing. Refuses
 * symlinks at any of them. 0 ok, -1 with errno. */
int	maildir_create(const char *path);

/*
 * Delivers one message: writes header (may be NULL; e.g. "Return-Path: <a>\n")
 * then the whole content of msgfd (read with pread from offset 0; LF line
 * ends already) into the Maildir at path, which is created when missing.
 * On success fills rec (name, sizes, headers: what idx_put would store)
 * and returns 0.
 * On failure nothing is left in new/ or tmp/ and -1 is returned with errno
 * (ENOSPC/EDQUOT tell "mailbox full").
 */
int	maildir_deliver(const char *path, const char *header, int msgfd,
	    struct idx_rec *rec);

/* Undoes a delivery: removes new/NAME (or cur/NAME with flags) and syncs
 * the directory. The index is not touched (idx_undo does both). */
int	maildir_undo(const char *path, const char *name);

/*
 * Fills rec from a message file open on fd: sizes (wsize counts each LF as
 * CRLF; a last line without LF counts as if it had one), lines, and the
 * From/To/Subject/Date/Message-ID headers (unfolded, made printable, cut).
 * name and dir are set by the caller. 0 ok, -1 on read error.
 */
int	maildir_scan_message(int fd, struct idx_rec *rec);

/* Parses ",S=" and ",W=" from a file name (before any ':'). Each output is
 * set to its value, or UINT64_MAX where absent; returns 0 when both were
 * present, -1 otherwise. */
int	maildir_name_sizes(const char *name, uint64_t *size, uint64_t *wsize);

/*
 * Builds the index record of file name in the directory open on dirfd (dir
 * is IDX_NEW or IDX_CUR), for idx_sync: sizes from the name when ,S= and ,W=
 * are present and the file size equals S= (then only the header is read),
 * else a full scan; arrival from the name's leading time, else the mtime.
 * 0 ok, 1 skipped (vanished, not a regular file, name unusable), -1 error.
 */
int	maildir_index_file(int dirfd, const char *name, int dir,
	    struct idx_rec *rec);

/* The UIDL for a Maildir file name: its unique part (before ':' and before
 * the first ','), or a hash of it when it is longer than UIDL_MAX or has
 * bytes outside 0x21..0x7e. Writes UIDL_MAX+1 bytes at most. */
void	maildir_uidl(const char *name, char *uidl);

#endif
