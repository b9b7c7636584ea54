/*
 * tls_client.c - the client side of TLS for the outbound SMTP client
 * (smtpc.c): the one client context (TLS >= 1.2, the trusted CAs) and the
 * handshake with SNI and, when asked, verification of the server's name.
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "log.h"
#include "params.h"
#include "tls_client.h"
#include "tls_int.h"
#include "util.h"

static SSL_CTX	*cctx;			/* the one client context */

int
tls_client_init(const char *cafile, char *err, size_t errsize)
{
	tls_client_free();
	if ((cctx = tls_ctx_new(TLS_client_method(), TLS1_2_VERSION, err,
	    errsize)) == NULL)
		goto fail;
	if (cafile != NULL && cafile[0] != '\0') {
		if (tls_readable("relay_tls_ca_file", cafile, err, errsize) == -1)
			goto fail;
		if (SSL_CTX_load_verify_locations(cctx, cafile, NULL) != 1) {
			str_fmt(err, errsize, "relay_tls_ca_file %s: no PEM "
			    "certificate: %s", cafile, tls_reason());
			goto fail;
		}
	} else if (SSL_CTX_set_default_verify_paths(cctx) != 1) {
		str_fmt(err, errsize, "the system's CA store: %s", tls_reason());
		goto fail;
	}
	ERR_clear_error();
	return 0;
fail:
	tls_client_free();
	ERR_clear_error();
	return -1;
}

void
tls_client_free(void)
{
	SSL_CTX_free(cctx);
	cctx = NULL;
}

/* True if s is a numeric IPv4 or IPv6 address. */
static int
is_ip(const char *s)
{
	unsigned char a[16];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

int
tls_connect(struct io *io, const char *servername, int verify,
    unsigned timeout_s, char *whybuf, size_t whysize)
{
	struct tls_conn *c;
	const char *why = NULL;
	char vwhy[200];
	long vr;
	int ip = servername != NULL && is_ip(servername);

	if (whybuf != NULL)
		str_copy(whybuf, whysize, "");
	if (cctx == NULL || io->tr != NULL) {
		why = "TLS client not initialised";
		goto fail_nossl;
	}
	/* Plaintext the server sent before the handshake is not protected. */
	io_discard_input(io);
	if ((c = tls_conn_new(cctx, io)) == NULL) {
		why = "cannot set up a TLS session";
		goto fail_nossl;
	}
	if (servername != NULL && servername[0] != '\0' && !ip &&
	    SSL_set_tlsext_host_name(c->ssl, servername) != 1) {
		why = tls_reason();
		goto fail;
	}
	if (verify) {
		if (servername == NULL || servername[0] == '\0') {
			why = "no server name to verify";
			goto fail;
		}
		if ((ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl),
		    servername) : SSL_set1_host(c->ssl, servername)) != 1) {
			why = tls_reason();
			goto fail;
		}
		SSL_set_verify(c->ssl, SSL_VERIFY_PEER, NULL);
	} else
		SSL_set_verify(c->ssl, SSL_VERIFY_NONE, NULL);
	if (tls_handshake(c, io, 1, timeout_s, &why) == -1) {
		vr = SSL_get_verify_result(c->ssl);
		if (verify && vr != X509_V_OK) {
			str_fmt(vwhy, sizeof(vwhy), "certificate verification failed: %s",
			    X509_verify_cert_error_string(vr));
			why = vwhy;
		}
		goto fail;
	}
	if (verify && (vr = SSL_get_verify_result(c->ssl)) != X509_V_OK) {
		/* cannot happen with SSL_VERIFY_PEER; checked all the same */
		str_fmt(vwhy, sizeof(vwhy), "certificate verification failed: %s",
		    X509_verify_cert_error_string(vr));
		why = vwhy;
		goto fail;
	}
	io->tr = &tls_transport;
	io->trctx = c;
	log_info("tls client server=%s version=%s cipher=%s verified=%s",
	    pr(servername != NULL ? servername : ""), SSL_get_version(c->ssl),
	    SSL_get_cipher_name(c->ssl), verify ? "yes" : "no");
	return 0;
fail:
	tls_conn_free(&c);
fail_nossl:
	{
		char sn[LOG_TEXT_MAX + 8];	/* pr() has one buffer */

		printable(servername != NULL ? servername : "",
		    servername != NULL ? strlen(servername) : 0, sn, sizeof(sn));
		log_info("tls client handshake failed server=%s reason=\"%s\"",
		    sn, pr(why));
	}
	if (whybuf != NULL)
		str_copy(whybuf, whysize, why);
	ERR_clear_error();
	return -1;
}

