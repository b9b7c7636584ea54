/*
 * monitor_probe - smtpd's root monitor (smtpd/monitor.c) driven by a fake
 * session, as a compromised session process would drive it: for
 * tests/e2e/privsep_monitor.sh. The monitor must hold its rules by itself,
 * whatever the session checked (or skipped) before asking.
 *
 *   monitor_probe [-a ADDR] [smtpd options: -d -f FILE -o key=value]
 *
 * Everything is as in smtpd (daemon_start, daemon_tls_init, ps_spawn of the
 * session child as unpriv_user in chroot_dir, monitor_run), except that the
 * child runs the script read from stdin instead of SMTP, and that -a ADDR
 * names the client's address (default: smtpd's own view of fd 0, "pipe"
 * for a pipe). One request a line, its fields separated by blanks ('' is
 * the empty string):
 *
 *   TLS                      REQ_TLS (the session says it is in TLS now)
 *   AUTH USER PASS [MECH]    REQ_AUTH (MECH default PLAIN)
 *   RCPT ADDR                REQ_RCPT
 *   TX_RCPT ADDR SENDER      REQ_TX_RCPT
 *   SENDER ADDR              REQ_SENDER
 *   DELIVER_RCPT ADDR        REQ_DELIVER_RCPT (no answer)
 *   DELIVER SENDER ID        REQ_DELIVER with a small message as its fd
 *   CONNECT                  REQ_CONNECT
 *   RAW TYPE                 an empty frame of that type number
 *
 * Output (stdout): "> " and the request line, then "< " and the answer's
 * name and detail (ANS_OK is "OK"); a request without an answer prints
 * none. When the monitor refuses a request outright it kills the session
 * (nothing more from it) and writes smtpd's 421 line itself.
 */
#include <sys/mman.h>

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "daemon.h"
#include "log.h"
#include "privsep.h"
#include "smtpd.h"
#include "tls_server.h"
#include "util.h"

#define MAX_LINES	64
#define MAX_FIELDS	4

static char *script[MAX_LINES];
static size_t nlines;

static const char *
ans_name(uint32_t t)
{
	static const char *const names[] = { "OK", "NOUSER", "TEMP", "FULL",
	    "GREYLISTED", "BLOCKED", "RELAY", "AUTH_FAIL", "AUTH_BLOCKED",
	    "NOT_OWNER" };
	static char other[32];

	if (t >= ANS_OK && t - ANS_OK < sizeof(names) / sizeof(names[0]))
		return names[t - ANS_OK];
	snprintf(other, sizeof(other), "type_%u", (unsigned)t);
	return other;
}

/* Splits a script line into at most MAX_FIELDS fields; '' is empty. */
static size_t
split(char *line, char *field[MAX_FIELDS])
{
	size_t n = 0;
	char *p;

	for (p = strtok(line, " \t"); p != NULL && n < MAX_FIELDS;
	    p = strtok(NULL, " \t"))
		field[n++] = strcmp(p, "''") == 0 ? p + 2 : p;
	return n;
}

static int
put_strs(struct ps_frame *f, char **field, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ps_put_str(f, field[i]) == -1)
			return -1;
	return 0;
}

