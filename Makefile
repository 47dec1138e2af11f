# mlf: build libmlf.a and the programs; run the tests.
#
#   make                 build everything into $(BUILD)
#   make test            unit tests, then end-to-end tests against a real MLflow
#   make unit            the unit tests only (those over libtorch only when it is there)
#   make asan            the tests that do not train, under AddressSanitizer + UBSan
#   make check           make test, make asan, then make fuzz-smoke (what CI runs)
#   make fuzz            the libFuzzer harnesses (clang); scripts/fuzz [SECONDS] runs them
#   make install PREFIX=/usr/local
#   make bootstrap       install system packages, the pinned MLflow and libtorch (scripts/bootstrap)
#
# libtorch: LIBTORCH=<dir> names an unzipped libtorch or a torch wheel's package
# folder (the one holding include/ and lib/); by default the one scripts/bootstrap
# installed is used (MLF_TORCH_CUDA=1: its CUDA install).  The CUDA backend is
# linked when that libtorch has it.

PREFIX ?= /usr/local
BUILD ?= build
CC ?= cc
CFLAGS ?= -O2 -g
WARNINGS = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	   -Wformat=2 -Wno-format-nonliteral -Wundef -Wvla
PKGS = jansson yaml-0.1 libcurl sqlite3 libcrypto libpng libjpeg libzip cairo
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CPPFLAGS = -Iinclude -Ilib -D_GNU_SOURCE $(PKG_CFLAGS) $(CPPFLAGS)
ALL_CFLAGS = -std=c11 $(WARNINGS) $(CFLAGS)
LIBS = $(PKG_LIBS) -lm -lpthread
# Only mlf-serve speaks HTTP: it alone links libmicrohttpd (lib/serve/serve_http.c).
MHD_CFLAGS := $(shell pkg-config --cflags libmicrohttpd 2>/dev/null)
MHD_LIBS := $(shell pkg-config --libs libmicrohttpd 2>/dev/null)

# MLF_TORCH_CUDA=1 picks the CUDA install (scripts/versions.sh names both); a
# CUDA libtorch is never picked silently, as loading it costs every program
# about a second at start on a machine without a GPU.
ifeq ($(origin LIBTORCH),undefined)
LIBTORCH := $(shell . scripts/versions.sh; \
	d="$$MLF_TORCH_DIR/torch"; [ -f "$$d/lib/libtorch_cpu.so" ] && echo "$$d")
endif
CXX ?= g++
CXXFLAGS ?= -O2 -g
# The torch wheels are built with the C++11 ABI since 2.7 (TORCH_ABI=0 for older ones).
TORCH_ABI ?= 1
TORCH_CXXFLAGS = -std=c++17 -Wall -Wextra -D_GLIBCXX_USE_CXX11_ABI=$(TORCH_ABI) \
	-isystem $(LIBTORCH)/include -isystem $(LIBTORCH)/include/torch/csrc/api/include $(CXXFLAGS)
TORCH_CUDA := $(if $(wildcard $(LIBTORCH)/lib/libtorch_cuda.so),1,0)
# --no-as-needed: nothing references libtorch_cuda directly, but without it in
# NEEDED its kernels never register and CUDA silently stays unavailable.
TORCH_LIBS = -L$(LIBTORCH)/lib -Wl,-rpath,$(LIBTORCH)/lib \
	$(if $(filter 1,$(TORCH_CUDA)),-Wl$(comma)--no-as-needed -ltorch_cuda -lc10_cuda -Wl$(comma)--as-needed) \
	-ltorch_cpu -lc10 -lgomp -lstdc++
comma := ,

# lib/ is one folder per subsystem, each with its public header include/mlf/NAME.h
# (lib/README.md draws the layers).  These go into libmlf.a, which never needs libtorch:
LIB_DIRS := base tracking tracking/sqlite tracking/rest tracking/file config cli \
	corrections ckpt data metrics yolo plot prep check promote serve
