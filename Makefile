# asyncflowd: one plain, non-recursive GNU make file.
#
#   make            build the programs, the client library and the modules
#                   into $(B) (no test framework needed)
#   make check      also build the tests and bench programs, run every test
#   make test       install missing packages (build + test set), then check
#   make install    install into $(DESTDIR)$(PREFIX) (see "Installation")
#   make uninstall  remove what make install put there
#   make asan       the test suite under AddressSanitizer + UBSan (build/asan)
#   make bench      build with optimisation and print `bench NAME VALUE UNIT`
#   make bench-scale  the figures at a million activations and retention
#                     (bench/bench_scale, bench/scale_*), apart: minutes
#   make clean
#
# Objects go to $(B) (default build/), protoc-c output to $(B)/gen/asyncflow.
# CC, CFLAGS, CPPFLAGS and LDFLAGS from the command line are respected.
# Before anything is compiled, scripts/check-prereqs.sh checks the tools and
# libraries and names the Debian packages that are missing.

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

# Coroutine stacks have one guard page: every frame larger than a page
# must probe its pages on the way down, so that it faults in that guard
# instead of jumping it (issue 9). The daemon and modules alike.
STACKFLAGS := -fstack-clash-protection

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

# $(B)/gen/asyncflow: the daemon's and the tests' "asyncflow.pb-c.h";
# $(B)/gen: the client header's "asyncflow/asyncflow.pb-c.h", as installed.
ALL_CPPFLAGS := -D_GNU_SOURCE -Iinclude -Icommon -Idaemon -Iclient/include \
	-I$(B)/gen/asyncflow -I$(B)/gen $(CPPFLAGS)
ALL_CFLAGS   := $(WARN) $(CFLAGS) $(STACKFLAGS) $(SANFLAGS) $(PKG_CFLAGS)
ALL_LDFLAGS  := $(SANFLAGS) $(LDFLAGS)

ARCH := $(shell uname -m)

# The release (include/asyncflow/version.h) names the shared library:
# libasyncflow.so.$(VERSION), soname libasyncflow.so.$(SOMAJOR).
VERSION := $(shell sed -n 's/^\#define AF_VERSION "\(.*\)"$$/\1/p' \
	include/asyncflow/version.h)
SOMAJOR := $(firstword $(subst ., ,$(VERSION)))

# ---- build prerequisites -------------------------------------------------
# Every compiling rule below waits for (order-only `| prereqs`) this check,
# which names the Debian packages to install when a tool or a library is
# missing; the tests' objects also wait for prereqs-test (Check).
.PHONY: prereqs prereqs-test
prereqs:
	@CC='$(CC)' sh scripts/check-prereqs.sh build
prereqs-test: prereqs
	@CC='$(CC)' sh scripts/check-prereqs.sh test

# ---- generated protobuf code --------------------------------------------
# Generated into $(B)/gen/asyncflow/ so that the header is included as
# "asyncflow/asyncflow.pb-c.h", the name it is installed under. The object
# stays $(B)/gen/asyncflow.pb-c.o.
GEN_C := $(B)/gen/asyncflow/asyncflow.pb-c.c
GEN_H := $(B)/gen/asyncflow/asyncflow.pb-c.h
$(GEN_C) $(GEN_H) &: proto/asyncflow.proto | prereqs
	@mkdir -p $(B)/gen/asyncflow
	protoc-c --proto_path=proto --c_out=$(B)/gen/asyncflow $<
$(B)/gen/asyncflow.pb-c.o: $(GEN_C) $(GEN_H) | prereqs
	$(CC) -Wall $(CFLAGS) $(SANFLAGS) $(ALL_CPPFLAGS) $(PKG_CFLAGS) -c -o $@ $<