/* One request; 1 when it expects an answer, 0 when not, -1 bad line. */
static int
build(char *line, struct ps_frame *f, int *fd)
{
	static const struct {
		const char	*name;
		uint32_t	 type;
		size_t		 nargs;
		int		 answer;
	} reqs[] = {
		{ "TLS", REQ_TLS, 0, 0 },
		{ "RCPT", REQ_RCPT, 1, 1 },
		{ "TX_RCPT", REQ_TX_RCPT, 2, 1 },
		{ "SENDER", REQ_SENDER, 1, 1 },
		{ "DELIVER_RCPT", REQ_DELIVER_RCPT, 1, 0 },
		{ "DELIVER", REQ_DELIVER, 2, 1 },
		{ "CONNECT", REQ_CONNECT, 0, 1 },
	};
	static const char msg[] = "Subject: monitor_probe\n\nbody\n";
	char *field[MAX_FIELDS];
	size_t n = split(line, field), i;
	uint32_t len;

	*fd = -1;
	if (n == 0)
		return -1;
	if (strcmp(field[0], "AUTH") == 0 && (n == 3 || n == 4)) {
		len = (uint32_t)strlen(field[2]);
		ps_init(f, REQ_AUTH);
		if (ps_put_str(f, field[1]) == -1 || ps_put_u32(f, len) == -1 ||
		    ps_put_bytes(f, field[2], len) == -1 ||
		    ps_put_str(f, n == 4 ? field[3] : "PLAIN") == -1)
			return -1;
		return 1;
	}
	if (strcmp(field[0], "RAW") == 0 && n == 2) {
		ps_init(f, (uint32_t)strtoul(field[1], NULL, 10));
		return 1;
	}
	for (i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		if (strcmp(field[0], reqs[i].name) != 0)
			continue;
		if (n != reqs[i].nargs + 1)
			return -1;
		ps_init(f, reqs[i].type);
		if (put_strs(f, field + 1, n - 1) == -1)
			return -1;
		if (reqs[i].type == REQ_DELIVER) {
			if ((*fd = memfd_create("probe-msg", MFD_CLOEXEC)) == -1 ||
			    write_all(*fd, msg, sizeof(msg) - 1) == -1 ||
			    lseek(*fd, 0, SEEK_SET) == -1)
				return -1;
		}
		return reqs[i].answer;
	}
	return -1;
}

/* The fake session, as unpriv_user in chroot_dir (ps_spawn). */
static int
fake_session(int mfd, void *arg)
{
	struct ps_frame f;
	char line[1024], detail[PS_PAYLOAD_MAX + 1];
	size_t i;
	int fd, want;

	(void)arg;
	for (i = 0; i < nlines; i++) {
		str_copy(line, sizeof(line), script[i]);
		printf("> %s\n", script[i]);
		fflush(stdout);
		if ((want = build(line, &f, &fd)) == -1) {
			printf("! bad script line\n");
			return 2;
		}
		if (ps_send(mfd, &f, fd) == -1) {
			printf("< send failed\n");
			return 1;
		}
		if (fd != -1)
			close(fd);
		if (!want)
			continue;
		if (ps_recv(mfd, &f, 10000) == -1) {
			printf("< closed\n");
			return 1;
		}
		if (ps_get_str(&f, detail, sizeof(detail)) == -1)
			detail[0] = '\0';
		printf("< %s%s%s\n", ans_name(f.type), detail[0] ? " " : "",
		    detail);
		fflush(stdout);
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	char err[256], buf[1024], *addr = NULL;
	struct passwd *pw;
	struct peer peer;
	pid_t pid;
	int fd;

	if (argc > 2 && strcmp(argv[1], "-a") == 0) {
		addr = argv[2];
		argv[2] = argv[0];
		argv += 2;
		argc -= 2;
	}
	while (nlines < MAX_LINES && fgets(buf, sizeof(buf), stdin) != NULL) {
		buf[strcspn(buf, "\r\n")] = '\0';
		if (buf[0] != '\0' && buf[0] != '#')
			script[nlines++] = xstrdup(buf);
	}
	if (daemon_start(argc, argv, "smtpd", 0, &peer, err, sizeof(err)) == -1 ||
	    daemon_tls_init(err, sizeof(err)) == -1) {
		fprintf(stderr, "monitor_probe: %s\n", err);
		return 1;
	}
	if (addr != NULL) {
		str_copy(peer.addr, sizeof(peer.addr), addr);
		str_fmt(peer.name, sizeof(peer.name), "[%s]", addr);
	}
	if ((pw = getpwnam(conf.unpriv_user)) == NULL) {
		fprintf(stderr, "monitor_probe: no user %s\n", conf.unpriv_user);
		return 1;
	}
	fflush(stdout);
	if ((pid = ps_spawn(pw->pw_name, pw->pw_uid, pw->pw_gid,
	    conf.chroot_dir, 0, fake_session, NULL, &fd)) == -1) {
		fprintf(stderr, "monitor_probe: cannot start the session\n");
		return 1;
	}
	tls_server_free();
	monitor_run(fd, &peer, pid);
	return 0;
}