# and these into libmlf_torch.a, over the libtorch shim (headers in include/mlf/torch/):
TORCH_DIRS := torch model train retrain
LIB_SRC := $(sort $(foreach d,$(LIB_DIRS),$(wildcard lib/$(d)/*.c)))
CMD_SRC := $(sort $(wildcard cmd/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
TOOL_SRC := $(sort $(wildcard tests/tools/*.c))
DEVTOOL_SRC := $(sort $(wildcard tools/*.c))

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)

# What needs libtorch: the shim (the only C++), the model code over it, and the
# programs, tools and unit tests in the torch/ folders.  Nothing else links it.
SHIM_SRC := $(sort $(wildcard lib/torch/*.cpp))
MODEL_SRC := $(sort $(foreach d,$(TORCH_DIRS),$(wildcard lib/$(d)/*.c)))
# retrain-run writes lib/retrain/pyfunc_loader.py into every MLflow Model it logs;
# it is compiled in as a C string, so an installed retrain-run needs no data files.
PYFUNC_OBJ := $(BUILD)/obj/gen/pyfunc_loader.o
TORCH_LIB_OBJ := $(SHIM_SRC:%.cpp=$(BUILD)/obj/%.o) $(MODEL_SRC:%.c=$(BUILD)/obj/%.o) $(PYFUNC_OBJ)
TORCH_CMD_SRC := $(sort $(wildcard cmd/torch/*.c))
TORCH_PROGS := $(TORCH_CMD_SRC:cmd/torch/%.c=$(BUILD)/bin/%)
TORCH_UNIT_SRC := $(sort $(wildcard tests/unit/torch/test_*.c))
TORCH_TOOL_SRC := $(sort $(wildcard tools/torch/*.c))
TORCH_UNITS := $(TORCH_UNIT_SRC:tests/unit/torch/%.c=$(BUILD)/tests/%)
TORCH_TOOLS := $(TORCH_TOOL_SRC:tools/torch/%.c=$(BUILD)/tools/%)
ifneq ($(LIBTORCH),)
TORCH_ALL := $(BUILD)/libmlf_torch.a $(TORCH_TOOLS) $(TORCH_PROGS)
endif
PROGS := $(CMD_SRC:cmd/%.c=$(BUILD)/bin/%)
UNITS := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOLS := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tests/tools/%)
DEVTOOLS := $(DEVTOOL_SRC:tools/%.c=$(BUILD)/tools/%)
MANPAGES := $(wildcard man/man1/*.1)
# Every unit test program is linked with tests/unit/case_filter.c, which wraps
# cmocka's group runner so that MLF_TEST_CASE runs only some cases
# (tests/run unit PROGRAM CASE); no test's main() has to know.
UNIT_MAIN := $(BUILD)/obj/tests/unit/case_filter.o
UNIT_LDFLAGS = -Wl,--wrap=_cmocka_run_group_tests

.PHONY: all test unit e2e asan asan-tests check fuzz fuzz-harnesses fuzz-smoke install uninstall clean bootstrap demo bench need-libtorch
# Keep object files of tests and tools between runs (make deletes intermediates).
.SECONDARY:
all: $(BUILD)/libmlf.a $(PROGS) $(DEVTOOLS) $(TORCH_ALL)
ifeq ($(LIBTORCH),)
	@echo "warning: libtorch not found (run scripts/bootstrap or set LIBTORCH=<dir>);" \
	      "built everything that does not need it" >&2
endif

need-libtorch:
ifeq ($(LIBTORCH),)
	@echo "error: libtorch not found: run scripts/bootstrap, or set LIBTORCH=<dir> to an unzipped" \
	      "libtorch or a torch wheel's package folder" >&2; exit 1
else
	@test -f $(LIBTORCH)/lib/libtorch_cpu.so || \
	{ echo "error: LIBTORCH=$(LIBTORCH) has no lib/libtorch_cpu.so" >&2; exit 1; }
endif

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# Tests find their fixtures and examples relative to the source tree
# (scripts/gpu-bundle sets TEST_SOURCE_DIR=. for a tree that moves).
TEST_SOURCE_DIR ?= $(CURDIR)
$(BUILD)/obj/tests/%.o: ALL_CPPFLAGS += -DSOURCE_DIR=\"$(TEST_SOURCE_DIR)\"

# The fused batch norm + SiLU kernels rely on the compiler vectorising them
# (the first two flags change no result: no errno from libm, no FP traps
# assumed), on it never fusing a multiply-add the source does not write (it
# did so in vector loops but not in their scalar iterations, which made the
# results depend on buffer addresses), and
# on at::parallel_for, which with libtorch's OpenMP backend is inline code that
# runs on one thread unless compiled with -fopenmp (as PyTorch's own extensions
# are).  Its libgomp is libtorch's: -lgomp names the soname libtorch_cpu loads.
$(BUILD)/obj/lib/torch/shim_bn_silu.o: TORCH_CXXFLAGS += -O3 -fno-math-errno -fno-trapping-math -fopenmp -ffp-contract=off

$(BUILD)/obj/lib/torch/%.o: lib/torch/%.cpp
	@mkdir -p $(dir $@)
	$(CXX) -Iinclude -Ilib $(TORCH_CXXFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/gen/pyfunc_loader.c: lib/retrain/pyfunc_loader.py
	@mkdir -p $(dir $@)
	{ echo '/* made by the Makefile from $< */'; \
	  echo 'extern const char mlf_pyfunc_loader[];'; echo 'const char mlf_pyfunc_loader[] ='; \
	  sed 's/\\/\\\\/g; s/"/\\"/g; s/^/"/; s/$$/\\n"/' $<; echo ';'; } >$@.tmp && mv $@.tmp $@

$(PYFUNC_OBJ): $(BUILD)/gen/pyfunc_loader.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libmlf.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libmlf_torch.a: $(TORCH_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/torch/%.o $(UNIT_MAIN) $(BUILD)/libmlf_torch.a $(BUILD)/libmlf.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $(UNIT_LDFLAGS) -o $@ $< $(UNIT_MAIN) $(BUILD)/libmlf_torch.a $(BUILD)/libmlf.a $(LIBS) $(TORCH_LIBS) -lcmocka

$(BUILD)/tools/%: $(BUILD)/obj/tools/torch/%.o $(BUILD)/libmlf_torch.a $(BUILD)/libmlf.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libmlf_torch.a $(BUILD)/libmlf.a $(LIBS) $(TORCH_LIBS)

# The one program that trains (retrain-run) links libtorch; the others never do.
$(BUILD)/bin/%: $(BUILD)/obj/cmd/torch/%.o $(BUILD)/libmlf_torch.a $(BUILD)/libmlf.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libmlf_torch.a $(BUILD)/libmlf.a $(LIBS) $(TORCH_LIBS)

$(BUILD)/bin/mlf-serve: LIBS += $(MHD_LIBS)
$(BUILD)/obj/lib/serve/serve_http.o: ALL_CPPFLAGS += $(MHD_CFLAGS)

$(BUILD)/bin/%: $(BUILD)/obj/cmd/%.o $(BUILD)/libmlf.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libmlf.a $(LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(UNIT_MAIN) $(BUILD)/libmlf.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $(UNIT_LDFLAGS) -o $@ $< $(UNIT_MAIN) $(BUILD)/libmlf.a $(LIBS) -lcmocka

# test_fuzz_regressions replays the inputs that once crashed a fuzz harness through it
# (tests/fuzz/regressions/NAME/): the harnesses are compiled in again, by the normal
# compiler, each with its entry point renamed fuzz_replay_NAME.
FUZZ_NAMES := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%)
FUZZ_REPLAY_OBJ := $(FUZZ_NAMES:%=$(BUILD)/obj/tests/fuzz-replay/%.o)
$(BUILD)/obj/tests/fuzz-replay/%.o: tests/fuzz/fuzz_%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -DLLVMFuzzerTestOneInput=fuzz_replay_$* -MMD -MP -c $< -o $@
$(BUILD)/obj/tests/unit/test_fuzz_regressions.o: ALL_CPPFLAGS += -D'FUZZ_HARNESSES=$(foreach n,$(FUZZ_NAMES),X($(n)))'
$(BUILD)/tests/test_fuzz_regressions: $(BUILD)/obj/tests/unit/test_fuzz_regressions.o $(FUZZ_REPLAY_OBJ) \
				     $(UNIT_MAIN) $(BUILD)/libmlf.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $(UNIT_LDFLAGS) -o $@ $(filter %.o,$^) $(BUILD)/libmlf.a $(LIBS) -lcmocka

# Developer tools (not installed): the synthetic data generator.
$(BUILD)/tools/%: $(BUILD)/obj/tools/%.o $(BUILD)/libmlf.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libmlf.a $(LIBS)

$(BUILD)/tests/tools/%: $(BUILD)/obj/tests/tools/%.o $(BUILD)/libmlf.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libmlf.a $(LIBS)

test: need-libtorch all $(UNITS) $(TORCH_UNITS) $(TOOLS)
	BUILD=$(BUILD) tests/run

# Without libtorch (none found, or LIBTORCH=) this builds libmlf.a and the unit tests
# of tests/unit/ only, and runs those.
unit: $(if $(LIBTORCH),need-libtorch) $(BUILD)/libmlf.a $(UNITS) $(if $(LIBTORCH),$(TORCH_UNITS))
	BUILD=$(BUILD) tests/run $(if $(LIBTORCH),,--no-torch) unit

e2e: all $(TOOLS)
	BUILD=$(BUILD) tests/run e2e

# make asan: everything built with AddressSanitizer + UBSan into $(ASAN_BUILD) (the
# shim and our model and training code too; libtorch itself is not instrumented),
# then every unit test (the torch ones take about 20 s under ASan) and the
# end-to-end tests that do not train (tests/run --no-training): about 5 minutes
# from an empty folder on a 2-core machine.  The scripts that train are left out:
# under ASan they take over twice as long (t720: 56 s, not 24 s), several minutes
# more, mostly spent inside libtorch, which ASan does not see.
# Without libtorch: no torch side, and tests/run --no-torch.
ASAN_BUILD ?= $(BUILD)-asan
asan:
	$(MAKE) BUILD=$(ASAN_BUILD) CFLAGS="$(SANITIZE)" CXXFLAGS="$(SANITIZE)" \
		LDFLAGS="-fsanitize=address,undefined" asan-tests

asan-tests: $(if $(LIBTORCH),need-libtorch) $(BUILD)/libmlf.a $(PROGS) $(DEVTOOLS) $(TORCH_ALL) \
	    $(UNITS) $(if $(LIBTORCH),$(TORCH_UNITS)) $(TOOLS)
	BUILD=$(BUILD) tests/run $(if $(LIBTORCH),--no-training,--no-torch)

SANITIZE = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# make fuzz: the libFuzzer harnesses (tests/fuzz/fuzz_*.c, one per parser of outside
# input) over libmlf.a built with clang, ASan and UBSan into $(FUZZ_BUILD); scripts/fuzz
# runs them.  make fuzz-smoke: each for a few seconds from its seeds (CI).
FUZZ_BUILD ?= $(BUILD)-fuzz
FUZZ_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
fuzz:
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=clang CFLAGS="$(FUZZ_FLAGS) -fsanitize=fuzzer-no-link" \
		LDFLAGS="-fsanitize=fuzzer,address,undefined" LIBTORCH= fuzz-harnesses

fuzz-harnesses: $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)

$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/libmlf.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libmlf.a $(LIBS)

fuzz-smoke: fuzz
	FUZZ_BUILD=$(FUZZ_BUILD) BUILD=$(BUILD) FUZZ_SEED=1 scripts/fuzz 5


check:
	$(MAKE) test
	$(MAKE) asan
	$(MAKE) fuzz-smoke

bootstrap:
	scripts/bootstrap

demo: all
	scripts/demo

bench: all
	scripts/bench-validate

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(PROGS) $(if $(LIBTORCH),$(TORCH_PROGS)) $(DESTDIR)$(PREFIX)/bin/
	$(if $(MANPAGES),install -m 644 $(MANPAGES) $(DESTDIR)$(PREFIX)/share/man/man1/)

uninstall:
	rm -f $(PROGS:$(BUILD)/bin/%=$(DESTDIR)$(PREFIX)/bin/%) $(TORCH_PROGS:$(BUILD)/bin/%=$(DESTDIR)$(PREFIX)/bin/%) \
	      $(MANPAGES:man/man1/%=$(DESTDIR)$(PREFIX)/share/man/man1/%)

clean:
	rm -rf build build-*

-include $(LIB_OBJ:.o=.d) $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/obj/tests/fuzz/%.d) $(FUZZ_REPLAY_OBJ:.o=.d) $(UNIT_MAIN:.o=.d) $(CMD_SRC:cmd/%.c=$(BUILD)/obj/cmd/%.d) $(UNIT_SRC:tests/unit/%.c=$(BUILD)/obj/tests/unit/%.d) \
	$(TOOL_SRC:tests/tools/%.c=$(BUILD)/obj/tests/tools/%.d) $(DEVTOOL_SRC:tools/%.c=$(BUILD)/obj/tools/%.d) \
	$(TORCH_LIB_OBJ:.o=.d) $(TORCH_UNIT_SRC:tests/unit/torch/%.c=$(BUILD)/obj/tests/unit/torch/%.d) \
	$(TORCH_TOOL_SRC:tools/torch/%.c=$(BUILD)/obj/tools/torch/%.d) \
	$(TORCH_CMD_SRC:cmd/torch/%.c=$(BUILD)/obj/cmd/torch/%.d)
