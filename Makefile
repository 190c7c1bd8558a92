# b3scale-c: build, test and demo. `make run` and `make test` install what is missing.
PKGS      := luajit libmicrohttpd libpq libcurl openssl expat libjwt zlib libarchive
CC        ?= cc

# SANITIZE=1 (or address): AddressSanitizer + UndefinedBehaviorSanitizer build in build/san;
# SANITIZE=thread: ThreadSanitizer build in build/tsan. Each kind has its own build directory,
# so normal and instrumented objects never mix (BUILD=dir on the command line picks another).
SANITIZE  ?=
ifeq ($(SANITIZE),)
BUILD     := build
CFLAGS    ?= -O2 -g
else ifneq ($(filter 1 address,$(SANITIZE)),)
BUILD     := build/san
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer
CFLAGS    ?= -O1 -g
else ifeq ($(SANITIZE),thread)
BUILD     := build/tsan
SAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer
CFLAGS    ?= -O1 -g
else
$(error SANITIZE=$(SANITIZE): use SANITIZE=1 (address,undefined) or SANITIZE=thread)
endif
CFLAGS    += -std=c11 -D_GNU_SOURCE -fPIC -pthread -Wall -Wextra -Werror $(SAN_FLAGS) \
             $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDFLAGS   += $(SAN_FLAGS)
LDLIBS    += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -pthread -lm

