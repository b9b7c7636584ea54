/*
 * pop3d.h - what the pop3d processes share: the monitor frames, the
 * states and the command table row, and the reply/line helpers used before
 * and after login.
 */
#ifndef POP3D_H
#define POP3D_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon.h"
#include "lineio.h"
#include "params.h"
#include "user.h"

#define POP3_AUTH_TRIES		3	/* failed logins before we close */
#define POP3_PASS_MAX		POP3_CMD_MAX	/* a password fits in one line */
#define POP3_MAX_COMMANDS	1000000	/* per session, against idle loops */

/*
 * Pre-auth child -> monitor (POP_: not smtpd's requests of the same
 * names, which are other numbers on another channel).
 */
enum {
	POP_REQ_AUTH = 1,	/* str user, u32 len + bytes password, str
				   mech; fd: memfd with the input buffered
				   after the login command (handed to the
				   post-auth child) */
	POP_REQ_APOP,		/* str user, str digest (32 lower-case hex),
				   str timestamp of the greeting; fd as for
				   POP_REQ_AUTH */
	/*
	 * Over TLS the fd of POP_REQ_AUTH/POP_REQ_APOP is a stream socket
	 * instead of a memfd: on POP_ANS_OK the pre-auth child stays on as
	 * the TLS proxy, and that socket is the post-auth child's client.
	 */
};

/* Monitor -> pre-auth child (u32 type, no payload). */
enum {
	POP_ANS_OK = 100,	/* logged in: flush nothing more, exit */
	POP_ANS_PERM,		/* -ERR [AUTH] */
	POP_ANS_TEMP,		/* -ERR [SYS/TEMP] */
	POP_ANS_DELAY,		/* throttled: -ERR [LOGIN-DELAY], then close */
};

/* Session states (RFC 1939 3): AUTHORIZATION runs in the pre-auth child,
 * TRANSACTION and UPDATE in the post-auth child. */
#define ST_AUTH		1	/* AUTHORIZATION */
#define ST_TRANS	2	/* TRANSACTION */
#define ST_UPDATE	3	/* UPDATE, after QUIT in TRANSACTION */

struct msg {
	char	*name;		/* file name in new/ or cur/ */
	char	 uidl[UIDL_MAX + 1];
	uint64_t size;		/* on disk */
	uint64_t wsize;		/* POP3 size (CRLF) */
	uint8_t	 dir;		/* IDX_NEW / IDX_CUR */
	uint8_t	 deleted;
};

struct pop {
	struct io	 io;
	unsigned	 state;
	int		 mfd;		/* monitor socket (pre-auth only) */
	int		 quit;
	unsigned	 errors, ncmds, authfails;
	char		 user[USER_NAME_MAX + 1];	/* after login */
	char		 username[POP3_CMD_MAX];	/* from USER */
	const char	*apop_ts;	/* greeting timestamp; NULL: APOP off */
	int		 have_user;
	/* TRANSACTION */
	char		 maildir[4096];
	int		 dirfd[2];	/* new/, cur/ */
	struct msg	*msgs;
	size_t		 nmsgs;
	unsigned	 last;		/* LAST: highest message retrieved */
	unsigned	 nretr, ntop, ndele;
	unsigned long long retr_bytes;
};

/* Handlers return one of these; the dispatcher writes the generic ones. */
#define R_DONE		0	/* the handler replied */
#define R_SYNTAX	1	/* -ERR syntax error */
#define R_NOMSG		2	/* -ERR no such message */

#define CF_RAWARG	0x01	/* keep trailing blanks (PASS) */

/* One row of a state's command table; a NULL name ends the table. */
struct cmd {
	const char	*name;
	unsigned	 flags;
	int		(*fn)(struct pop *, char *arg);
};

/* common.c: what both halves share. */
void	reply(struct pop *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Changes p->state, and logs the change (with -d). */
void	enter_state(struct pop *, unsigned state);
/* May a plaintext password (USER/PASS, SASL PLAIN/LOGIN) be used now? */
int	plaintext_auth_ok(const struct pop *);
/* CAPA, the same handler in both states. */
int	cmd_capa(struct pop *, char *);
/* Reads one command line with the line policy; 1 got one, 0 replied to a
 * bad line (try again), -1 the session is over (EOF/timeout: logged). */
int	read_command(struct pop *, char *line, size_t size);
/* Runs line through the current state's table (a command of another
 * state gets "not valid in this state"). */
void	dispatch(struct pop *, const struct cmd *table, char *line);

/* preauth.c: AUTHORIZATION, unprivileged in chroot_dir. apop_ts: the
 * monitor's APOP timestamp for the greeting, or NULL. */
void	preauth_run(int monitor_fd, const char *apop_ts);

/* maildrop.c: TRANSACTION and UPDATE, as the user. */
void	maildrop_run(const struct mailuser *, int leftover_fd, const char *mech,
	    const char *ip);

#endif
