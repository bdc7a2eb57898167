# asyncflowd: one plain, non-recursive GNU make file.
#
#   make            build everything into $(B)
#   make test       install missing packages, build, run every test
#   make asan       the test suite under AddressSanitizer + UBSan (build/asan)
#   make bench      build with optimisation and print `bench NAME VALUE UNIT`
#   make clean
#
# Objects go to $(B) (default build/), protoc-c output to $(B)/gen.
# CC, CFLAGS, CPPFLAGS and LDFLAGS from the command line are respected.

CC      ?= cc
B       ?= build
CFLAGS  ?= -O2 -g
SANITIZE ?=

PKGS := libevent lmdb libprotobuf-c
WARN := -std=c11 -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wold-style-definition -Wpointer-arith \
	-Wwrite-strings -Wvla -Wundef -Wno-missing-field-initializers -fno-common
ifneq ($(DEVELOPER)$(CI),)
WARN += -Werror
endif
ifneq ($(SANITIZE),)
SANFLAGS := -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

ALL_CPPFLAGS := -D_GNU_SOURCE -Iinclude -Icommon -Idaemon -Iclient/include -I$(B)/gen $(CPPFLAGS)
ALL_CFLAGS   := $(WARN) $(CFLAGS) $(SANFLAGS) $(PKG_CFLAGS)
ALL_LDFLAGS  := $(SANFLAGS) $(LDFLAGS)

ARCH := $(shell uname -m)

# ---- generated protobuf code --------------------------------------------
GEN_C := $(B)/gen/asyncflow.pb-c.c
GEN_H := $(B)/gen/asyncflow.pb-c.h
$(GEN_C) $(GEN_H) &: proto/asyncflow.proto
	@mkdir -p $(B)/gen
	protoc-c --proto_path=proto --c_out=$(B)/gen $<
$(B)/gen/asyncflow.pb-c.o: $(GEN_C)
	$(CC) -Wall $(CFLAGS) $(SANFLAGS) $(ALL_CPPFLAGS) $(PKG_CFLAGS) -c -o $@ $<

