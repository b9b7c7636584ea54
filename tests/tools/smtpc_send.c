/*
 * smtpc_send.c - drives the outbound SMTP client (libmail/relay/smtpc.c) once,
 * for tests/e2e/smtpc_remote.sh: delivers a message file to recipients of
 * one domain and prints one line per recipient with its verdict.
 *
 *   smtpc_send [-f conf] [-o key=value]... [-u user -p pass]
 *              -s sender -m message domain rcpt...
 *
 * Output per recipient:
 *   rcpt=ADDR state=sent|failed|pending status=X.Y.Z remote="..." diag="..."
 * Exit status: 0 delivered or not (the verdicts say), 1 local error, 2 usage.
 * The log goes to stderr.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "smtpc.h"
#include "util.h"

static void
usage(void)
{
	fprintf(stderr, "usage: smtpc_send [-f conf] [-o key=value]... [-u user -p pass] "
	    "-s sender -m message domain rcpt...\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *cfile = NULL, *sender = NULL, *msg = NULL, *user = NULL, *pass = NULL;
	char err[512];
	struct smtpc_rcpt *rc;
	struct stat st;
	int c, fd, i, n, r;

	log_open("smtpc_send", 1);
	conf_defaults();
	/* -f first, so that -o wins whatever the order */
	for (i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], "-f") == 0)
			cfile = argv[i + 1];
	if (cfile != NULL && conf_load(cfile, 0, err, sizeof(err)) == -1) {
		fprintf(stderr, "smtpc_send: %s\n", err);
		return 2;
	}
	while ((c = getopt(argc, argv, "f:o:u:p:s:m:")) != -1) {
		switch (c) {
		case 'f':
			break;
		case 'o':
			if (conf_option(optarg, err, sizeof(err)) == -1) {
				fprintf(stderr, "smtpc_send: %s\n", err);
				return 2;
			}
			break;
		case 'u':
			user = optarg;
			break;
		case 'p':
			pass = optarg;
			break;
		case 's':
			sender = optarg;
			break;
		case 'm':
			msg = optarg;
			break;
		default:
			usage();
		}
	}
	if (sender == NULL || msg == NULL || argc - optind < 2)
		usage();
	conf_finish();
	if (smtpc_init(err, sizeof(err)) == -1) {
		fprintf(stderr, "smtpc_send: %s\n", err);
		return 1;
	}
	if (user != NULL)
		smtpc_set_auth(user, pass);
	if ((fd = open(msg, O_RDONLY | O_CLOEXEC)) == -1 || fstat(fd, &st) == -1) {
		perror(msg);
		return 1;
	}
	n = argc - optind - 1;
	rc = xcalloc((size_t)n, sizeof(*rc));
	for (i = 0; i < n; i++)
		rc[i].addr = argv[optind + 1 + i];
	r = smtpc_deliver(argv[optind], sender, fd, (uint64_t)st.st_size, rc, (size_t)n);
	for (i = 0; i < n; i++)
		printf("rcpt=%s state=%s status=%s remote=\"%s\" diag=\"%s\"\n",
		    rc[i].addr, rc[i].state == QR_SENT ? "sent" :
		    rc[i].state == QR_FAILED ? "failed" : "pending", rc[i].status,
		    rc[i].remote, rc[i].diag);
	free(rc);
	close(fd);
	return r == -1 ? 1 : 0;
}
