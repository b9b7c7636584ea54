# inetmail - one plain Makefile.
#   make            build libmail/libmail.a, smtpd/smtpd, pop3d/pop3d, maildb/maildb
#   make check      every test (unit, protocol, end to end)
#   make asan       build into asan/ with ASan+UBSan and run the tests there
#   make run        start smtpd and pop3d on loopback with a demo user
#   make install    PREFIX (default /usr/local) and DESTDIR honoured
PREFIX	?= /usr/local
SBINDIR	?= $(PREFIX)/sbin
MANDIR	?= $(PREFIX)/share/man
SHAREDIR ?= $(PREFIX)/share/inetmail
CC	?= cc
# B is the build directory; `make asan` uses B=asan.
B	?= .

WARN	 = -Wall -Wextra -Wformat=2 -Wshadow -Werror
CFLAGS	?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(EXTRA_CFLAGS) \
	     $(shell pkg-config --cflags libssl libcrypto pam 2>/dev/null) -Ilibmail -MMD -MP
LDLIBS	 = $(shell pkg-config --libs libssl libcrypto pam 2>/dev/null || echo -lssl -lcrypto -lpam) -ldb-5.3
ALL_LDFLAGS = $(LDFLAGS) $(EXTRA_LDFLAGS)

LIB_SRCS = $(wildcard libmail/*.c)
LIB	 = $(B)/libmail/libmail.a
PROGS	 = $(B)/smtpd/smtpd $(B)/maildb/maildb $(if $(wildcard pop3d/*.c),$(B)/pop3d/pop3d)
UNIT_SRCS = $(wildcard tests/unit/*.c)
UNITS	 = $(UNIT_SRCS:%.c=$(B)/%)
TOOLS_SRCS = $(wildcard tests/tools/*.c)
TOOLS	 = $(TOOLS_SRCS:%.c=$(B)/%)

all: $(B)/.deps-ok $(LIB) $(PROGS) $(UNITS) $(TOOLS)

# One clear line per missing dependency, naming the Debian package.
$(B)/.deps-ok:
	@mkdir -p $(B); ok=1; \
	pkg-config --exists libssl libcrypto || { echo "missing OpenSSL 3 headers: apt-get install libssl-dev pkg-config" >&2; ok=0; }; \
	pkg-config --exists pam || test -f /usr/include/security/pam_appl.h || { echo "missing PAM headers: apt-get install libpam0g-dev" >&2; ok=0; }; \
	test -f /usr/include/db.h || { echo "missing Berkeley DB 5.3 headers: apt-get install libdb5.3-dev" >&2; ok=0; }; \
	test $$ok = 1 && touch $@

$(B)/%.o: %.c $(B)/.deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIB): $(LIB_SRCS:%.c=$(B)/%.o)
	rm -f $@
	ar rcs $@ $^

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

check: all
	INETMAIL_BUILD=$(abspath $(B)) tests/run

asan:
	$(MAKE) B=asan EXTRA_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
		EXTRA_LDFLAGS="-fsanitize=address,undefined" check

run: all
	tests/run-demo

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(SHAREDIR)
	install -m 755 $(PROGS) $(DESTDIR)$(SBINDIR)/
	install -m 644 $(wildcard man/*.8) $(DESTDIR)$(MANDIR)/man8/
	install -m 644 $(wildcard man/*.5) $(DESTDIR)$(MANDIR)/man5/
	cp -R etc/. $(DESTDIR)$(SHAREDIR)/

clean:
	rm -rf asan $(B)/.deps-ok
	find . -type f -name '*.[oad]' -not -path './.git/*' -delete
	rm -f smtpd/smtpd pop3d/pop3d maildb/maildb $(UNITS) $(TOOLS)

.PHONY: all check asan run install clean
# libFuzzer targets (make fuzz) live with their corpus.
-include tests/fuzz/fuzz.mk
-include $(shell find $(B) -type f -name '*.d' -not -path './.git/*' -not -path './asan/*' 2>/dev/null)
