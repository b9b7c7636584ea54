# tests/fuzz/fuzz.mk - libFuzzer targets (included by the top Makefile).
#
#   make fuzz-build              build every target into $(FUZZ_OUT)
#   make fuzz [FUZZ_SECONDS=60]  build, then run each target that long on a
#                                copy of its seed corpus; fails on any crash,
#                                leak, timeout or sanitizer report
#   make fuzz FUZZ_TARGETS=fuzz_lineio   only some targets
#   make fuzz-clean
#
# Each target is one clang command: the harness plus exactly the sources it
# needs (no libmail.a, no objects shared with the normal or ASan builds), so
# the fuzz build never interferes with `make` or `make asan`. Needs clang and
# libclang-rt-14-dev (the libFuzzer runtime). Crash inputs are written to
# $(FUZZ_OUT)/crash-TARGET-*, reproduce with $(FUZZ_OUT)/TARGET FILE.
FUZZ_CC		?= clang
FUZZ_SECONDS	?= 60
FUZZ_OUT	?= tests/out/fuzz
FUZZ_JOBS_ARGS	?=
FUZZ_RSS_MB	?= 2048
# -O1 keeps it fast while leaving useful stack traces.
FUZZ_CFLAGS	?= -g -O1 -fno-omit-frame-pointer
FUZZ_SAN	 = -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_ALL_CFLAGS	 = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter \
		   $(FUZZ_SAN) $(FUZZ_CFLAGS) $(FUZZ_DEFS) \
		   $(INC_relay) -Ismtpd -Ipop3d -Itests/fuzz \
		   $(shell pkg-config --cflags libssl libcrypto 2>/dev/null)
FUZZ_LIBS	 = $(shell pkg-config --libs libssl libcrypto 2>/dev/null || echo -lssl -lcrypto) \
		   -ldb-5.3 -lpam
# Known defects the targets would otherwise stop at (see tests/fuzz/README);
# drop a define once its bug is fixed so that the target guards it again.
FUZZ_DEFS	?=

FUZZ_ALL	 = $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_TARGETS	?= $(FUZZ_ALL)

# Sources compiled into each target (besides tests/fuzz/TARGET.c).
# libmail, by layer (base common mailbox relay; README "Layout")
LM		 = libmail
FUZZ_SRC_fuzz_address	   = smtpd/address.c
FUZZ_SRC_fuzz_conf	   = $(LM)/common/conf.c $(LM)/base/util.c $(LM)/base/log.c
FUZZ_SRC_fuzz_aliases	   = $(LM)/common/aliases.c $(LM)/common/conf.c $(LM)/base/buf.c \
			     $(LM)/base/util.c $(LM)/base/log.c
FUZZ_SRC_fuzz_index	   = $(LM)/mailbox/index.c $(LM)/base/store.c $(LM)/mailbox/maildir.c \
			     $(LM)/base/util.c $(LM)/base/log.c $(LM)/base/buf.c
FUZZ_SRC_fuzz_privsep	   = $(LM)/base/privsep.c $(LM)/base/log.c
FUZZ_SRC_fuzz_smtp_reply   = $(LM)/relay/smtpc_reply.c $(LM)/base/util.c $(LM)/base/log.c
FUZZ_SRC_fuzz_dsn	   = $(LM)/relay/dsn.c $(LM)/relay/queue.c $(LM)/base/store.c \
			     $(LM)/base/privsep.c $(LM)/base/buf.c $(LM)/common/conf.c $(LM)/base/util.c $(LM)/base/log.c
FUZZ_SRC_fuzz_queue_record = $(LM)/relay/queue.c $(LM)/base/store.c $(LM)/base/privsep.c \
			     $(LM)/common/conf.c \
			     $(LM)/base/util.c $(LM)/base/log.c
FUZZ_SRC_fuzz_lineio	   = $(LM)/base/lineio.c $(LM)/base/buf.c $(LM)/base/util.c $(LM)/base/log.c
FUZZ_SRC_fuzz_smtp_data	   = smtpd/message.c $(LM)/base/lineio.c $(LM)/base/buf.c \
			     $(LM)/common/conf.c $(LM)/base/util.c $(LM)/base/log.c
