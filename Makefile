# nfq-trigger — build, test, fuzz, install.
#
#   make               build the engine (build/nfq-trigger)
#   make check         unit tests, integration tests (root: network namespaces), fuzz smoke
#   make demo          narrated demo in a throwaway network namespace (root)
#   make golden        rewrite rules/dumps/*.nft, the rulesets rules/*.ini generate (root)
#   make asan          build with AddressSanitizer + UBSan into build-asan/
#   make fuzz          libFuzzer targets (clang) into build-fuzz/
#   make install       PREFIX=/usr/local DESTDIR= (make uninstall undoes it)
#
# O=dir puts every object and binary under dir (parallel builds of one tree).

VERSION   := 0.1.0
O         ?= build
PREFIX    ?= /usr/local
SBINDIR   ?= $(PREFIX)/sbin
BINDIR    ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
MANDIR    ?= $(PREFIX)/share/man
DOCDIR    ?= $(PREFIX)/share/doc/nfq-trigger
# systemd reads units from /usr/local/lib/systemd/system too; a package with
# PREFIX=/usr gets /usr/lib/systemd/system.
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
FAIL2BANDIR ?= $(SYSCONFDIR)/fail2ban
# The engine's user ([engine] user): make install creates it on the real
# root (DESTDIR empty); a package does it in its postinst.
ENGINE_USER ?= nfq-trigger

CC        ?= gcc
PKGS      := libnetfilter_queue libmnl libnftnl libnfnetlink inih libsodium libcap libseccomp
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN      := -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes \
             -Wmissing-declarations -Wshadow -Wpointer-arith -Wcast-qual \
             -Wsign-compare -Wformat=2 -Wvla
# CI sets WERROR=1 (and the test targets do): warnings are errors there.
ifeq ($(WERROR),1)
WARN      += -Werror
endif
# CFLAGS/LDFLAGS are the user's (optimisation, sanitizers); what the code
# needs to build at all is in NFQT_CFLAGS, so overriding CFLAGS keeps it.
CFLAGS    ?= -O2 -g
# Hardening (HARDEN=0 turns it off): fortified libc calls, stack canaries,
# a position-independent executable, and a GOT made read-only before main
# (check: readelf -lW build/nfq-trigger | grep GNU_RELRO; readelf -d ... | grep BIND_NOW).
HARDEN    ?= 1
ifeq ($(HARDEN),1)
HARDEN_CFLAGS  := -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
HARDEN_LDFLAGS := -pie -Wl,-z,relro -Wl,-z,now
endif
NFQT_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) $(PKG_CFLAGS) -iquote src \
             -DNFQT_VERSION='"$(VERSION)"' -DNFQT_SYSCONFDIR='"$(SYSCONFDIR)"' \
             $(HARDEN_CFLAGS)
NFQT_LDFLAGS := $(HARDEN_LDFLAGS)
# libfko (fwknop's library, format = fwknop of [spa]) ships no pkg-config
# file. The engine loads it only for such a trigger (src/fwknop/fwknop.c);
# tests, tools, benchmarks and fuzz targets that build fwknop packets link it.
FKO_LIBS  := -lfko
LDLIBS    += $(PKG_LIBS)

# A folder under src/ is a layer (docs/design.md). The core (src/core) is a
# library of its own that links libsodium alone: tools/check-core fails the
# build when a core object calls anything outside its allow-list of pure libc
# functions (no socket, file or process call). Test-only API is declared in
# src/L/X_test.h, which only X.c and tests include: tools/check-test-api.
# Every other layer goes into libnfqt.a; src/cmd holds the two programs'
# mains. New files need no Makefile edit.
CORE_SRC  := $(wildcard src/core/*.c)
CORE_OBJ  := $(CORE_SRC:src/%.c=$(O)/obj/%.o)
CMD_SRC   := $(wildcard src/cmd/*.c)
LIB_SRC   := $(filter-out $(CORE_SRC) $(CMD_SRC),$(wildcard src/*/*.c))
LIB_OBJ   := $(LIB_SRC:src/%.c=$(O)/obj/%.o)
HEADERS   := $(wildcard src/*/*.h)
# ar keeps one member per base name: two files of one name in two layers
# would silently lose one. Refuse that at once.
DUP_NAMES := $(shell ls src/*/*.c | xargs -n1 basename | sort | uniq -d)
ifneq ($(DUP_NAMES),)
$(error two source files share a base name: $(DUP_NAMES); rename one)
endif
CORE_LIBS := $(shell pkg-config --libs libsodium 2>/dev/null)
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(O)/tests/%)
# Unit tests of the core link the core library alone: they prove it needs
# nothing else.
UNIT_CORE := $(patsubst tests/unit/%.c,$(O)/tests/%,$(shell grep -L '"\(config\|kernel\|engine\|privsep\|builders\|util\)/' $(UNIT_SRC) 2>/dev/null))

