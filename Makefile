# SPDX-License-Identifier: MIT
# lanmesh — build, test and demo.  GNU make, g++ 12, C++20.
# Sources are found by wildcard: every src/<area>/*.cc goes into the library
# except src/cli/*.cc, which only the lanmesh tool (and the unit tests) link;
# src/lanmeshd.cc and src/lanmesh.cc are the two programs, tests/unit/*.cc the
# one GoogleTest binary.

PREFIX   ?= /usr/local
DESTDIR  ?=
CXX      ?= g++
PKGS     := libnl-route-3.0 openssl libcap libmnl
CXXFLAGS ?= -O2 -g
CXXFLAGS += -std=c++20 -Wall -Wextra -Werror -Wno-missing-field-initializers \
            -pthread -Isrc $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -pthread

ifeq ($(SANITIZE),1)
# g++ 12 under ASan warns falsely about std::regex internals (maybe-uninitialized).
CXXFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined \
            -Wno-maybe-uninitialized
LDFLAGS  += -fsanitize=address,undefined
BUILD    := build/asan
else ifeq ($(SANITIZE),thread)
# Data races between the control thread and the data-plane workers.
CXXFLAGS += -fsanitize=thread -fno-omit-frame-pointer -Wno-stringop-overflow  # g++ 12 false positive under TSan
LDFLAGS  += -fsanitize=thread
BUILD    := build/tsan
else ifeq ($(FUZZ),1)
# make fuzz: libFuzzer needs clang (tests/fuzz/README.md).  Every object gets
# the coverage instrumentation; only the targets link libFuzzer's main().
CXX      := clang++-14
CXXFLAGS += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=fuzzer,address,undefined
BUILD    := build/fuzz
else
BUILD    := build/release
endif
NPROC    := $(shell nproc 2>/dev/null || echo 2)
TSAN_BUILD := build/tsan

