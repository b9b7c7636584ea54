/*
 * pop3_stubs.h - the TRANSACTION-state handlers of pop3d/session.c, which
 * the command table in pop3d/common.c names but which the AUTHORIZATION
 * state never reaches: stubs that abort if it ever does (a state bug).
 * Included by the POP3 fuzz targets only.
 */
#ifndef POP3_STUBS_H
#define POP3_STUBS_H

#include "pop3d.h"

#define STUB(name) int name(struct pop *p, char *a) { (void)p, (void)a; \
	fprintf(stderr, #name " reached before login\n"); abort(); }
STUB(cmd_stat)
STUB(cmd_list)
STUB(cmd_uidl)
STUB(cmd_retr)
STUB(cmd_top)
STUB(cmd_dele)
STUB(cmd_noop)
STUB(cmd_rset)
STUB(cmd_last)
#undef STUB
void
session_update(struct pop *p)
{
	(void)p;
	fprintf(stderr, "session_update reached before login\n");
	abort();
}

#endif
