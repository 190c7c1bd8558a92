# b3scale-c: build, test and demo. `make run` and `make test` install what is missing.
PKGS      := luajit libmicrohttpd libpq libcurl openssl expat libjwt
CC        ?= cc
CFLAGS    ?= -O2 -g
CFLAGS    += -std=c11 -D_GNU_SOURCE -fPIC -pthread -Wall -Wextra -Werror \
             $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS    += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -pthread -lm
BUILD     := build

CORE_SRC  := $(filter-out c/main.c,$(wildcard c/*.c))
CORE_OBJ  := $(CORE_SRC:c/%.c=$(BUILD)/core/%.o)
SIM_SRC   := $(wildcard c/sim/*.c)
SIM_OBJ   := $(SIM_SRC:c/sim/%.c=$(BUILD)/sim/%.o)
# bbbsim shares the protocol code with the daemon so both speak BBB the same way
SIM_DEPS  := $(BUILD)/core/buf.o $(BUILD)/core/query.o $(BUILD)/core/bbb_checksum.o \
             $(BUILD)/core/xml_dom.o $(BUILD)/core/bbb_xml.o $(BUILD)/core/log.o

# the node agent shares logging, checksums and the libcurl call with the daemon
AGENT_SRC := $(wildcard agent/*.c)
AGENT_OBJ := $(AGENT_SRC:agent/%.c=$(BUILD)/agent/%.o)
AGENT_DEPS := $(BUILD)/core/buf.o $(BUILD)/core/log.o $(BUILD)/core/query.o \
              $(BUILD)/core/bbb_checksum.o $(BUILD)/core/proxy.o $(BUILD)/core/env.o \
              $(BUILD)/core/clock.o
AGENT_LIBS := -lhiredis $(shell pkg-config --libs libcurl openssl 2>/dev/null) -pthread

.PHONY: all deps test run clean bench check-deps
all: $(BUILD)/b3scaled $(BUILD)/bbbsim $(BUILD)/libb3scale.so $(BUILD)/b3scaleagent

$(BUILD)/core/%.o: c/%.c $(wildcard c/*.h) | $(BUILD)/core
	@echo "  CC  $<"; $(CC) $(CFLAGS) -c -o $@ $<
$(BUILD)/sim/%.o: c/sim/%.c $(wildcard c/*.h c/sim/*.h) | $(BUILD)/sim
	@echo "  CC  $<"; $(CC) $(CFLAGS) -Ic -c -o $@ $<
$(BUILD)/agent/%.o: agent/%.c $(wildcard agent/*.h c/*.h) | $(BUILD)/agent
	@echo "  CC  $<"; $(CC) $(CFLAGS) -Ic -c -o $@ $<
$(BUILD)/core $(BUILD)/sim $(BUILD)/agent:
	mkdir -p $@

$(BUILD)/b3scaled: $(BUILD)/core/main.o $(CORE_OBJ)
	@echo "  LD  $@"; $(CC) -o $@ $^ $(LDLIBS)
$(BUILD)/libb3scale.so: $(CORE_OBJ)
	@echo "  LD  $@"; $(CC) -shared -o $@ $^ $(LDLIBS)
$(BUILD)/bbbsim: $(SIM_OBJ) $(SIM_DEPS)
	@echo "  LD  $@"; $(CC) -o $@ $^ $(LDLIBS)
$(BUILD)/b3scaleagent: $(AGENT_OBJ) $(AGENT_DEPS)
	@echo "  LD  $@"; $(CC) -o $@ $^ $(AGENT_LIBS)

# Installs the Debian packages listed in .ci/packages when any is missing.
deps:
	@sh .ci/deps.sh

test: deps
	@$(MAKE) --no-print-directory all
	@sh spec/support/run.sh

run: deps
	@$(MAKE) --no-print-directory all
	@sh examples/demo.sh

# Throughput of the join redirect and polled calls next to an nginx static-302 baseline.
bench: deps
	@$(MAKE) --no-print-directory all
	@PACKAGES_FILE=.ci/bench-packages sh .ci/deps.sh
	@sh bench/run.sh

clean:
	rm -rf $(BUILD) var