LIB_SRC  := $(filter-out src/cli/%,$(sort $(wildcard src/*/*.cc)))
LIB_OBJ  := $(LIB_SRC:%.cc=$(BUILD)/%.o)
CLI_SRC  := $(sort $(wildcard src/cli/*.cc))
CLI_OBJ  := $(CLI_SRC:%.cc=$(BUILD)/%.o)
TEST_SRC := $(sort $(wildcard tests/unit/*.cc))
TEST_OBJ := $(TEST_SRC:%.cc=$(BUILD)/%.o)
# Fuzz targets, one per tests/fuzz/*.cc.  Built with clang and libFuzzer
# (FUZZ=1, build/fuzz/TARGET) for `make fuzz`; built with g++ and our corpus
# runner for `make check` and `make check-asan` (build/release/fuzz/TARGET,
# build/asan/fuzz/TARGET), which runs each seed corpus once.
FUZZ_MAIN_SRC := tests/fuzz/corpus_main.cc
FUZZ_SRC := $(filter-out $(FUZZ_MAIN_SRC),$(sort $(wildcard tests/fuzz/*.cc)))
FUZZ_OBJ := $(FUZZ_SRC:%.cc=$(BUILD)/%.o) $(FUZZ_MAIN_SRC:%.cc=$(BUILD)/%.o)
ifeq ($(FUZZ),1)
FUZZ_BIN := $(BUILD)
FUZZ_MAIN :=
else
FUZZ_BIN := $(BUILD)/fuzz
FUZZ_MAIN := $(FUZZ_MAIN_SRC:%.cc=$(BUILD)/%.o)
endif
FUZZ_BINS := $(patsubst tests/fuzz/%.cc,$(FUZZ_BIN)/%,$(FUZZ_SRC))
# What the targets link: the library and the tool's grammar (the rest of the
# tool is not fuzzed, and clang 14 cannot compile json_value.h's recursive
# vector of pairs).  Under libFuzzer only the objects the fuzzed parsers need
# are built, instrumented, rather than the whole library.
FUZZ_LINK := $(BUILD)/src/cli/grammar.o $(BUILD)/src/cli/match.o
ifeq ($(FUZZ),1)
FUZZ_LINK += $(addprefix $(BUILD)/src/,common/addr.o common/enums.o common/log.o common/might_block.o common/names.o \
               config/config.o \
               control/frame.o control/messages.o crypto/aead.o data/sa.o esp/esp.o esp/replay.o \
               config/topology.o registry/http.o common/http_url.o common/printable.o)
else
FUZZ_LINK += $(BUILD)/liblanmesh.a
endif
DEPS     := $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(BUILD)/src/lanmeshd.d $(BUILD)/src/lanmesh.d \
            $(FUZZ_OBJ:.o=.d) $(BUILD)/tests/fuzz/seeds/make_seeds.d
NPROC    := $(shell nproc 2>/dev/null || echo 2)

# The version: NEWS's newest entry, plus the git revision in a checkout.  Only
# version.o sees it, rebuilt when the stamp's text changes.
NEWS_VERSION := $(shell sed -n '1s/^lanmesh \([0-9][0-9.]*\).*/\1/p' NEWS)
GIT_REV      := $(shell git rev-parse --short HEAD 2>/dev/null)
VERSION      ?= $(NEWS_VERSION)$(if $(GIT_REV),+g$(GIT_REV))

all: $(BUILD)/lanmeshd $(BUILD)/lanmesh lanmeshd lanmesh

# Convenience links at the top so the tests and the demo find the programs.
lanmeshd lanmesh: %: $(BUILD)/%
	$(Q)ln -sf $< $@

# Quiet build lines, kernel style; V=1 shows the whole commands.
ifeq ($(V),1)
Q :=
else
Q := @
endif
say = $(if $(Q),printf '  %-7s %s\n' $(1) $(2);)

$(BUILD)/%.o: %.cc
	@mkdir -p $(dir $@)
	$(Q)$(call say,CXX,$<) $(CXX) $(CPPFLAGS) $(CXXFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/version.stamp: FORCE
	@mkdir -p $(@D); echo '$(VERSION)' | cmp -s - $@ || echo '$(VERSION)' > $@
$(BUILD)/src/common/version.o: $(BUILD)/version.stamp
$(BUILD)/src/common/version.o: CXXFLAGS += -DLANMESH_VERSION='"$(VERSION)"'
FORCE:

$(BUILD)/liblanmesh.a: $(LIB_OBJ)
	$(Q)$(call say,AR,$@) rm -f $@ && ar rcs $@ $^

$(BUILD)/lanmeshd: $(BUILD)/src/lanmeshd.o $(BUILD)/liblanmesh.a
	$(Q)$(call say,LINK,$@) $(CXX) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/lanmesh: $(BUILD)/src/lanmesh.o $(CLI_OBJ) $(BUILD)/liblanmesh.a
	$(Q)$(call say,LINK,$@) $(CXX) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/unit-tests: $(TEST_OBJ) $(CLI_OBJ) $(BUILD)/liblanmesh.a
	$(Q)$(call say,LINK,$@) $(CXX) $(LDFLAGS) $^ $(LDLIBS) -lgtest -lgtest_main -o $@

unit-tests: $(BUILD)/unit-tests

$(FUZZ_BINS): $(FUZZ_BIN)/%: $(BUILD)/tests/fuzz/%.o $(FUZZ_MAIN) $(FUZZ_LINK)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) $^ $(LDLIBS) -o $@

fuzz-targets: $(FUZZ_BINS)

# Regenerates the seeds made by the project's own encoders (tests/fuzz/seeds).
$(BUILD)/make-seeds: $(BUILD)/tests/fuzz/seeds/make_seeds.o $(BUILD)/liblanmesh.a
	$(CXX) $(LDFLAGS) $^ $(LDLIBS) -o $@

fuzz-seeds: $(BUILD)/make-seeds
	$(BUILD)/make-seeds tests/fuzz/corpus

# Debian packages for building, testing and the demo.  Idempotent: apt runs
# only when something is missing.
DEB_PKGS := g++ make pkg-config libssl-dev libnl-3-dev libnl-route-3-dev \
            libmnl-dev libcap-dev libgtest-dev iproute2 nftables iperf3 \
            tshark tcpdump openssl easy-rsa jq conntrack iputils-ping \
            python3 python3-cryptography procps groff-base systemd mandoc curl
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$(echo $$missing | sed 's/^/ /')"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	fi

# The release build, its unit tests, each fuzz target once over its seed
# corpus, then every netns integration test.
check: deps
	@$(MAKE) --no-print-directory -j$(NPROC) all unit-tests fuzz-targets
	@tests/run-all $(BUILD)

# The unit tests and the fuzz corpora once more under ASan+UBSan in
# build/asan (its own objects: the two builds never share a file).  A second
# full build takes about 7 minutes on two cores, so it is its own target and
# .ci/run calls it after make check.
# The netns scripts that wait minutes on purpose (a server away for 30 s, a
# NAT renumbered, restarts): tests/run-all --long.  .ci/run calls it.
check-long: deps
	@$(MAKE) --no-print-directory -j$(NPROC) all
	@tests/run-all --long $(BUILD)

check-asan: deps
	@$(MAKE) --no-print-directory -j$(NPROC) SANITIZE=1 unit-tests fuzz-targets
	@tests/run-all --no-netns build/asan

# The netns scripts that drive the workers hardest, with the daemon built
# under ThreadSanitizer (build/tsan, about 8 minutes on two cores): a data
# race between the control thread and the workers fails them.
check-tsan: deps
	@$(MAKE) --no-print-directory -j$(NPROC) SANITIZE=thread $(TSAN_BUILD)/lanmeshd $(TSAN_BUILD)/lanmesh
	@tests/run-tsan $(TSAN_BUILD)

demo: deps
	@$(MAKE) --no-print-directory -j$(NPROC) all
	@tests/demo.sh

# Install directories, each overridable (wireguard-tools style).  The unit and
# the sysusers.d/tmpfiles.d snippets go below PREFIX: systemd looks in both
# /usr/lib and /usr/local/lib.  iproute2 6.1 reads only /etc/iproute2.
BINDIR         ?= $(PREFIX)/bin
SBINDIR        ?= $(PREFIX)/sbin
MANDIR         ?= $(PREFIX)/share/man
DOCDIR         ?= $(PREFIX)/share/doc/lanmesh
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR    ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR    ?= $(PREFIX)/lib/tmpfiles.d
SYSCONFDIR     ?= /etc
BASHCOMPDIR    ?= $(PREFIX)/share/bash-completion/completions

MAN5     := man/lanmesh.conf.5
MAN8     := man/lanmeshd.8 man/lanmesh.8
EXAMPLES := $(sort $(shell find examples -type f 2>/dev/null))

# Every file install writes, as a path below $(DESTDIR); uninstall removes
# exactly these, then the doc directory, which is ours alone.
INSTALLED := $(SBINDIR)/lanmeshd $(BINDIR)/lanmesh \
             $(SYSTEMDUNITDIR)/lanmeshd@.service \
             $(SYSUSERSDIR)/lanmesh.conf $(TMPFILESDIR)/lanmesh.conf \
             $(SYSCONFDIR)/iproute2/rt_protos.d/lanmesh.conf \
             $(MAN5:man/%=$(MANDIR)/man5/%) $(MAN8:man/%=$(MANDIR)/man8/%) \
             $(DOCDIR)/LICENSE $(DOCDIR)/NEWS \
             $(BASHCOMPDIR)/lanmesh $(BASHCOMPDIR)/lanmeshd \
             $(EXAMPLES:examples/%=$(DOCDIR)/examples/%)

# make bench: lanmesh, OpenVPN and wireguard-go side by side in namespaces, and
# the server's admission rate (bench/README.md).  Its own packages, installed
# here only, the way deps does it; BENCH_SECONDS etc. pass through the environment.
BENCH_PKGS := openvpn wireguard-go wireguard-tools iperf3 linux-perf python3-cryptography
bench: deps all
	@missing=$$(for p in $(BENCH_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "bench: installing$$(echo $$missing | sed 's/^/ /')"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	fi
	@bench/run.sh

# make fuzz: every fuzz target under libFuzzer for FUZZ_SECONDS each
# (tests/fuzz/README.md).  clang and its fuzzer runtime are installed here
# only, the way deps does it.  New corpus entries go to FUZZ_WORK, not the tree.
FUZZ_PKGS    := clang-14 libclang-rt-14-dev
FUZZ_SECONDS ?= 60
FUZZ_WORK    ?= build/fuzz-work
fuzz: deps
	@missing=$$(for p in $(FUZZ_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "fuzz: installing$$(echo $$missing | sed 's/^/ /')"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	fi
	@$(MAKE) --no-print-directory -j$(NPROC) FUZZ=1 fuzz-targets
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_WORK=$(FUZZ_WORK) tests/fuzz/run.sh build/fuzz

# make check-package: the Debian package (debian/), built with
# dpkg-buildpackage in a copy of the tree under build/package (its clean step
# would otherwise remove build/), then checked by tests/package/check-package.sh:
# lintian, the files, the version, and install/purge into an empty root.
# make check-systemd: that package installed in a Debian 12 container booted
# with systemd (tests/package/check-systemd.sh).  Each installs its own tools.
PKG_TOOLS     := build-essential dpkg-dev debhelper lintian
SYSTEMD_TOOLS := debootstrap systemd-container
PKG_DIR       := build/package
DEB_VERSION   := $(shell head -1 debian/changelog 2>/dev/null | tr -d '()' | cut -d' ' -f2)
DEB_ARCH      := $(shell dpkg --print-architecture 2>/dev/null)
DEB           := $(PKG_DIR)/lanmesh_$(DEB_VERSION)_$(DEB_ARCH).deb
PKG_INPUTS    := Makefile NEWS LICENSE debian src man systemd examples
PKG_FILES      = $(shell find $(PKG_INPUTS) -type f 2>/dev/null)

package-tools:
	@missing=$$(for p in $(PKG_TOOLS) $(EXTRA_TOOLS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing$$(echo $$missing | sed 's/^/ /')"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	fi

package: $(DEB)
$(DEB): $(PKG_FILES)
	@$(MAKE) --no-print-directory deps package-tools
	rm -rf $(PKG_DIR) && mkdir -p $(PKG_DIR)/src
	tar -cf - $(PKG_INPUTS) | tar -xf - -C $(PKG_DIR)/src
	cd $(PKG_DIR)/src && \
	    timeout 1800 dpkg-buildpackage -us -uc -b -j$$(nproc) >../build.log 2>&1 || { tail -40 ../build.log; exit 1; }
	rm -rf $(PKG_DIR)/src
	@ls -l $@

check-package: package
	@tests/package/check-package.sh $(DEB)

check-systemd: package
	@$(MAKE) --no-print-directory package-tools EXTRA_TOOLS="$(SYSTEMD_TOOLS)"
	@tests/package/check-systemd.sh $(DEB)

install: all
	install -D -m 0755 $(BUILD)/lanmeshd $(DESTDIR)$(SBINDIR)/lanmeshd
	install -D -m 0755 $(BUILD)/lanmesh $(DESTDIR)$(BINDIR)/lanmesh
	install -d -m 0755 $(DESTDIR)$(SYSTEMDUNITDIR)
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@BINDIR@|$(BINDIR)|g' \
	    systemd/lanmeshd@.service.in > $(DESTDIR)$(SYSTEMDUNITDIR)/lanmeshd@.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/lanmeshd@.service
	install -D -m 0644 systemd/lanmesh.sysusers $(DESTDIR)$(SYSUSERSDIR)/lanmesh.conf
	install -D -m 0644 systemd/lanmesh.tmpfiles $(DESTDIR)$(TMPFILESDIR)/lanmesh.conf
	install -D -m 0644 systemd/lanmesh.rt_protos $(DESTDIR)$(SYSCONFDIR)/iproute2/rt_protos.d/lanmesh.conf
	install -D -m 0644 -t $(DESTDIR)$(MANDIR)/man5 $(MAN5)
	install -D -m 0644 -t $(DESTDIR)$(MANDIR)/man8 $(MAN8)
	install -D -m 0644 -t $(DESTDIR)$(DOCDIR) LICENSE NEWS
	install -D -m 0644 src/completion/lanmesh.bash $(DESTDIR)$(BASHCOMPDIR)/lanmesh
	install -D -m 0644 src/completion/lanmesh.bash $(DESTDIR)$(BASHCOMPDIR)/lanmeshd
	for f in $(EXAMPLES:examples/%=%); do \
	    install -D -m 0644 examples/$$f $(DESTDIR)$(DOCDIR)/examples/$$f || exit 1; \
	done
ifeq ($(DESTDIR),)
	@echo "install: now run systemd-sysusers, systemd-tmpfiles --create lanmesh.conf" \
	     "and systemctl daemon-reload"
endif

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	if [ -d $(DESTDIR)$(DOCDIR) ]; then \
	    find $(DESTDIR)$(DOCDIR) -depth -type d -empty -delete; \
	fi

clean:
	rm -rf build lanmeshd lanmesh

.PHONY: all deps check check-long check-asan check-tsan demo lanmeshd lanmesh bench fuzz fuzz-targets fuzz-seeds install uninstall clean unit-tests \
        package package-tools check-package check-systemd
-include $(DEPS)