# ---- code both programs link: the error texts, framing, the depth walk --
COMMON_SRCS := $(wildcard common/*.c)
COMMON_OBJS := $(COMMON_SRCS:%.c=$(B)/%.o)

# ---- the engine library (everything in daemon/ but main.c) --------------
CORE_SRCS := $(filter-out daemon/main.c,$(wildcard daemon/*.c)) \
	$(COMMON_SRCS)
CORE_OBJS := $(CORE_SRCS:%.c=$(B)/%.o) $(B)/daemon/coro_$(ARCH).o
CORE_LIB  := $(B)/libafcore.a

$(B)/%.o: %.c $(GEN_H)
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<
$(B)/%.o: %.S
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(SANFLAGS) -c -o $@ $<

$(CORE_LIB): $(CORE_OBJS)
	@rm -f $@
	ar rcs $@ $^

# ---- the daemon: main.c + the core library, symbols exported for modules
DAEMON := $(B)/asyncflowd
$(DAEMON): $(B)/daemon/main.o $(CORE_LIB) $(B)/gen/asyncflow.pb-c.o
	$(CC) $(ALL_LDFLAGS) -rdynamic -o $@ $(B)/daemon/main.o \
	    -Wl,--whole-archive $(CORE_LIB) -Wl,--no-whole-archive \
	    $(B)/gen/asyncflow.pb-c.o $(PKG_LIBS) -ldl

# ---- flow modules: modules/NAME.c -> NAME.so; example.c also in three
# versions (-DEXAMPLE_VERSION=1..3) for the upgrade tests and the README.
MODULE_SRCS := $(wildcard modules/*.c)
MODULES := $(MODULE_SRCS:modules/%.c=$(B)/modules/%.so)
ifneq ($(wildcard modules/example.c),)
MODULES += $(B)/modules/example-v1.so $(B)/modules/example-v2.so $(B)/modules/example-v3.so
endif
# Modules are built as users build them: no sanitizers (the example's
# deliberate crash must be a real SIGSEGV, not a UBSan exit).
MODULE_CFLAGS := $(WARN) $(CFLAGS)
$(B)/modules/%.so: modules/%.c include/asyncflow/flow.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(MODULE_CFLAGS) -fPIC -shared -o $@ $<
$(B)/modules/example-v%.so: modules/example.c include/asyncflow/flow.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(MODULE_CFLAGS) -DEXAMPLE_VERSION=$* -fPIC -shared -o $@ $<

# ---- the client library and asyncflowctl (protobuf-c and libc only;
# asyncflowctl adds jansson for JSON)
CLIENT_SRCS := $(wildcard client/*.c)
CLIENT_LIB  := $(B)/libasyncflow.a
CTL_SRCS    := $(wildcard client/ctl/*.c)
CTL         := $(B)/asyncflowctl
$(CLIENT_LIB): $(CLIENT_SRCS:%.c=$(B)/%.o) $(COMMON_OBJS) $(B)/gen/asyncflow.pb-c.o
	@rm -f $@
	ar rcs $@ $^
$(CTL): $(CTL_SRCS:%.c=$(B)/%.o) $(CLIENT_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(shell pkg-config --libs libprotobuf-c jansson 2>/dev/null)

# ---- helpers for the end-to-end scripts
$(B)/tests/rawframe: $(B)/tests/rawframe.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^
E2E_TOOLS := $(if $(wildcard tests/rawframe.c),$(B)/tests/rawframe)
$(B)/tests/sdharness: $(B)/tests/sdharness.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^
E2E_TOOLS += $(if $(wildcard tests/sdharness.c),$(B)/tests/sdharness)

# ---- unit tests: tests/check_NAME.c is one Check binary each ------------
TEST_SRCS := $(wildcard tests/check_*.c)
TEST_BINS := $(TEST_SRCS:tests/%.c=$(B)/tests/%)
TEST_LIBS := $(CORE_LIB) $(B)/gen/asyncflow.pb-c.o
# Shared harness (daemon in a box, fault store, store helpers): an archive,
# so each test links only what it uses.
TEST_HELP_SRCS := tests/harness.c tests/faultstore.c tests/storeutil.c
TEST_HELP := $(B)/tests/libtesthelp.a
$(TEST_HELP): $(TEST_HELP_SRCS:%.c=$(B)/%.o)
	@rm -f $@
	ar rcs $@ $^

$(B)/tests/%: $(B)/tests/%.o $(B)/tests/testutil.o $(TEST_HELP) $(TEST_LIBS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CHECK_LIBS) -lpthread -ldl
# The client library's and asyncflowctl's tests link the library (and the
# fake daemon) instead of the daemon's core.
$(B)/tests/check_client $(B)/tests/check_ctl: $(B)/tests/%: $(B)/tests/%.o \
    $(B)/tests/fake_daemon.o $(B)/tests/testutil.o $(CLIENT_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CHECK_LIBS) -lpthread

# ---- benchmarks ----------------------------------------------------------
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(B)/bench/%)
$(B)/bench/%: $(B)/bench/%.o $(CORE_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)
# Through the socket: the client library and the real daemon.
$(B)/bench/bench_ipc: $(B)/bench/bench_ipc.o $(CLIENT_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# ---- top-level targets ---------------------------------------------------
# Keep objects make thinks intermediate (bench and test .o files).
.SECONDARY:
.PHONY: all deps test check asan bench bench-bins clean demo demo-world fuzz
.DEFAULT_GOAL := all
ALL_BINS := $(CORE_LIB) $(if $(wildcard daemon/main.c),$(DAEMON)) \
	$(if $(CLIENT_SRCS),$(CLIENT_LIB)) \
	$(if $(CTL_SRCS),$(CTL)) $(MODULES)
all: $(ALL_BINS) $(TEST_BINS) $(BENCH_BINS) $(E2E_TOOLS)

deps:
	@sh scripts/install-deps.sh

# `make test` is what the README and CI run: packages, build, every test.
# The build runs one job per CPU; run-tests.sh runs TEST_JOBS tests at once.
NPROC := $(shell nproc 2>/dev/null || echo 1)
test: deps
	@$(MAKE) --no-print-directory -j$(NPROC) check

check: all
	@sh scripts/run-tests.sh $(B) $(TEST_BINS)

# The tree against .clang-format (clang-format 14): lists the files that
# differ and fails; changes nothing.
.PHONY: format-check
format-check: deps
	@sh scripts/format-check.sh

# libFuzzer on the request path (clang; not part of make test):
#   make fuzz [FUZZ_SECONDS=60]
FUZZ_SECONDS ?= 60
fuzz: deps
	@mkdir -p build/fuzz
	protoc-c --proto_path=proto --c_out=build/fuzz proto/asyncflow.proto
	clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
	    -Iinclude -Icommon -Idaemon -Itests -Ibuild/fuzz $(PKG_CFLAGS) \
	    -o build/fuzz/fuzz_request tests/fuzz/fuzz_request.c \
	    tests/harness.c tests/faultstore.c \
	    $(filter-out daemon/main.c,$(wildcard daemon/*.c)) $(COMMON_SRCS) \
	    daemon/coro_$(ARCH).S build/fuzz/asyncflow.pb-c.c $(PKG_LIBS)
	@mkdir -p build/fuzz/corpus
	build/fuzz/fuzz_request -max_total_time=$(FUZZ_SECONDS) \
	    -max_len=4096 build/fuzz/corpus >build/fuzz/log 2>&1; \
	    rc=$$?; tail -3 build/fuzz/log; exit $$rc

# The README's first command: the mission in one story.
demo: deps
	@$(MAKE) --no-print-directory all
	@sh scripts/demo.sh $(B)

# Flows that talk to the world: served objects, compensation, timers.
demo-world: deps
	@$(MAKE) --no-print-directory all
	@sh scripts/demo-world.sh $(B)

asan: deps
	@$(MAKE) --no-print-directory check B=build/asan \
		SANITIZE=address,undefined CFLAGS="-O1 -g"

bench: deps
	@$(MAKE) --no-print-directory bench-bins B=build/bench CFLAGS="-O2 -g -DNDEBUG"
	@sh scripts/run-bench.sh build/bench

bench-bins: $(BENCH_BINS) $(ALL_BINS)

clean:
	rm -rf build

-include $(shell find $(B) -name '*.d' 2>/dev/null)