CORE_SRC  := $(filter-out c/main.c,$(wildcard c/*.c))
CORE_OBJ  := $(CORE_SRC:c/%.c=$(BUILD)/core/%.o)
SIM_SRC   := $(wildcard c/sim/*.c)
SIM_OBJ   := $(SIM_SRC:c/sim/%.c=$(BUILD)/sim/%.o)
# bbbsim shares the protocol code with the daemon so both speak BBB the same way
SIM_DEPS  := $(BUILD)/core/buf.o $(BUILD)/core/query.o $(BUILD)/core/bbb_checksum.o \
             $(BUILD)/core/xml_dom.o $(BUILD)/core/bbb_xml.o $(BUILD)/core/log.o \
             $(BUILD)/core/clock.o $(BUILD)/core/cb_jwt.o

# the node agent shares logging, checksums and the libcurl call with the daemon
AGENT_SRC := $(wildcard agent/*.c)
AGENT_OBJ := $(AGENT_SRC:agent/%.c=$(BUILD)/agent/%.o)
AGENT_DEPS := $(BUILD)/core/buf.o $(BUILD)/core/log.o $(BUILD)/core/query.o \
              $(BUILD)/core/bbb_checksum.o $(BUILD)/core/proxy.o $(BUILD)/core/env.o \
              $(BUILD)/core/clock.o
AGENT_LIBS := -lhiredis $(shell pkg-config --libs libcurl openssl libarchive 2>/dev/null) -pthread

.PHONY: all deps test run clean bench bench-scale check-deps tsan fuzz fuzz-build lint \
        install install-build uninstall deb FORCE
all: $(BUILD)/b3scaled $(BUILD)/bbbsim $(BUILD)/libb3scale.so $(BUILD)/b3scaleagent

$(BUILD)/core/%.o: c/%.c $(wildcard c/*.h) | $(BUILD)/core
	@echo "  CC  $<"; $(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<
$(BUILD)/sim/%.o: c/sim/%.c $(wildcard c/*.h c/sim/*.h) | $(BUILD)/sim
	@echo "  CC  $<"; $(CC) $(CPPFLAGS) $(CFLAGS) -Ic -c -o $@ $<
$(BUILD)/agent/%.o: agent/%.c $(wildcard agent/*.h c/*.h) | $(BUILD)/agent
	@echo "  CC  $<"; $(CC) $(CPPFLAGS) $(CFLAGS) -Ic -c -o $@ $<
$(BUILD)/core $(BUILD)/sim $(BUILD)/agent:
	mkdir -p $@

$(BUILD)/b3scaled: $(BUILD)/core/main.o $(CORE_OBJ)
	@echo "  LD  $@"; $(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/libb3scale.so: $(CORE_OBJ)
	@echo "  LD  $@"; $(CC) $(LDFLAGS) -shared -o $@ $^ $(LDLIBS)
$(BUILD)/bbbsim: $(SIM_OBJ) $(SIM_DEPS)
	@echo "  LD  $@"; $(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/b3scaleagent: $(AGENT_OBJ) $(AGENT_DEPS)
	@echo "  LD  $@"; $(CC) $(LDFLAGS) -o $@ $^ $(AGENT_LIBS)
# make bench-scale's policy figure: the decision alone, over the daemon's own code
$(BUILD)/policy_bench: bench/policy_bench.c $(CORE_OBJ) $(wildcard c/*.h)
	@echo "  LD  $@"; $(CC) $(CFLAGS) -Ic $(LDFLAGS) -o $@ $< $(CORE_OBJ) $(LDLIBS)

# make install: PREFIX, DESTDIR, BINDIR, DATADIR, SYSCONFDIR, UNITDIR, MANDIR. The installed
# b3scaled is linked again with a config.o that knows DATADIR and SYSCONFDIR, so it needs no
# B3SCALE_* path variable, while the checkout's own build keeps reading lua/, sql/, policies/
# from the checkout. b3scalectl goes to DATADIR/bin (it finds its Lua modules next to itself)
# with a relative symlink on BINDIR, so a DESTDIR staging tree stays correct when moved.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
DATADIR    ?= $(PREFIX)/share/b3scale
SYSCONFDIR ?= $(PREFIX)/etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
MANDIR     ?= $(PREFIX)/share/man
INSTALL_BIN := $(BUILD)/install/b3scaled $(BUILD)/b3scaleagent
DATA_FILES := $(wildcard lua/*/*.lua lua/*/*/*.lua sql/*.sql policies/*.lua policies/README.md) \
              docs/openapi.json docs/status.html

$(BUILD)/install:
	mkdir -p $@
# rebuilt on every install: the paths may differ from the last one
$(BUILD)/install/config.o: c/config.c $(wildcard c/*.h) FORCE | $(BUILD)/install
	@echo "  CC  $< (DATADIR=$(DATADIR) SYSCONFDIR=$(SYSCONFDIR))"
	@$(CC) $(CPPFLAGS) $(CFLAGS) -DB3SCALE_DATADIR='"$(DATADIR)"' \
	  -DB3SCALE_SYSCONFDIR='"$(SYSCONFDIR)"' -c -o $@ $<
$(BUILD)/install/b3scaled: $(BUILD)/core/main.o $(filter-out $(BUILD)/core/config.o,$(CORE_OBJ)) \
                           $(BUILD)/install/config.o
	@echo "  LD  $@"; $(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
FORCE:

install-build: $(INSTALL_BIN)

install: install-build
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/bin $(DESTDIR)$(SYSCONFDIR)/b3scale/policies \
	  $(DESTDIR)$(UNITDIR)
	install -m 0755 $(INSTALL_BIN) $(DESTDIR)$(BINDIR)/
	for f in $(DATA_FILES); do install -D -m 0644 $$f $(DESTDIR)$(DATADIR)/$$f || exit 1; done
	install -m 0755 bin/b3scalectl $(DESTDIR)$(DATADIR)/bin/b3scalectl
	ln -sfn $$(realpath -m --relative-to=$(BINDIR) $(DATADIR)/bin/b3scalectl) \
	  $(DESTDIR)$(BINDIR)/b3scalectl
	install -D -m 0644 docs/man/b3scalectl.1 $(DESTDIR)$(MANDIR)/man1/b3scalectl.1
	install -D -m 0644 docs/man/b3scaled.8 $(DESTDIR)$(MANDIR)/man8/b3scaled.8
	install -D -m 0644 docs/man/b3scaleagent.8 $(DESTDIR)$(MANDIR)/man8/b3scaleagent.8
	for u in examples/systemd/*.service; do \
	  sed 's|/usr/bin/|$(BINDIR)/|g' $$u > $(DESTDIR)$(UNITDIR)/$${u##*/} || exit 1; done

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/b3scaled $(DESTDIR)$(BINDIR)/b3scaleagent $(DESTDIR)$(BINDIR)/b3scalectl \
	  $(DESTDIR)$(UNITDIR)/b3scaled.service $(DESTDIR)$(UNITDIR)/b3scaleagent.service \
	  $(DESTDIR)$(MANDIR)/man1/b3scalectl.1 $(DESTDIR)$(MANDIR)/man8/b3scaled.8 \
	  $(DESTDIR)$(MANDIR)/man8/b3scaleagent.8
	rm -rf $(DESTDIR)$(DATADIR)
	-rmdir $(DESTDIR)$(SYSCONFDIR)/b3scale/policies $(DESTDIR)$(SYSCONFDIR)/b3scale 2>/dev/null

# Debian packages b3scale and b3scaleagent (debian/, debhelper) built from a copy of this tree
# in build/deb/src, so the checkout stays clean; then lintian, which fails on any error.
deb: deps
	rm -rf build/deb && mkdir -p build/deb/src
	tar --exclude=./build --exclude=./.git --exclude=./var -cf - . | tar -xf - -C build/deb/src
	cd build/deb/src && dpkg-buildpackage -b -us -uc -j2
	lintian --fail-on error --info build/deb/*.deb
	@ls build/deb/*.deb

# Installs the Debian packages listed in .ci/packages when any is missing.
deps:
	@sh .ci/deps.sh

# SANITIZE=1: the whole suite against build/san (reports fail the run; spec/support/run.sh)
test: deps
	@$(MAKE) --no-print-directory all
	@B3SCALE_BUILD=$(BUILD) B3SCALE_SANITIZE=$(SANITIZE) sh spec/support/run.sh

run: deps
	@$(MAKE) --no-print-directory all
	@sh examples/demo.sh

# Throughput of the join redirect and polled calls next to an nginx static-302 baseline.
bench: deps
	@$(MAKE) --no-print-directory all
	@PACKAGES_FILE=.ci/bench-packages sh .ci/deps.sh
	@sh bench/run.sh

# The same machinery at scale: 500 simulated nodes in one bbbsim, 20,000 meetings, agents'
# reports; each figure printed next to its goal (NODES, MEETINGS, AGENTS tune it).
bench-scale: deps
	@$(MAKE) --no-print-directory all $(BUILD)/policy_bench
	@PACKAGES_FILE=.ci/bench-packages sh .ci/deps.sh
	@sh bench/scale.sh

# cppcheck and clang-tidy (.ci/lint.sh; suppressions with their reasons in .clang-tidy and
# .ci/*-suppressions). Installs the tools from .ci/lint-packages when missing.
lint: deps
	@PACKAGES_FILE=.ci/lint-packages sh .ci/deps.sh
	@LINT_CFLAGS="$(filter-out -Werror -O% -g -fPIC,$(CFLAGS))" sh .ci/lint.sh

# ThreadSanitizer over the specs that run the daemon's threads concurrently. Not in CI: it
# lists the races it sees (every report is a failure; the reports are kept in build/tsan/reports).
TSAN_SPECS := spec/faults spec/integration/bbb_api_spec.lua spec/integration/route_cache_spec.lua \
              spec/integration/placement_view_spec.lua spec/integration/get_meetings_spec.lua \
              spec/integration/races_spec.lua \
              spec/integration/recordings_import_spec.lua spec/integration/recordings_spec.lua \
              spec/integration/recordings_chain_spec.lua spec/unit/agent_upload_spec.lua
tsan: deps
	@$(MAKE) --no-print-directory SANITIZE=thread all
	@rm -rf build/tsan/reports
	@B3SCALE_BUILD=build/tsan B3SCALE_SANITIZE=thread B3SCALE_SANITIZER_LOGS=$(CURDIR)/build/tsan/reports \
	  sh spec/support/run.sh $(TSAN_SPECS)

# libFuzzer targets (fuzz/README.md): fuzz/fuzz_<name>.c linked with the core objects built
# by clang with -fsanitize=fuzzer-no-link,address,undefined in build/fuzz. `make fuzz` runs
# each for FUZZ_SECONDS (FUZZ_TARGETS picks some) and fails on a crash (saved in fuzz/crashes/).
FUZZ_CC      := clang
FUZZ_BUILD   := build/fuzz
FUZZ_TARGETS ?= query xml agent_redis jwt log agent_props
FUZZ_SECONDS ?= 60
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS  := -O1 -g -std=c11 -D_GNU_SOURCE -pthread -Wall -Wextra -Werror $(FUZZ_SAN) \
                $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
FUZZ_CORE    := $(CORE_SRC:c/%.c=$(FUZZ_BUILD)/core/%.o)
FUZZ_AGENT   := $(filter-out $(FUZZ_BUILD)/agent/agent_main.o,$(AGENT_SRC:agent/%.c=$(FUZZ_BUILD)/agent/%.o))
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)

$(FUZZ_BUILD)/core/%.o: c/%.c $(wildcard c/*.h) | $(FUZZ_BUILD)/core
	@echo "  CC  $< (fuzz)"; $(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
$(FUZZ_BUILD)/agent/%.o: agent/%.c $(wildcard agent/*.h c/*.h) | $(FUZZ_BUILD)/agent
	@echo "  CC  $< (fuzz)"; $(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -Ic -c -o $@ $<
$(FUZZ_BUILD)/fuzz_%.o: fuzz/fuzz_%.c $(wildcard c/*.h agent/*.h) | $(FUZZ_BUILD)
	@echo "  CC  $<"; $(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -Ic -Iagent -c -o $@ $<
$(FUZZ_BUILD)/libcore.a: $(FUZZ_CORE) $(FUZZ_AGENT)
	@echo "  AR  $@"; rm -f $@; ar rcs $@ $^
$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/fuzz_%.o $(FUZZ_BUILD)/libcore.a
	@echo "  LD  $@"; $(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^ $(LDLIBS) $(AGENT_LIBS)
$(FUZZ_BUILD) $(FUZZ_BUILD)/core $(FUZZ_BUILD)/agent:
	mkdir -p $@

.SECONDARY: $(FUZZ_BINS:%=%.o)
fuzz-build: $(FUZZ_BINS)
fuzz: deps
	@PACKAGES_FILE=.ci/fuzz-packages sh .ci/deps.sh
	@$(MAKE) --no-print-directory fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh fuzz/run.sh $(FUZZ_TARGETS)

clean:
	rm -rf $(BUILD) var
