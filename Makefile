# mlf: build libmlf.a and the programs; run the tests.
#
#   make                 build everything into $(BUILD)
#   make test            unit tests, then end-to-end tests against a real MLflow
#   make asan            the same tests under AddressSanitizer + UBSan
#   make install PREFIX=/usr/local
#   make bootstrap       install system packages and the pinned MLflow (scripts/bootstrap)

PREFIX ?= /usr/local
BUILD ?= build
CC ?= cc
CFLAGS ?= -O2 -g
WARNINGS = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	   -Wformat=2 -Wno-format-nonliteral -Wundef -Wvla
PKGS = jansson yaml-0.1 libcurl sqlite3 libcrypto libpng libjpeg libzip
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CPPFLAGS = -Iinclude -Ilib -D_GNU_SOURCE $(PKG_CFLAGS) $(CPPFLAGS)
ALL_CFLAGS = -std=c11 $(WARNINGS) $(CFLAGS)
LIBS = $(PKG_LIBS) -lm -lpthread

LIB_SRC := $(sort $(wildcard lib/*.c lib/tracking/*.c))
CMD_SRC := $(sort $(wildcard cmd/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
TOOL_SRC := $(sort $(wildcard tests/tools/*.c))
DEVTOOL_SRC := $(sort $(wildcard tools/*.c))

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
PROGS := $(CMD_SRC:cmd/%.c=$(BUILD)/bin/%)
UNITS := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOLS := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tests/tools/%)
DEVTOOLS := $(DEVTOOL_SRC:tools/%.c=$(BUILD)/tools/%)
MANPAGES := $(wildcard man/man1/*.1)

.PHONY: all test unit e2e asan install uninstall clean bootstrap demo bench
# Keep object files of tests and tools between runs (make deletes intermediates).
.SECONDARY:
all: $(BUILD)/libmlf.a $(PROGS) $(DEVTOOLS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# Tests find their fixtures and examples relative to the source tree.
$(BUILD)/obj/tests/%.o: ALL_CPPFLAGS += -DSOURCE_DIR=\"$(CURDIR)\"

$(BUILD)/libmlf.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/bin/%: $(BUILD)/obj/cmd/%.o $(BUILD)/libmlf.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libmlf.a $(LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/libmlf.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libmlf.a $(LIBS) -lcmocka

# Developer tools (not installed): the synthetic data generator.
$(BUILD)/tools/%: $(BUILD)/obj/tools/%.o $(BUILD)/libmlf.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libmlf.a $(LIBS)

$(BUILD)/tests/tools/%: $(BUILD)/obj/tests/tools/%.o $(BUILD)/libmlf.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libmlf.a $(LIBS)

test: all $(UNITS) $(TOOLS)
	BUILD=$(BUILD) tests/run

unit: all $(UNITS)
	BUILD=$(BUILD) tests/run unit

e2e: all $(TOOLS)
	BUILD=$(BUILD) tests/run e2e

asan:
	$(MAKE) BUILD=build-asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
		LDFLAGS="-fsanitize=address,undefined" test

bootstrap:
	scripts/bootstrap

demo: all
	scripts/demo

bench: all
	scripts/bench-validate

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(PROGS) $(DESTDIR)$(PREFIX)/bin/
	$(if $(MANPAGES),install -m 644 $(MANPAGES) $(DESTDIR)$(PREFIX)/share/man/man1/)

uninstall:
	rm -f $(PROGS:$(BUILD)/bin/%=$(DESTDIR)$(PREFIX)/bin/%) \
	      $(MANPAGES:man/man1/%=$(DESTDIR)$(PREFIX)/share/man/man1/%)

clean:
	rm -rf build build-*

-include $(LIB_OBJ:.o=.d) $(CMD_SRC:cmd/%.c=$(BUILD)/obj/cmd/%.d) $(UNIT_SRC:tests/unit/%.c=$(BUILD)/obj/tests/unit/%.d) \
	$(TOOL_SRC:tests/tools/%.c=$(BUILD)/obj/tests/tools/%.d) $(DEVTOOL_SRC:tools/%.c=$(BUILD)/obj/tools/%.d)