.PHONY: all check check-unit check-integration check-fuzz demo asan fuzz \
        install uninstall clean deps unit-bins tools bench asan-bins golden

all: $(O)/nfq-trigger $(O)/nfq-knock

$(O)/obj/%.o: src/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(NFQT_CFLAGS) $(CFLAGS) -c -o $@ $<

$(O)/libcore.a: $(CORE_OBJ) tools/check-core tools/check-test-api
	tools/check-core $(CORE_OBJ)
	tools/check-test-api src
	rm -f $@
	$(AR) rcs $@ $(CORE_OBJ)

# Rebuilt whole: ar keeps members by base name, and a moved file must not linger.
$(O)/libnfqt.a: $(LIB_OBJ) tools/check-test-api
	tools/check-test-api src
	rm -f $@
	$(AR) rcs $@ $(LIB_OBJ)

LIBS_ALL  := $(O)/libnfqt.a $(O)/libcore.a
# The other layers call into the core, never the other way round.
LINK_ALL  := $(LIBS_ALL)

$(O)/nfq-trigger: $(O)/obj/cmd/nfq-trigger.o $(LIBS_ALL)
	$(CC) $(NFQT_LDFLAGS) $(LDFLAGS) -o $@ $< $(LINK_ALL) $(LDLIBS)

$(O)/nfq-knock: $(O)/obj/cmd/nfq-knock.o $(LIBS_ALL)
	$(CC) $(NFQT_LDFLAGS) $(LDFLAGS) -o $@ $< $(LINK_ALL) $(LDLIBS)

$(UNIT_CORE): $(O)/tests/%: tests/unit/%.c tests/unit/unit.h $(O)/libcore.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(NFQT_CFLAGS) $(CFLAGS) $(NFQT_LDFLAGS) $(LDFLAGS) -Itests/unit -o $@ $< $(O)/libcore.a \
	    $(CORE_LIBS) $(shell pkg-config --libs cmocka)

$(O)/tests/%: tests/unit/%.c tests/unit/unit.h $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(NFQT_CFLAGS) $(CFLAGS) $(NFQT_LDFLAGS) $(LDFLAGS) -Itests/unit -o $@ $< $(LINK_ALL) \
	    $(LDLIBS) $(FKO_LIBS) $(shell pkg-config --libs cmocka)

# Test drivers (tests/tools/*.c) and benchmarks (bench/*.c) link the library too.
$(O)/tools/%: tests/tools/%.c $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(NFQT_CFLAGS) $(CFLAGS) $(NFQT_LDFLAGS) $(LDFLAGS) -o $@ $< $(LINK_ALL) $(LDLIBS) $(FKO_LIBS)