FUZZ_POP3_SRC		   = pop3d/common.c pop3d/preauth.c $(LM)/base/sasl.c $(LM)/base/base64.c \
			     $(LM)/common/apop.c $(LM)/base/tls.c $(LM)/base/tls_server.c \
			     $(LM)/base/tls_proxy.c $(LM)/base/lineio.c \
			     $(LM)/base/privsep.c $(LM)/base/buf.c $(LM)/common/conf.c \
			     $(LM)/base/util.c $(LM)/base/log.c
FUZZ_SRC_fuzz_base64	   = $(LM)/base/base64.c
FUZZ_SRC_fuzz_sasl	   = $(LM)/base/sasl.c $(LM)/base/base64.c
FUZZ_SRC_fuzz_pop3_preauth = $(FUZZ_POP3_SRC)

define FUZZ_RULE
$(FUZZ_OUT)/$(1): tests/fuzz/$(1).c $$(FUZZ_SRC_$(1)) $$(wildcard tests/fuzz/*.h libmail/*/*.h smtpd/*.h pop3d/*.h)
	@mkdir -p $(FUZZ_OUT)
	$(FUZZ_CC) $(FUZZ_ALL_CFLAGS) -o $$@ tests/fuzz/$(1).c $$(FUZZ_SRC_$(1)) $(FUZZ_LIBS)
endef
$(foreach t,$(FUZZ_ALL),$(eval $(call FUZZ_RULE,$(t))))

fuzz-build: fuzz-packages $(FUZZ_TARGETS:%=$(FUZZ_OUT)/%)
# clang and the libFuzzer runtime (PACKAGES, group ci), first.
fuzz-packages:
	@PACKAGES_CALLER="make fuzz" tests/packages install build ci

# Each target gets a fresh work corpus (new inputs go there, never into the
# tree) seeded from tests/fuzz/corpus/TARGET; the output is kept in
# $(FUZZ_OUT)/TARGET.log and summarised in one line per target.
fuzz: fuzz-build
	@fail=""; \
	for t in $(FUZZ_TARGETS); do \
		work=$(FUZZ_OUT)/work-$$t; rm -rf $$work $(FUZZ_OUT)/*-$$t-*; mkdir -p $$work tests/fuzz/corpus/$$t; \
		supp=; [ -f tests/fuzz/$$t.supp ] && supp=suppressions=tests/fuzz/$$t.supp; \
		ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 LSAN_OPTIONS=$$supp \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		$(FUZZ_OUT)/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=20 \
			-rss_limit_mb=$(FUZZ_RSS_MB) -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_OUT)/crash-$$t- $(FUZZ_JOBS_ARGS) \
			$$work tests/fuzz/corpus/$$t >$(FUZZ_OUT)/$$t.log 2>&1; \
		rc=$$?; \
		execs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $(FUZZ_OUT)/$$t.log); \
		rate=$$(sed -n 's/^stat::average_exec_per_sec: *//p' $(FUZZ_OUT)/$$t.log); \
		cov=$$(grep -Eo 'cov: [0-9]+' $(FUZZ_OUT)/$$t.log | tail -n 1); \
		if [ $$rc = 0 ] && ! grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|invariant failed' $(FUZZ_OUT)/$$t.log; then \
			echo "fuzz ok   $$t: $${execs:-?} execs, $${rate:-?}/s, $${cov:-cov: ?}"; \
		else \
			echo "fuzz FAIL $$t (exit $$rc); $(FUZZ_OUT)/$$t.log:"; \
			grep -Em1 -A 30 'ERROR:|runtime error:|invariant failed|deadly signal' $(FUZZ_OUT)/$$t.log | sed 's/^/  | /'; \
			ls $(FUZZ_OUT)/crash-$$t-* $(FUZZ_OUT)/leak-$$t-* $(FUZZ_OUT)/timeout-$$t-* 2>/dev/null | sed 's/^/  input: /'; \
			fail="$$fail $$t"; \
		fi; \
	done; \
	if [ -n "$$fail" ]; then echo "fuzz: failed:$$fail"; exit 1; fi; \
	echo "fuzz: all $(words $(FUZZ_TARGETS)) targets clean ($(FUZZ_SECONDS)s each)"

fuzz-clean:
	rm -rf $(FUZZ_OUT)

.PHONY: fuzz fuzz-build fuzz-clean fuzz-packages
