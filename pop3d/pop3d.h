/*
 * pop3d.h - what the pop3d processes share: the monitor frames, the one
 * command table, and the reply/line helpers used before and after login.
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

/* Pre-auth child -> monitor. */
enum {
	REQ_AUTH = 1,	/* str user, u32 len + bytes password, str mech;
			   fd: memfd with the input buffered after the
			   login command (handed to the post-auth child) */
	REQ_APOP,	/* str user, str digest (32 lower-case hex), str
			   timestamp of the greeting; fd as for REQ_AUTH */
	/*
	 * Over TLS the fd of REQ_AUTH/REQ_APOP is a stream socket instead
	 * of a memfd: on ANS_OK the pre-auth child stays on as the TLS
	 * proxy, and that socket is the post-auth child's client.
	 */
};

/* Monitor -> pre-auth child (u32 type, no payload). */
enum {
	ANS_OK = 100,	/* logged in: flush nothing more, exit */
	ANS_PERM,	/* -ERR [AUTH] */
	ANS_TEMP,	/* -ERR [SYS/TEMP] */
	ANS_DELAY,	/* throttled: -ERR [LOGIN-DELAY], then close */
};

/* Session states, as bits so one table row can allow several. */
#define ST_AUTH		0x01	/* AUTHORIZATION */
#define ST_TRANS	0x02	/* TRANSACTION */
#define ST_ANY		0x03


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

struct cmd {
	const char	*name;
	unsigned	 states;
	unsigned	 flags;
	int		(*fn)(struct pop *, char *arg);
};

/* common.c */
void	reply(struct pop *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	send_capa(struct pop *);
/* Reads one command line with the line policy; 1 got one, 0 replied to a
 * bad line (try again), -1 the session is over (EOF/timeout: logged). */
int	read_command(struct pop *, char *line, size_t size);
void	dispatch(struct pop *, char *line);

/* preauth.c: the AUTHORIZATION state, unprivileged in chroot_dir. */
/* apop_ts: the monitor's APOP timestamp for the greeting, or NULL. */
void	preauth_run(int monitor_fd, const char *apop_ts);
int	cmd_user(struct pop *, char *);
int	cmd_pass(struct pop *, char *);
int	cmd_auth(struct pop *, char *);
int	cmd_apop(struct pop *, char *);
int	cmd_stls(struct pop *, char *);
/* May a plaintext password (USER/PASS, SASL PLAIN/LOGIN) be used now? */
int	plaintext_auth_ok(const struct pop *);


/* session.c: TRANSACTION and UPDATE, as the user. */
void	session_run(const struct mailuser *, int leftover_fd, const char *mech,
	    const char *ip);
int	cmd_stat(struct pop *, char *);
int	cmd_list(struct pop *, char *);
int	cmd_uidl(struct pop *, char *);
int	cmd_retr(struct pop *, char *);
int	cmd_top(struct pop *, char *);
int	cmd_dele(struct pop *, char *);
int	cmd_noop(struct pop *, char *);
int	cmd_rset(struct pop *, char *);
int	cmd_last(struct pop *, char *);
/* UPDATE: removes the deleted messages; replies. */
void	session_update(struct pop *);

#endif
