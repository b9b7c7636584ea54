# inetmail - one plain Makefile.
#   make            build libmail's layer archives, smtpd/smtpd, pop3d/pop3d,
#                   maildb/maildb
#   make check      every test (unit, protocol, end to end)
#   (make, make check, make run and make fuzz read PACKAGES: make names
#   what is missing, the others install it as root with apt-get)
#   make asan       build into asan/ with ASan+UBSan and run the tests there
#   make run        start smtpd and pop3d on loopback with a demo user
#   make install    programs, manual pages, and etc/ as examples into
#                   SHAREDIR; never writes to /etc. PREFIX (default
#                   /usr/local) and DESTDIR honoured
#   make install-config  after make install, as root: /etc/inetmail/
#                   inetmail.conf and aliases (compiled), /etc/pam.d/inetmail,
#                   the inetmail user, the chroot directory; each only when
#                   absent, nothing is ever overwritten
#   make uninstall  removes what make install installed (not /etc, not the user)
#   make mutate     the mutation check (tests/mutate): each tests/mutants/
#                   patch must be caught by the tests it names; not part
#                   of make check
PREFIX	?= /usr/local
SBINDIR	?= $(PREFIX)/sbin
MANDIR	?= $(PREFIX)/share/man
SHAREDIR ?= $(PREFIX)/share/inetmail
SYSCONFDIR ?= /etc
CHROOT_DIR ?= /var/empty
CC	?= cc
# B is the build directory; `make asan` uses B=asan.
B	?= .

WARN	 = -Wall -Wextra -Wformat=2 -Wshadow -Werror
CFLAGS	?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(EXTRA_CFLAGS) \
	     $(shell pkg-config --cflags libssl libcrypto pam 2>/dev/null) \
	     $(INC) -MMD -MP
LDLIBS	 = $(shell pkg-config --libs libssl libcrypto pam 2>/dev/null || echo -lssl -lcrypto -lpam) -ldb-5.3 -lresolv
ALL_LDFLAGS = $(LDFLAGS) $(EXTRA_LDFLAGS)

