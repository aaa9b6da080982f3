# Pitwall: one library of every module, one binary, one test runner.
#   make          build bin/pitwall          make test   run every test
#   make asan     tests under ASan + UBSan   make bench  run the benchmarks
#   make run      the embedded default       make deps   install libraries
# Objects go to build/<variant>/; VARIANT=release (default) or asan.

VARIANT ?= release
B       := build/$(VARIANT)
PKGS    := msgpack lmdb yaml-0.1 jansson zlib gsl libwebsockets
CC      ?= cc

WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wformat=2 -Werror
CFLAGS_release := -O2 -g
CFLAGS_asan    := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
                  -fno-sanitize-recover=undefined
CPPFLAGS := -I. -D_GNU_SOURCE -MMD -MP
CFLAGS    = -std=c11 $(WARN) $(CFLAGS_$(VARIANT)) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDFLAGS  := $(filter -fsanitize%,$(CFLAGS_$(VARIANT)))
LDLIBS    = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
TESTLIBS  = $(shell pkg-config --libs criterion 2>/dev/null)

MODULES  := core store ingest pipeline models edge api replay bench
LIB_SRC  := $(wildcard $(addsuffix /*.c,$(MODULES)))
CMD_SRC  := $(wildcard cmd/*.c)
TEST_SRC := $(wildcard tests/*/*.c)
LIB      := $(B)/libpitwall.a
BIN      := $(B)/pitwall
TESTBIN  := $(B)/pitwall-tests

obj = $(patsubst %.c,$(B)/%.o,$(1))

VENDOR   := dashboards/vendor/uPlot.iife.min.js dashboards/vendor/uPlot.min.css

.PHONY: all deps test asan bench run clean
all: bin/pitwall $(VENDOR)

# bin/pitwall is the release binary; other variants stay under build/.
bin/pitwall: $(BIN) | deps
	@mkdir -p bin
	cp $(BIN) $@

$(B)/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(LIB): $(call obj,$(LIB_SRC))
	rm -f $@
	ar rcs $@ $^

$(BIN): $(call obj,$(CMD_SRC)) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(TESTBIN): $(call obj,$(TEST_SRC)) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(TESTLIBS) $(LDLIBS)

# The dashboards' chart library (uPlot, pinned in package-lock.json) from
# node_modules (npm ci, in make deps) into dashboards/vendor/. Without it
# (npm offline) the build goes on and the pages load without charts.
dashboards/vendor/%: node_modules/uplot/dist/%
	@mkdir -p $(dir $@)
	@if [ -f $< ]; then cp $< $@; echo "cp $< $@"; \
	else echo "pitwall: $< missing: the dashboards will load without charts" >&2; fi

node_modules/uplot/dist/%: | deps
	@:

# Tests find the binary of their own variant through PITWALL_BIN.
# LeakSanitizer ignores Criterion's own leak (tests/lsan.supp says why).
test: $(TESTBIN) $(BIN)
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp PITWALL_BIN=$(BIN) $(TESTBIN) $(TEST_ARGS)

asan:
	$(MAKE) VARIANT=asan test

bench: bin/pitwall
	bin/pitwall bench

run: bin/pitwall $(VENDOR)
	bin/pitwall run --conf conf/pitwall.yaml

# Debian packages (apt-get), then node_modules from package-lock.json (npm ci).
deps:
	@scripts/deps.sh

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