$(O)/bench/%: bench/%.c $(wildcard bench/*.h) $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(NFQT_CFLAGS) $(CFLAGS) $(NFQT_LDFLAGS) $(LDFLAGS) -o $@ $< $(LINK_ALL) $(LDLIBS) $(FKO_LIBS)

TOOLS     := $(patsubst tests/tools/%.c,$(O)/tools/%,$(wildcard tests/tools/*.c))

# The whole suite; tests/run prints "N passed, N failed" and fails on any failure.
# Unit tests run plain and under ASan+UBSan; the integration tests drive the
# sanitized engine, so a memory error on a real netlink path fails them.
check:
	$(MAKE) WERROR=1 all unit-bins tools
	$(MAKE) O=build-asan WERROR=1 asan-bins
	UNIT_DIRS="$(O)/tests build-asan/tests" NFQT=$(CURDIR)/build-asan/nfq-trigger \
	    NFQK=$(CURDIR)/build-asan/nfq-knock O=$(O) tests/run

unit-bins: $(UNIT_BIN)

# The benchmarks' drivers are built with the tools, so that they keep
# building (make check builds tools with WERROR=1).
BENCH_BIN := $(patsubst bench/%.c,$(O)/bench/%,$(wildcard bench/*.c))
tools: $(TOOLS) $(BENCH_BIN)

# Benchmarks print ratios against a baseline measured in the same run.
# Every benchmark runs; a missed target fails the run at the end.
BENCHES := queue engine-cost memory set-update knock-latency spa-latency count-paths
bench: all $(BENCH_BIN)
	@missed=; for b in $(BENCHES); do echo "O=$(O) bench/$$b"; \
	    O=$(O) bench/$$b || missed="$$missed $$b"; done; \
	if [ -n "$$missed" ]; then echo "bench: targets missed:$$missed"; exit 1; fi

check-unit: unit-bins
	O=$(O) tests/run unit

check-integration: all tools
	O=$(O) tests/run integration

# Sanitizer build of the engine and the unit tests (ASan + UBSan).
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
             -fno-sanitize-recover=undefined
asan:
	$(MAKE) O=build-asan asan-bins

asan-bins:
	$(MAKE) O=$(O) CFLAGS="$(SAN_FLAGS)" LDFLAGS="$(SAN_FLAGS)" \
	    $(O)/nfq-trigger $(O)/nfq-knock unit-bins

# libFuzzer targets: fuzz/fuzz_*.c, built with clang, ASan and UBSan.
FUZZ_SRC  := $(wildcard fuzz/fuzz_*.c)
FUZZ_CC   ?= clang
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
fuzz:
	$(MAKE) O=build-fuzz CC=$(FUZZ_CC) CFLAGS="-g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined" \
	    build-fuzz/libnfqt.a build-fuzz/libcore.a
	mkdir -p build-fuzz/bin
	for f in $(FUZZ_SRC); do \
	    $(FUZZ_CC) $(FUZZ_FLAGS) $(NFQT_CFLAGS) \
	        -o build-fuzz/bin/$$(basename $$f .c) $$f build-fuzz/libnfqt.a build-fuzz/libcore.a $(LDLIBS) $(FKO_LIBS) || exit 1; \
	done

# Rewrites rules/dumps/*.nft from the tables the engine builds for rules/*.ini
# (root: a network namespace of its own); tests/integration/golden_rules.sh
# compares them, so a change to the generated rules shows in review.
golden: all
	NFQT=$(CURDIR)/$(O)/nfq-trigger tests/golden-update

demo: all
	tests/demo.sh $(O)/nfq-trigger nfq-trigger.ini

deps:
	sh tests/install-deps.sh

# What make install puts where; make uninstall removes exactly these (the
# config excepted, see there). Examples: the rules/ and nft/ trees, the
# shipped config and the example fail2ban jail.
UNIT_SRC  := $(wildcard contrib/systemd/nfq-trigger.service)
MAN_PAGES := docs/nfq-knock.1 docs/nfq-trigger.ini.5 docs/nfq-trigger.8
DOC_FILES := README.md $(wildcard docs/*.md)
EX_RULES  := $(wildcard rules/*.ini)
EX_DUMPS  := $(wildcard rules/dumps/*)
EX_NFT    := $(wildcard nft/*.nft)
EX_F2B    := contrib/fail2ban/jail.d/nfq-trigger.local
F2B_FILTER := contrib/fail2ban/filter.d/nfq-trigger.conf
EXDIR     := $(DOCDIR)/examples
CONFIG_DEST := $(DESTDIR)$(SYSCONFDIR)/nfq-trigger/nfq-trigger.ini
# The unit names the installed paths.
UNIT_SED  := s|/usr/local/sbin/|$(SBINDIR)/|g; s|/etc/nfq-trigger/|$(SYSCONFDIR)/nfq-trigger/|g

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR)
	install -m 0755 $(O)/nfq-trigger $(DESTDIR)$(SBINDIR)/nfq-trigger
	install -m 0755 $(O)/nfq-knock $(DESTDIR)$(BINDIR)/nfq-knock
	@# The config names commands that run as root: root's, 0600, and an
	@# existing one (the admin's) is never overwritten.
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/nfq-trigger
	@if [ -e $(CONFIG_DEST) ]; then \
	    echo "install: keeping the existing $(CONFIG_DEST)"; \
	else \
	    echo "install -m 0600 nfq-trigger.ini $(CONFIG_DEST)"; \
	    install -m 0600 nfq-trigger.ini $(CONFIG_DEST); fi
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0644 docs/nfq-knock.1 $(DESTDIR)$(MANDIR)/man1/nfq-knock.1
	install -m 0644 docs/nfq-trigger.ini.5 $(DESTDIR)$(MANDIR)/man5/nfq-trigger.ini.5
	install -m 0644 docs/nfq-trigger.8 $(DESTDIR)$(MANDIR)/man8/nfq-trigger.8
	install -d $(DESTDIR)$(DOCDIR) $(DESTDIR)$(EXDIR)/rules/dumps \
	    $(DESTDIR)$(EXDIR)/nft $(DESTDIR)$(EXDIR)/fail2ban
	install -m 0644 $(DOC_FILES) $(DESTDIR)$(DOCDIR)/
	install -m 0644 nfq-trigger.ini $(DESTDIR)$(EXDIR)/nfq-trigger.ini
	install -m 0644 $(EX_RULES) $(DESTDIR)$(EXDIR)/rules/
	install -m 0644 $(EX_DUMPS) $(DESTDIR)$(EXDIR)/rules/dumps/
	install -m 0644 $(EX_NFT) $(DESTDIR)$(EXDIR)/nft/
	install -m 0644 $(EX_F2B) $(DESTDIR)$(EXDIR)/fail2ban/nfq-trigger.local
	@# The filter alone bans nothing: a jail must name it (the example above).
	install -d $(DESTDIR)$(FAIL2BANDIR)/filter.d
	install -m 0644 $(F2B_FILTER) $(DESTDIR)$(FAIL2BANDIR)/filter.d/nfq-trigger.conf
ifneq ($(UNIT_SRC),)
	install -d $(DESTDIR)$(SYSTEMDUNITDIR)
	sed '$(UNIT_SED)' $(UNIT_SRC) >$(DESTDIR)$(SYSTEMDUNITDIR)/nfq-trigger.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/nfq-trigger.service
else
	@echo "install: no contrib/systemd/nfq-trigger.service in this tree; no unit installed"
endif
	@if [ -n "$(DESTDIR)" ]; then \
	    echo "install: DESTDIR set: not creating the user $(ENGINE_USER) (create it on the target:" \
	        "useradd --system --user-group --no-log-init --no-create-home --home-dir /nonexistent" \
	        "--shell /usr/sbin/nologin $(ENGINE_USER))"; \
	elif id -u $(ENGINE_USER) >/dev/null 2>&1; then \
	    echo "install: the user $(ENGINE_USER) exists"; \
	else \
	    echo "useradd --system --user-group --no-log-init --no-create-home --home-dir /nonexistent" \
	        "--shell /usr/sbin/nologin $(ENGINE_USER)"; \
	    useradd --system --user-group --no-log-init --no-create-home --home-dir /nonexistent \
	        --shell /usr/sbin/nologin $(ENGINE_USER); fi

# Everything install put, except the config, which the admin may have edited
# (remove it, and the user, by hand), and the directories other packages share.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/nfq-trigger $(DESTDIR)$(BINDIR)/nfq-knock
	rm -f $(DESTDIR)$(MANDIR)/man1/nfq-knock.1 $(DESTDIR)$(MANDIR)/man5/nfq-trigger.ini.5 \
	    $(DESTDIR)$(MANDIR)/man8/nfq-trigger.8
	rm -f $(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(DOC_FILES))) \
	    $(DESTDIR)$(EXDIR)/nfq-trigger.ini \
	    $(addprefix $(DESTDIR)$(EXDIR)/rules/,$(notdir $(EX_RULES))) \
	    $(addprefix $(DESTDIR)$(EXDIR)/rules/dumps/,$(notdir $(EX_DUMPS))) \
	    $(addprefix $(DESTDIR)$(EXDIR)/nft/,$(notdir $(EX_NFT))) \
	    $(DESTDIR)$(EXDIR)/fail2ban/nfq-trigger.local
	-rmdir $(DESTDIR)$(EXDIR)/rules/dumps $(DESTDIR)$(EXDIR)/rules $(DESTDIR)$(EXDIR)/nft \
	    $(DESTDIR)$(EXDIR)/fail2ban $(DESTDIR)$(EXDIR) $(DESTDIR)$(DOCDIR) 2>/dev/null
	rm -f $(DESTDIR)$(FAIL2BANDIR)/filter.d/nfq-trigger.conf
	rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/nfq-trigger.service
	@if [ -e $(CONFIG_DEST) ]; then \
	    echo "uninstall: kept $(CONFIG_DEST) (yours; remove it by hand)"; fi
	@if [ -z "$(DESTDIR)" ] && id -u $(ENGINE_USER) >/dev/null 2>&1; then \
	    echo "uninstall: kept the user $(ENGINE_USER) (userdel $(ENGINE_USER) removes it)"; fi

clean:
	rm -rf build build-asan build-fuzz
