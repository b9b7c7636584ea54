/*
 * privsep.c - monitor frames, the privilege drop, and the spawn of an
 * unprivileged child.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "privsep.h"

int
ps_pair(int sv[2])
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
}

void
ps_init(struct ps_frame *f, uint32_t type)
{
	f->type = type;
	f->len = 0;
	f->fd = -1;
	f->rpos = 0;
}

int
ps_put_bytes(struct ps_frame *f, const void *p, size_t n)
{
	if (n > sizeof(f->data) - f->len)
		return -1;
	memcpy(f->data + f->len, p, n);
	f->len += n;
	return 0;
}

int
ps_put_u32(struct ps_frame *f, uint32_t v)
{
	return ps_put_bytes(f, &v, sizeof(v));
}

int
ps_put_str(struct ps_frame *f, const char *s)
{
	size_t n = strlen(s);

	if (n > UINT32_MAX || n + 4 > sizeof(f->data) - f->len)
		return -1;
	ps_put_u32(f, (uint32_t)n);
	return ps_put_bytes(f, s, n);
}

int
ps_send(int sock, const struct ps_frame *f, int fd)
{
	struct iovec iov[2];
	struct msghdr msg;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cm;
	ssize_t n;

	iov[0].iov_base = (void *)&f->type;
	iov[0].iov_len = sizeof(f->type);
	iov[1].iov_base = (void *)f->data;
	iov[1].iov_len = f->len;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.buf;
		msg.msg_controllen = sizeof(cm.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	return n == (ssize_t)(sizeof(f->type) + f->len) ? 0 : -1;
}

int
ps_recv(int sock, struct ps_frame *f, int timeout_ms)
{
	struct pollfd p = { sock, POLLIN, 0 };
	struct iovec iov[2];
	struct msghdr msg;
	struct cmsghdr *c;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * 4)];
	} cm;
	ssize_t n;
	int r, bad = 0;

	ps_init(f, 0);
	do
		r = poll(&p, 1, timeout_ms);
	while (r == -1 && errno == EINTR);
	if (r <= 0)
		return -1;
	iov[0].iov_base = &f->type;
	iov[0].iov_len = sizeof(f->type);
	iov[1].iov_base = f->data;
	iov[1].iov_len = sizeof(f->data);
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n == -1 && errno == EINTR);
	if (n <= 0)
		return -1;
	/* Every fd that arrived is either kept (exactly one) or closed. */
	for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		size_t i, nfd;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
			bad = 1;
			continue;
		}
		nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfd; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (f->fd == -1 && !bad)
				f->fd = fd;
			else {
				close(fd);
				bad = 1;
			}
		}
	}
	if (bad || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    (size_t)n < sizeof(f->type)) {
		if (f->fd != -1)
			close(f->fd);
		f->fd = -1;
		log_warnx("privsep: malformed frame dropped");
		return -1;
	}
	f->len = (size_t)n - sizeof(f->type);
	return 0;
}

int
ps_get_bytes(struct ps_frame *f, void *out, size_t n)
{
	if (n > f->len - f->rpos)
		return -1;
	memcpy(out, f->data + f->rpos, n);
	f->rpos += n;
	return 0;
}

int
ps_get_u32(struct ps_frame *f, uint32_t *v)
{
	return ps_get_bytes(f, v, sizeof(*v));
}

int
ps_get_str(struct ps_frame *f, char *out, size_t max)
{
	uint32_t n, i;

	if (ps_get_u32(f, &n) == -1 || max == 0 || n >= max ||
	    n > f->len - f->rpos)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned char c = f->data[f->rpos + i];

		if (c < 0x20 || c == 0x7f)
			return -1;
	}
	memcpy(out, f->data + f->rpos, n);
	out[n] = '\0';
	f->rpos += n;
	return 0;
}

int
ps_done(const struct ps_frame *f)
{
	return f->rpos == f->len;
}

void
priv_drop(const char *user, uid_t uid, gid_t gid, const char *dir, int flags)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (uid == 0 && !(flags & PRIV_ALLOW_ROOT))
		fatalx("refusing to run a session as root (user %s)", user);
	/* Groups first: initgroups reads the group file, absent in the chroot. */
	if ((flags & PRIV_PRIMARY_GROUP) || initgroups(user, gid) == -1) {
		if (setgroups(1, &gid) == -1)
			fatal("setgroups for %s", user);
	}
	if (dir != NULL && dir[0] != '\0') {
		if (chroot(dir) == -1)
			fatal("chroot %s", dir);
		if (chdir("/") == -1)
			fatal("chdir / in chroot");
	}
	if (setresgid(gid, gid, gid) == -1)
		fatal("setresgid %u", (unsigned)gid);
	if (setresuid(uid, uid, uid) == -1)
		fatal("setresuid %u", (unsigned)uid);
	if (getresuid(&ru, &eu, &su) == -1 || ru != uid || eu != uid || su != uid)
		fatalx("uid drop to %u did not take", (unsigned)uid);
	if (getresgid(&rg, &eg, &sg) == -1 || rg != gid || eg != gid || sg != gid)
		fatalx("gid drop to %u did not take", (unsigned)gid);
	if (uid != 0 && (setuid(0) != -1 || seteuid(0) != -1))
		fatalx("could regain root after dropping to %u", (unsigned)uid);
}