# ---- code both programs link: the error texts, framing, the depth walk --
COMMON_SRCS := $(wildcard common/*.c)
COMMON_OBJS := $(COMMON_SRCS:%.c=$(B)/%.o)

# ---- the engine library (everything in daemon/ but main.c) --------------
CORE_SRCS := $(filter-out daemon/main.c,$(wildcard daemon/*.c)) \
	$(COMMON_SRCS)
CORE_OBJS := $(CORE_SRCS:%.c=$(B)/%.o) $(B)/daemon/coro_$(ARCH).o
CORE_LIB  := $(B)/libafcore.a

$(B)/%.o: %.c $(GEN_H) | prereqs
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<
$(B)/%.o: %.S | prereqs
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(SANFLAGS) -c -o $@ $<

$(CORE_LIB): $(CORE_OBJS)
	@rm -f $@
	ar rcs $@ $^

# ---- the daemon: main.c + the core library, exporting to modules only the
# guest API listed in daemon/guest.map
DAEMON := $(B)/asyncflowd
$(DAEMON): $(B)/daemon/main.o $(CORE_LIB) $(B)/gen/asyncflow.pb-c.o \
    daemon/guest.map
	$(CC) $(ALL_LDFLAGS) -rdynamic -Wl,--version-script=daemon/guest.map \
	    -o $@ $(B)/daemon/main.o \
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
MODULE_CFLAGS := $(WARN) $(CFLAGS) $(STACKFLAGS)
$(B)/modules/%.so: modules/%.c include/asyncflow/flow.h | prereqs
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(MODULE_CFLAGS) -fPIC -shared -o $@ $<
$(B)/modules/example-v%.so: modules/example.c include/asyncflow/flow.h | prereqs
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(MODULE_CFLAGS) -DEXAMPLE_VERSION=$* -fPIC -shared -o $@ $<

# ---- the client library and asyncflowctl (protobuf-c and libc only;
# asyncflowctl adds jansson for JSON). The library is built static
# (libasyncflow.a, which asyncflowctl and the tests link) and shared:
# libasyncflow.so.$(VERSION), soname libasyncflow.so.$(SOMAJOR), from the
# same sources compiled -fPIC into $(B)/pic/, exporting only af_* and
# protobuf-c's asyncflow__* (client/libasyncflow.map).
CLIENT_SRCS := $(wildcard client/*.c)
CLIENT_OBJS := $(CLIENT_SRCS:%.c=$(B)/%.o) $(COMMON_OBJS) \
	$(B)/gen/asyncflow.pb-c.o
CLIENT_LIB  := $(B)/libasyncflow.a
CLIENT_SO   := $(B)/libasyncflow.so.$(VERSION)
CTL_SRCS    := $(wildcard client/ctl/*.c)
CTL         := $(B)/asyncflowctl
$(CLIENT_LIB): $(CLIENT_OBJS)
	@rm -f $@
	ar rcs $@ $^
$(B)/pic/%.o: %.c $(GEN_H) | prereqs
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -fPIC -MMD -MP -c -o $@ $<
$(B)/pic/gen/asyncflow.pb-c.o: $(GEN_C) $(GEN_H) | prereqs
	@mkdir -p $(@D)
	$(CC) -Wall $(CFLAGS) $(SANFLAGS) -fPIC $(ALL_CPPFLAGS) $(PKG_CFLAGS) \
	    -c -o $@ $<
$(CLIENT_SO): $(CLIENT_OBJS:$(B)/%=$(B)/pic/%) client/libasyncflow.map
	$(CC) $(ALL_LDFLAGS) -shared -Wl,-soname,libasyncflow.so.$(SOMAJOR) \
	    -Wl,--version-script=client/libasyncflow.map -Wl,--no-undefined \
	    -o $@ $(filter %.o,$^) \
	    $(shell pkg-config --libs libprotobuf-c 2>/dev/null)
$(CTL): $(CTL_SRCS:%.c=$(B)/%.o) $(CLIENT_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(shell pkg-config --libs libprotobuf-c jansson 2>/dev/null)

# ---- helpers for the end-to-end scripts
$(B)/tests/rawframe: $(B)/tests/rawframe.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^
E2E_TOOLS := $(if $(wildcard tests/rawframe.c),$(B)/tests/rawframe)
# Many waiting activations at once, pipelined (evict-restart.sh).
$(B)/tests/manystart: $(B)/tests/manystart.o $(CLIENT_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)
E2E_TOOLS += $(if $(wildcard tests/manystart.c),$(B)/tests/manystart)
# The fault tests' LD_PRELOAD library (no sanitizers: it is preloaded).
$(B)/tests/faultshim.so: tests/faultshim.c
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) -D_GNU_SOURCE -fPIC -shared -o $@ $< -ldl
E2E_TOOLS += $(if $(wildcard tests/faultshim.c),$(B)/tests/faultshim.so)
$(B)/tests/powerloss: $(B)/tests/powerloss.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^
E2E_TOOLS += $(if $(wildcard tests/powerloss.c),$(B)/tests/powerloss)
$(B)/tests/dbstat: $(B)/tests/dbstat.o $(CORE_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)
E2E_TOOLS += $(if $(wildcard tests/dbstat.c),$(B)/tests/dbstat)

# ---- the Python client (client/python): the package assembled in
# $(B)/python/asyncflow with its protobuf module and constants generated
# from the same proto and headers (`make python`; `make check` builds it
# when a python3 with google.protobuf is found, and exports PYTHON to the
# tests).
ifeq ($(strip $(PYTHON)),)
PYTHON := $(firstword $(foreach p,python3 /usr/bin/python3,$(if $(shell \
	$(p) -c 'import google.protobuf' 2>/dev/null && echo y),$(p))))
endif
export PYTHON
PY_SRCS := $(wildcard client/python/asyncflow/*.py)
PY_PKG  := $(B)/python/asyncflow
PY_OUT  := $(PY_SRCS:client/python/asyncflow/%=$(PY_PKG)/%) \
	$(PY_PKG)/asyncflow_pb2.py $(PY_PKG)/_constants.py
$(PY_PKG)/%.py: client/python/asyncflow/%.py
	@mkdir -p $(@D)
	cp $< $@
$(PY_PKG)/asyncflow_pb2.py: proto/asyncflow.proto
	@mkdir -p $(@D)
	protoc --proto_path=proto --python_out=$(@D) $<
$(PY_PKG)/_constants.py: client/python/gen_constants.py \
    include/asyncflow/protocol.h include/asyncflow/errors.h
	@mkdir -p $(@D)
	$(or $(PYTHON),python3) client/python/gen_constants.py \
	    include/asyncflow/protocol.h include/asyncflow/errors.h >$@.tmp
	mv $@.tmp $@
.PHONY: python
python: $(PY_OUT)
PY_CHECK := $(if $(PYTHON),$(if $(PY_SRCS),python))

# Everything under tests/ needs Check (and says so before compiling).
$(patsubst %.c,$(B)/%.o,$(wildcard tests/*.c)): | prereqs-test

$(B)/tests/sdharness: $(B)/tests/sdharness.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^
E2E_TOOLS += $(if $(wildcard tests/sdharness.c),$(B)/tests/sdharness)
$(B)/tests/startmany: $(B)/tests/startmany.o $(CLIENT_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(shell pkg-config --libs libprotobuf-c 2>/dev/null)
E2E_TOOLS += $(if $(wildcard tests/startmany.c),$(B)/tests/startmany)

# ---- unit tests: tests/check_NAME.c is one Check binary each ------------
TEST_SRCS := $(wildcard tests/check_*.c)
TEST_BINS := $(TEST_SRCS:tests/%.c=$(B)/tests/%)
TEST_LIBS := $(CORE_LIB) $(B)/gen/asyncflow.pb-c.o
# Shared harness (daemon in a box, fault store, store and engine helpers):
# an archive, so each test links only what it uses.
TEST_HELP_SRCS := tests/harness.c tests/faultstore.c tests/storeutil.c \
    tests/engineutil.c
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
# bench/benchkit.c is every benchmark's clock and statistics,
# bench/ipckit.c the socket benchmarks' shared helpers and bench/flowkit.c
# the in-process engine benchmarks': not programs.
# bench/bench_scale.c is `make bench-scale` only (minutes, a million
# activations): not one of `make bench`'s programs.
BENCH_KITS := bench/benchkit.c bench/ipckit.c bench/flowkit.c
BENCH_SRCS := $(filter-out $(BENCH_KITS) bench/bench_scale.c,\
    $(wildcard bench/*.c))
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(B)/bench/%)
$(B)/bench/%: $(B)/bench/%.o $(B)/bench/benchkit.o $(CORE_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)
$(B)/bench/bench_engine $(B)/bench/bench_upgrade $(B)/bench/bench_children: \
    $(B)/bench/%: $(B)/bench/%.o $(B)/bench/flowkit.o $(B)/bench/benchkit.o \
    $(CORE_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)
# Through the socket: the client library and the real daemon.
$(B)/bench/bench_ipc $(B)/bench/bench_latency $(B)/bench/bench_upgrade_live \
    $(B)/bench/bench_exports: \
    $(B)/bench/%: $(B)/bench/%.o \
    $(B)/bench/ipckit.o $(B)/bench/benchkit.o $(CLIENT_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread
$(B)/bench/bench_scale: $(B)/bench/bench_scale.o $(B)/bench/ipckit.o \
    $(B)/bench/benchkit.o $(CLIENT_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# ---- top-level targets ---------------------------------------------------
# Keep objects make thinks intermediate (bench and test .o files).
.SECONDARY:
.PHONY: all deps deps-build test check asan bench bench-bins bench-scale \
    bench-scale-bins \
    clean demo \
	demo-world fuzz install uninstall
.DEFAULT_GOAL := all
# What `make` builds: the programs, the client library, the modules. The
# tests (which need Check) and the bench programs are built by `check`.
ALL_BINS := $(CORE_LIB) $(if $(wildcard daemon/main.c),$(DAEMON)) \
	$(if $(CLIENT_SRCS),$(CLIENT_LIB) $(CLIENT_SO)) \
	$(if $(CTL_SRCS),$(CTL)) $(MODULES)
all: $(ALL_BINS)

# The Debian packages a target needs (scripts/install-deps.sh): `deps` the
# test set (build + Check, valgrind, jq, ...), `deps-build` only what
# building and running need (make, make demo).
deps:
	@sh scripts/install-deps.sh test
deps-build:
	@sh scripts/install-deps.sh build

# `make test` is what the README and CI run: packages, build, every test.
# The build runs one job per CPU; run-tests.sh runs TEST_JOBS tests at once.
NPROC := $(shell nproc 2>/dev/null || echo 1)
test: deps
	@$(MAKE) --no-print-directory -j$(NPROC) check

check: all $(TEST_BINS) $(BENCH_BINS) $(B)/bench/bench_scale $(E2E_TOOLS) \
    $(PY_CHECK)
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
demo: deps-build
	@$(MAKE) --no-print-directory all
	@sh scripts/demo.sh $(B)

# Flows that talk to the world: served objects, compensation, timers.
demo-world: deps-build
	@$(MAKE) --no-print-directory all
	@sh scripts/demo-world.sh $(B)

asan: deps
	@$(MAKE) --no-print-directory check B=build/asan \
		SANITIZE=address,undefined CFLAGS="-O1 -g"

bench: deps-build
	@$(MAKE) --no-print-directory bench-bins B=build/bench CFLAGS="-O2 -g -DNDEBUG"
	@sh scripts/run-bench.sh build/bench

bench-bins: $(BENCH_BINS) $(ALL_BINS)

# Issue 8's figures at scale (minutes, stock kernel), one `bench NAME
# VALUE UNIT` line each: bench/bench_scale (a million activations through
# the socket), then the bench/scale_* programs (retention).
bench-scale: deps-build
	@$(MAKE) --no-print-directory bench-scale-bins B=build/bench \
	    CFLAGS="-O2 -g -DNDEBUG"
	@build/bench/bench/bench_scale build/bench
	@for x in build/bench/bench/scale_*; do \
		[ -x "$$x" ] || continue; "$$x" 2>/dev/null || exit 1; \
	done

bench-scale-bins: $(B)/bench/bench_scale \
    $(filter $(B)/bench/scale_%,$(BENCH_BINS)) $(ALL_BINS)

clean:
	rm -rf build

# ---- installation --------------------------------------------------------
# make install [PREFIX=/usr/local] [DESTDIR=staging root]; the directories
# below may each be set too. DESTDIR is prepended to every path written and
# to nothing recorded in the files (asyncflow.pc, the systemd units).
# Installed: asyncflowd (sbin), asyncflowctl (bin), libasyncflow.a and
# libasyncflow.so.$(VERSION) with its soname and dev links, asyncflow.pc,
# the client header asyncflow.h and asyncflow/*.h (flow.h and what the
# headers include, with the generated asyncflow/asyncflow.pb-c.h), the man
# pages, and, when they are in the tree, dist/'s systemd units and bash
# completion (in which @PREFIX@, @BINDIR@, @SBINDIR@, @LIBDIR@ and the
# programs' default paths are replaced by the installed paths). `make uninstall` removes exactly those files
# (and the include/asyncflow directory once empty).
PREFIX         ?= /usr/local
BINDIR         ?= $(PREFIX)/bin
SBINDIR        ?= $(PREFIX)/sbin
LIBDIR         ?= $(PREFIX)/lib
INCLUDEDIR     ?= $(PREFIX)/include
MANDIR         ?= $(PREFIX)/share/man
PKGCONFIGDIR   ?= $(LIBDIR)/pkgconfig
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
BASHCOMPDIR    ?= $(PREFIX)/share/bash-completion/completions
INSTALL        ?= install

PUBLIC_HEADERS := $(wildcard include/asyncflow/*.h)
MAN_PAGES      := man/asyncflowd.8 man/asyncflowctl.1 man/asyncflow-flow.3
DIST_UNITS     := $(wildcard dist/asyncflowd.service dist/asyncflowd.socket)
DIST_BASHCOMP  := $(wildcard dist/asyncflowctl.bash)
SUBST_PATHS    := sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@BINDIR@|$(BINDIR)|g' \
	-e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g'
# The units and the completion may also name the programs by their default
# paths (/usr/local/sbin/asyncflowd, /usr/local/bin/asyncflowctl).
DIST_PATHS     := -e 's|/usr/local/sbin/asyncflowd|$(SBINDIR)/asyncflowd|g' \
	-e 's|/usr/local/bin/asyncflowctl|$(BINDIR)/asyncflowctl|g'
# In asyncflow.pc the directories under PREFIX are written ${prefix}/...,
# so that pkg-config --define-prefix can relocate the installed tree.
PC_PATHS       := -e 's|@PC_LIBDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))|g' \
	-e 's|@PC_INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|g'

# Every file install writes, without DESTDIR: what uninstall removes.
INSTALLED := $(SBINDIR)/asyncflowd $(BINDIR)/asyncflowctl \
	$(LIBDIR)/libasyncflow.a $(LIBDIR)/libasyncflow.so.$(VERSION) \
	$(LIBDIR)/libasyncflow.so.$(SOMAJOR) $(LIBDIR)/libasyncflow.so \
	$(PKGCONFIGDIR)/asyncflow.pc $(INCLUDEDIR)/asyncflow.h \
	$(PUBLIC_HEADERS:include/%=$(INCLUDEDIR)/%) \
	$(INCLUDEDIR)/asyncflow/asyncflow.pb-c.h \
	$(foreach m,$(MAN_PAGES),$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m))) \
	$(DIST_UNITS:dist/%=$(SYSTEMDUNITDIR)/%) \
	$(if $(DIST_BASHCOMP),$(BASHCOMPDIR)/asyncflowctl)

install: all
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
	    $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) \
	    $(DESTDIR)$(INCLUDEDIR)/asyncflow $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man8
	$(INSTALL) -m 0755 $(DAEMON) $(DESTDIR)$(SBINDIR)/asyncflowd
	$(INSTALL) -m 0755 $(CTL) $(DESTDIR)$(BINDIR)/asyncflowctl
	$(INSTALL) -m 0644 $(CLIENT_LIB) $(DESTDIR)$(LIBDIR)/libasyncflow.a
	$(INSTALL) -m 0755 $(CLIENT_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf libasyncflow.so.$(VERSION) \
	    $(DESTDIR)$(LIBDIR)/libasyncflow.so.$(SOMAJOR)
	ln -sf libasyncflow.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/libasyncflow.so
	$(SUBST_PATHS) $(PC_PATHS) asyncflow.pc.in \
	    >$(DESTDIR)$(PKGCONFIGDIR)/asyncflow.pc
	$(INSTALL) -m 0644 client/include/asyncflow.h $(DESTDIR)$(INCLUDEDIR)/
	$(INSTALL) -m 0644 $(PUBLIC_HEADERS) $(GEN_H) \
	    $(DESTDIR)$(INCLUDEDIR)/asyncflow/
	$(foreach m,$(MAN_PAGES),$(INSTALL) -m 0644 $(m) \
	    $(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(m)))/;)
ifneq ($(DIST_UNITS),)
	$(INSTALL) -d $(DESTDIR)$(SYSTEMDUNITDIR)
	$(foreach u,$(DIST_UNITS),$(SUBST_PATHS) $(DIST_PATHS) $(u) \
	    >$(DESTDIR)$(SYSTEMDUNITDIR)/$(notdir $(u));)
endif
ifneq ($(DIST_BASHCOMP),)
	$(INSTALL) -d $(DESTDIR)$(BASHCOMPDIR)
	$(SUBST_PATHS) $(DIST_PATHS) $(DIST_BASHCOMP) \
	    >$(DESTDIR)$(BASHCOMPDIR)/asyncflowctl
endif
# Into the live system (no DESTDIR) as root: let the dynamic linker see the
# new library at once.
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then ldconfig || :; fi

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	rmdir $(DESTDIR)$(INCLUDEDIR)/asyncflow 2>/dev/null || :

-include $(shell find $(B) -name '*.d' 2>/dev/null)
