# lanmesh — build, test and demo.  GNU make, g++ 12, C++20.
# Sources are found by wildcard: every src/<area>/*.cc goes into the library,
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
CXXFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
BUILD    := build/asan
else
BUILD    := build/release
endif

LIB_SRC  := $(sort $(wildcard src/*/*.cc))
LIB_OBJ  := $(LIB_SRC:%.cc=$(BUILD)/%.o)
TEST_SRC := $(sort $(wildcard tests/unit/*.cc))
TEST_OBJ := $(TEST_SRC:%.cc=$(BUILD)/%.o)
DEPS     := $(LIB_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(BUILD)/src/lanmeshd.d $(BUILD)/src/lanmesh.d

all: $(BUILD)/lanmeshd $(BUILD)/lanmesh lanmeshd lanmesh

# Convenience links at the top so the tests and the demo find the programs.
lanmeshd lanmesh: %: $(BUILD)/%
	ln -sf $< $@

$(BUILD)/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/liblanmesh.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/lanmeshd: $(BUILD)/src/lanmeshd.o $(BUILD)/liblanmesh.a
	$(CXX) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/lanmesh: $(BUILD)/src/lanmesh.o $(BUILD)/liblanmesh.a
	$(CXX) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/unit-tests: $(TEST_OBJ) $(BUILD)/liblanmesh.a
	$(CXX) $(LDFLAGS) $^ $(LDLIBS) -lgtest -lgtest_main -o $@

unit-tests: $(BUILD)/unit-tests

# Debian packages for building, testing and the demo.  Idempotent: apt runs
# only when something is missing.
DEB_PKGS := g++ make pkg-config libssl-dev libnl-3-dev libnl-route-3-dev \
            libmnl-dev libcap-dev libgtest-dev iproute2 nftables iperf3 \
            tshark tcpdump openssl easy-rsa jq conntrack iputils-ping \
            python3 procps groff-base systemd
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$(echo $$missing | sed 's/^/ /')"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	fi

check: deps
	@$(MAKE) --no-print-directory all unit-tests
	@tests/run-all $(BUILD)

demo: deps
	@$(MAKE) --no-print-directory all
	@tests/demo.sh

install: all
	install -D -m 0755 $(BUILD)/lanmeshd $(DESTDIR)$(PREFIX)/sbin/lanmeshd
	install -D -m 0755 $(BUILD)/lanmesh $(DESTDIR)$(PREFIX)/bin/lanmesh
	install -D -m 0644 man/lanmesh.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/lanmesh.conf.5

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/sbin/lanmeshd $(DESTDIR)$(PREFIX)/bin/lanmesh \
	      $(DESTDIR)$(PREFIX)/share/man/man5/lanmesh.conf.5

clean:
	rm -rf build lanmeshd lanmesh

.PHONY: all deps check demo install uninstall clean unit-tests
-include $(DEPS)