pid_t
ps_spawn(const char *user, uid_t uid, gid_t gid, const char *dir, int flags,
    int (*fn)(int, void *), void *arg, int *sock)
{
	int sv[2] = { -1, -1 };
	pid_t pid;

	if (sock != NULL && ps_pair(sv) == -1) {
		log_warn("socketpair");
		return -1;
	}
	if ((pid = fork()) == -1) {
		log_warn("fork");
		if (sock != NULL) {
			close(sv[0]);
			close(sv[1]);
		}
		return -1;
	}
	if (pid == 0) {
		if (sock != NULL)
			close(sv[0]);
		priv_drop(user, uid, gid, dir, flags);
		_exit(fn(sv[1], arg));
	}
	if (sock != NULL) {
		close(sv[1]);
		*sock = sv[0];
	}
	return pid;
}

int
ps_give_file(int dfd, const char *dir, const char *name, uid_t uid,
    gid_t gid)
{
	struct stat st;
	int fd, ret = 0;

	/* O_PATH: nothing is opened for reading (a FIFO or a device planted
	 * here has no say); O_NOFOLLOW: a symbolic link is the link itself */
	if ((fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return 0;	/* gone meanwhile */
	if (fstat(fd, &st) == -1) {
		log_warn("%s/%s", dir, pr(name));
		ret = -1;
	} else if (!S_ISREG(st.st_mode) || (st.st_uid == uid &&
	    st.st_gid == gid))
		;	/* not a file, or already uid's */
	else if (st.st_uid != 0 || st.st_nlink != 1)
		/* a hard link could make root chown a file of its choice */
		log_warnx("%s/%s: uid %u, %u links: not ours, left alone",
		    dir, pr(name), (unsigned)st.st_uid, (unsigned)st.st_nlink);
	else if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH) == -1) {
		log_warn("chown %s/%s", dir, pr(name));
		ret = -1;
	} else
		ret = 1;
	close(fd);
	return ret;
}

/* The regular files root made in the directory dfd, to uid:gid. */
static int
give_files(int dfd, const char *dir, uid_t uid, gid_t gid)
{
	struct dirent *de;
	DIR *d;
	int fd, ret = 0;

	if ((fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return errno == EACCES ? 0 : -1;	/* uid's 0700 already */
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0 &&
		    ps_give_file(dfd, dir, de->d_name, uid, gid) == -1)
			ret = -1;
	closedir(d);
	return ret;
}

int
ps_give_dir(const char *dir, uid_t uid, gid_t gid)
{
	char buf[PATH_MAX], *p;
	struct stat st;
	size_t len = strlen(dir);
	int fd, ret = -1;

	if (dir[0] != '/' || len >= sizeof(buf)) {
		log_warnx("%s: must be an absolute path", pr(dir));
		return -1;
	}
	memcpy(buf, dir, len + 1);
	for (p = buf + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(buf, 0755) == -1 && errno != EEXIST) {
			log_warn("mkdir %s", buf);
			return -1;
		}
		*p = '/';
	}
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		log_warn("mkdir %s", dir);
		return -1;
	}
	if ((fd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		log_warn("%s", dir);
		goto out;
	}
	if (st.st_uid != uid && st.st_uid != 0) {
		log_warnx("%s belongs to uid %u: refused", dir,
		    (unsigned)st.st_uid);
		goto out;
	}
	if (give_files(fd, dir, uid, gid) == -1)
		goto out;
	if ((st.st_uid != uid || st.st_gid != gid) &&
	    fchownat(fd, "", uid, gid, AT_EMPTY_PATH) == -1) {
		log_warn("chown %s", dir);
		goto out;
	}
	/* by name: the parents are root's, nobody else can swap dir */
	if ((st.st_mode & 07777) != 0700 && chmod(dir, 0700) == -1) {
		log_warn("chmod %s", dir);
		goto out;
	}
	ret = 0;
out:
	if (fd != -1)
		close(fd);
	return ret;
}