# libmail's layers, bottom up (README "Layout"). A layer's files are
# compiled with -I for its own directory and the layers below it only, so
# an #include of a header from a layer above does not compile
# (tests/e2e/layers.sh checks both). Everything else sees every layer.
LAYERS	 = base common mailbox relay
INC_base = -Ilibmail/base
INC_common = $(INC_base) -Ilibmail/common
INC_mailbox = $(INC_common) -Ilibmail/mailbox
INC_relay = $(INC_mailbox) -Ilibmail/relay
INC	 = $(INC_relay)
$(foreach l,$(LAYERS),$(eval $(B)/libmail/$(l)/%.o: INC = $$(INC_$(l))))
# One archive per layer, linked top layer first: a call from a layer into
# one above it is then left undefined at link time, unless something
# above already pulled that object in.
LIB_SRCS = $(foreach l,$(LAYERS),$(wildcard libmail/$(l)/*.c))
LIBS	 = $(foreach l,relay mailbox common base,\
	     $(B)/libmail/$(l)/lib$(l).a)
LIB	 = $(LIBS)
PROGS	 = $(B)/smtpd/smtpd $(B)/maildb/maildb $(if $(wildcard pop3d/*.c),$(B)/pop3d/pop3d)
UNIT_SRCS = $(wildcard tests/unit/*.c)
UNITS	 = $(UNIT_SRCS:%.c=$(B)/%)
TOOLS_SRCS = $(wildcard tests/tools/*.c)
TOOLS	 = $(TOOLS_SRCS:%.c=$(B)/%)

all: $(B)/.deps-ok $(LIB) $(PROGS) $(UNITS) $(TOOLS)

# Build only: name what is missing (PACKAGES, group build), install nothing.
$(B)/.deps-ok: PACKAGES
	@mkdir -p $(B)
	@PACKAGES_CALLER=make tests/packages check build
	@touch $@

$(B)/%.o: %.c $(B)/.deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(foreach l,$(LAYERS),$(eval $(B)/libmail/$(l)/lib$(l).a: \
	$$(patsubst %.c,$(B)/%.o,$$(wildcard libmail/$(l)/*.c))))
$(LIBS):
	rm -f $@
	ar rcs $@ $^

# make print-layer-flags LAYER=base: the compiler flags of that layer's
# files (tests/e2e/layers.sh compiles with them).
print-layer-flags:
	@echo '$(ALL_CFLAGS)'
print-layer-flags: INC = $(if $(filter $(LAYER),$(LAYERS)),$(INC_$(LAYER)),$(error \
	LAYER= one of: $(LAYERS)))

$(B)/smtpd/smtpd: $(patsubst %.c,$(B)/%.o,$(wildcard smtpd/*.c)) $(LIB)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/pop3d/pop3d: $(patsubst %.c,$(B)/%.o,$(wildcard pop3d/*.c)) $(LIB)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/maildb/maildb: $(patsubst %.c,$(B)/%.o,$(wildcard maildb/*.c)) $(LIB)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/tests/unit/%: $(B)/tests/unit/%.o $(LIB)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/tests/tools/%: $(B)/tests/tools/%.o $(LIB)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)
# monitor_probe drives smtpd's monitor as a session would: smtpd's
# objects, its own main instead of smtpd.c's.
$(B)/tests/tools/monitor_probe: $(B)/tests/tools/monitor_probe.o \
	$(filter-out $(B)/smtpd/smtpd.o,$(patsubst %.c,$(B)/%.o,\
	$(wildcard smtpd/*.c))) $(LIB)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/tests/tools/monitor_probe.o: INC = $(INC_relay) -Ismtpd

# make check and make run first install what they need (PACKAGES) when
# they can, else stop with the one apt-get line to run.
check:
	@PACKAGES_CALLER="make check" tests/packages install build run demo test
	@$(MAKE) --no-print-directory all
	INETMAIL_BUILD=$(abspath $(B)) tests/run

asan:
	$(MAKE) B=asan EXTRA_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
		EXTRA_LDFLAGS="-fsanitize=address,undefined" check

run:
	@PACKAGES_CALLER="make run" tests/packages install build run demo
	@$(MAKE) --no-print-directory all
	tests/run-demo

# The example files name /usr/local/sbin and /usr/local/share/inetmail;
# the installed copies name SBINDIR and SHAREDIR.
ETC_FILES = $(patsubst etc/%,%,$(shell find etc -type f ! -name '*~' ! -name '.*' | sort))
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(SHAREDIR)
	install -m 755 $(PROGS) $(DESTDIR)$(SBINDIR)/
	install -m 644 $(wildcard man/*.8) $(DESTDIR)$(MANDIR)/man8/
	install -m 644 $(wildcard man/*.5) $(DESTDIR)$(MANDIR)/man5/
	@for f in $(ETC_FILES); do \
		install -d $(DESTDIR)$(SHAREDIR)/$$(dirname $$f) && \
		sed -e 's|/usr/local/sbin/|$(SBINDIR)/|g' -e 's|/usr/local/share/inetmail|$(SHAREDIR)|g' \
		    etc/$$f >$(DESTDIR)$(SHAREDIR)/$$f && chmod 644 $(DESTDIR)$(SHAREDIR)/$$f || exit 1; \
	done; echo "examples installed in $(DESTDIR)$(SHAREDIR) (nothing written to $(SYSCONFDIR)); next: make install-config"

# Each step is done only when its result is absent, so it can be run again
# at any time; it never overwrites a file. With DESTDIR the files go there
# and the user is not created (a package does that in its postinst).
CONFDIR = $(SYSCONFDIR)/inetmail
install-config:
	@set -e; src=$(DESTDIR)$(SHAREDIR); \
	test -f $$src/inetmail.conf || { echo "install-config: no $$src/inetmail.conf: run make install first" >&2; exit 1; }; \
	new() { if [ -e "$$2" ] || [ -L "$$2" ]; then echo "kept     $$2 (exists)"; \
		else install -D -m "$$3" "$$1" "$$2"; echo "created  $$2"; fi; }; \
	install -d -m 755 $(DESTDIR)$(CONFDIR); \
	new $$src/inetmail.conf $(DESTDIR)$(CONFDIR)/inetmail.conf 644; \
	new $$src/aliases $(DESTDIR)$(CONFDIR)/aliases 644; \
	new $$src/pam.d/inetmail $(DESTDIR)$(SYSCONFDIR)/pam.d/inetmail 644; \
	if [ -n "$(DESTDIR)" ]; then echo "skipped  the inetmail user (DESTDIR is set)"; \
	elif getent passwd inetmail >/dev/null; then echo "kept     user inetmail (exists)"; \
	elif command -v adduser >/dev/null; then \
		adduser --quiet --system --group --no-create-home --home /nonexistent inetmail; \
		echo "created  user inetmail (adduser --system)"; \
	else getent group inetmail >/dev/null || groupadd --system inetmail; \
		useradd --system --gid inetmail --no-create-home --home-dir /nonexistent \
		    --shell /usr/sbin/nologin inetmail; echo "created  user inetmail (useradd --system)"; fi; \
	c=$(DESTDIR)$(CHROOT_DIR); \
	if [ ! -e $$c ]; then install -d -o root -g root -m 0755 $$c; echo "created  $$c"; \
	elif [ -n "$$(find $$c -maxdepth 0 -type d -user root -perm -0755 ! -perm /022)" ] && \
	    [ -z "$$(ls -A $$c)" ]; then echo "kept     $$c (exists)"; \
	else echo "WARNING  $$c must be an empty directory owned by root, mode 0755" >&2; fi; \
	db=$(DESTDIR)$(CONFDIR)/aliases.db; \
	if [ ! -e $$db ] || [ $(DESTDIR)$(CONFDIR)/aliases -nt $$db ]; then \
		$(DESTDIR)$(SBINDIR)/maildb -f $(DESTDIR)$(CONFDIR)/inetmail.conf \
		    -o aliases=$(DESTDIR)$(CONFDIR)/aliases newaliases >/dev/null; echo "compiled $$db (maildb newaliases)"; \
	else echo "kept     $$db (up to date)"; fi; \
	echo "next: edit $(CONFDIR)/inetmail.conf (hostname, local_domains, tls_cert), then inetd or systemd: see INSTALL"

uninstall:
	rm -f $(addprefix $(DESTDIR)$(SBINDIR)/,$(notdir $(PROGS)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(wildcard man/*.8)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(wildcard man/*.5)))
	rm -rf $(DESTDIR)$(SHAREDIR)
	@echo "left alone: $(CONFDIR), $(SYSCONFDIR)/pam.d/inetmail, the inetmail user, $(CHROOT_DIR), mailboxes"

mutate:
	tests/mutate

clean:
	rm -rf asan $(B)/.deps-ok
	find . -type f -name '*.[oad]' -not -path './.git/*' -delete
	rm -f smtpd/smtpd pop3d/pop3d maildb/maildb $(UNITS) $(TOOLS)

.PHONY: all check asan run install install-config uninstall clean \
	print-layer-flags mutate
# libFuzzer targets (make fuzz) live with their corpus.
-include tests/fuzz/fuzz.mk
-include $(shell find $(B) -type f -name '*.d' -not -path './.git/*' -not -path './asan/*' 2>/dev/null)
