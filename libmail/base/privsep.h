/*
 * privsep.h - the frames between an unprivileged session process and its
 * root monitor, the privilege drop itself, and the spawn of a child that
 * drops before it runs anything.
 *
 * Frames travel over a SOCK_SEQPACKET socketpair: one frame per datagram, so
 * a frame is never split or merged. A frame is a 4-byte type, then at most
 * PS_PAYLOAD_MAX bytes of payload, and at most one passed file descriptor
 * (message bodies travel as fds, never as parsed text). The receiver checks
 * the size, truncation and the fd count of every frame; the payload format
 * of each type is validated by its handler with the ps_get_* readers, which
 * never read past the frame.
 */
#ifndef INETMAIL_PRIVSEP_H
#define INETMAIL_PRIVSEP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "params.h"

struct ps_frame {
	uint32_t	 type;
	size_t		 len;
	unsigned char	 data[PS_PAYLOAD_MAX];
	int		 fd;		/* -1 when none was passed */
	size_t		 rpos;		/* read position for ps_get_* */
};

/* Creates the socketpair (close-on-exec). */
int	ps_pair(int sv[2]);
/* Starts an empty frame of a type. */
void	ps_init(struct ps_frame *, uint32_t type);
/* Appends a u32 / a length-prefixed string; -1 if the frame would overflow. */
int	ps_put_u32(struct ps_frame *, uint32_t);
int	ps_put_str(struct ps_frame *, const char *);
int	ps_put_bytes(struct ps_frame *, const void *, size_t);
/* Sends the frame, passing fd when fd >= 0. */
int	ps_send(int sock, const struct ps_frame *, int fd);
/*
 * Receives one frame, waiting at most timeout_ms (-1 forever). Returns 0,
 * or -1 on EOF, error, timeout, truncation or a malformed control message
 * (any stray fds are closed).
 */
int	ps_recv(int sock, struct ps_frame *, int timeout_ms);
/* Readers: -1 if the frame is too short or a string is not clean text of
 * at most max-1 bytes (no NUL, no control bytes). */
int	ps_get_u32(struct ps_frame *, uint32_t *);
int	ps_get_str(struct ps_frame *, char *out, size_t max);
int	ps_get_bytes(struct ps_frame *, void *out, size_t len);
/* True when every byte was read: handlers reject frames with trailing junk. */
int	ps_done(const struct ps_frame *);

/*
 * Drops to uid/gid (supplementary groups of user), chrooting to dir first
 * when dir is non-empty. setgroups/initgroups, setresgid, setresuid; then
 * verifies that the real, effective and saved ids all changed and that
 * setuid(0) fails. Any failure is fatal. Flags:
 */
#define PRIV_ALLOW_ROOT		0x01	/* uid 0 allowed (root's own mailbox) */
#define PRIV_PRIMARY_GROUP	0x02	/* only gid, no group database walk
					   (delivery, as Postfix's local does) */
void	priv_drop(const char *user, uid_t uid, gid_t gid, const char *dir,
	    int flags);

/*
 * Forks a child that drops to user/uid/gid (dir and flags as priv_drop),
 * then exits with fn(fd, arg). With sock != NULL a new socketpair joins
 * them: *sock gets the parent's end, fn's fd is the child's (each closes
 * the other's); with sock == NULL fn's fd is -1. Returns the child's pid,
 * or -1 (logged, nothing left open).
 */
/*
 * Root's side of a directory an unprivileged child works in: makes dir
 * (an absolute path; missing parents root's 0755) when missing, then
 * gives it to uid:gid, mode 0700, with the regular files root made in it
 * (an admin's tool run as root); a symbolic link, a hard link or a file
 * of another user is left alone. A directory of another user (not root,
 * not uid) is refused. Once it is uid's 0700 directory root may be unable
 * to look inside (no CAP_DAC_OVERRIDE): that is no error. 0, or -1 logged.
 */
int	ps_give_dir(const char *dir, uid_t uid, gid_t gid);
/*
 * One entry name of the directory dfd (dir names it in logs) to uid:gid
 * when it is a regular file of root's with one link; anything else is left
 * alone (logged when it is a file not root's or with more links). Checked
 * and chowned through one descriptor opened O_PATH | O_NOFOLLOW, never by
 * name again: uid, who owns the directory, cannot swap in a link between
 * the check and the chown. 1 given, 0 left alone, -1 logged.
 */
int	ps_give_file(int dfd, const char *dir, const char *name, uid_t uid,
	    gid_t gid);

pid_t	ps_spawn(const char *user, uid_t uid, gid_t gid, const char *dir,
	    int flags, int (*fn)(int fd, void *arg), void *arg, int *sock);

#endif
