# xdp-tutorial (Rust): build, test and walk through the lessons.
#
#   sudo make demo     a test environment, an XDP program on it, traffic; cleaned up
#   sudo make test     every test, the privileged ones included
#   make help          all targets
#
# As root (CI, containers), run them without sudo: this Makefile never calls sudo.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

LOADER := target/debug/xdp-loader
VMLINUX_H ?= vmlinux/vmlinux.h
DEB_PACKAGES := clang llvm libelf-dev zlib1g-dev pkg-config make iproute2 bpftool \
                iputils-ping tcpdump ethtool

# Test environments used by the walk-through targets.
DEMO_ENV ?= xdpdemo
BASIC01_ENV ?= basic01
BASIC02_ENV ?= basic02
BASIC03_ENV ?= basic03
BASIC04_ENV ?= basic04

# --- Finding cargo ----------------------------------------------------------
# `sudo` resets PATH and HOME, which hides a rustup installed for the user who
# ran sudo. Then use that user's toolchain, and build as that user (runuser,
# not sudo), so target/ stays theirs; only running tests/programs is root's.
ifneq ($(filter-out root,$(SUDO_USER)),)
SUDO_HOME := $(shell getent passwd '$(SUDO_USER)' | cut -d: -f6)
endif
ifndef CARGO
CARGO := $(or $(shell command -v cargo 2>/dev/null),$(wildcard $(HOME)/.cargo/bin/cargo))
endif
ifeq ($(CARGO),)
ifneq ($(SUDO_HOME),)
CARGO := $(wildcard $(SUDO_HOME)/.cargo/bin/cargo)
ifneq ($(CARGO),)
export RUSTUP_HOME ?= $(SUDO_HOME)/.rustup
export CARGO_HOME ?= $(SUDO_HOME)/.cargo
BUILD_AS := $(if $(shell command -v runuser 2>/dev/null),runuser -u $(SUDO_USER) --)
endif
endif
endif

# --- Recipe helpers ----------------------------------------------------------
# The goal the user typed, for messages ("sudo make test"); sub-makes inherit it.
GOAL = $(or $(MAKECMDGOALS),$@)
SUBMAKE = $(MAKE) --no-print-directory GOAL='$(GOAL)'

# First line of every recipe that needs root.
define need_root
@if [ "$$(id -u)" -ne 0 ]; then echo "make $(GOAL): needs root (BPF, XDP and network namespaces): run it as root, e.g. sudo make $(GOAL)" >&2; exit 1; fi
endef

# Shell functions for the walk-throughs: `step` prints a heading, `run`
# prints the command and runs it, `expect_fail CODE CMD...` runs a command
# that must fail with exit code CODE.
# The directory of $(LOADER) goes first on PATH, so the commands read as a
# student types them.
WALK := export PATH="$(abspath $(dir $(LOADER))):$$PATH"; \
	step() { printf '\n=== %s\n' "$$*"; }; \
	run() { printf '$$ %s\n' "$$*"; "$$@"; }; \
	expect_fail() { local want=$$1 rc=0; shift; printf '$$ %s\n' "$$*"; "$$@" || rc=$$?; \
		if [ $$rc -ne $$want ]; then echo "UNEXPECTED: exit code $$rc, expected $$want" >&2; return 1; fi; \
		echo "(exit code $$rc: failed, as expected)"; }

# Runs on exit (success, failure or Ctrl-C): removes the environment $(1).
cleanup_trap = trap 'rc=$$?; trap - EXIT; xdp-loader testenv teardown --name $(1) >/dev/null 2>&1 || true; if [ $$rc -ne 0 ]; then echo "make $@: FAILED (exit $$rc); test environment $(1) removed" >&2; fi; exit $$rc' EXIT; trap 'exit 130' INT TERM

.PHONY: help deps cargo-check build test lint vmlinux objdump demo basic01 basic02 basic03 basic04 clean

help:
	@echo "xdp-tutorial (Rust): targets"
	@echo ""
	@echo "  make demo      [root] test environment + xdp_pass, ping, status, then xdp_drop: ping fails; cleaned up"
	@echo "  make test      [root] install deps, build, run all tests (privileged ones too)"
	@echo "  make basic01   [root] lesson basic01 step by step (load xdp_pass, status, ping, unload)"
	@echo "  make basic02   [root] lesson basic02 step by step (pick programs by name, --force, modes)"
	@echo "  make basic03   [root] lesson basic03 step by step (a map counts packets; read it with stats)"
	@echo "  make basic04   [root] lesson basic04 step by step (pinned maps: reload keeps counters, stats follows)"
	@echo "  make deps      install the missing Debian packages (root only if something is missing)"
	@echo "  make build     cargo build --locked  ->  $(LOADER)"
	@echo "  make lint      cargo fmt --check; cargo clippy -D warnings"
	@echo "  make objdump   disassemble the built BPF objects (llvm-objdump)"
	@echo "  make vmlinux   regenerate $(VMLINUX_H) from this kernel's BTF"
	@echo "  make clean     cargo clean"
	@echo ""
	@echo "[root]: run as root (sudo make demo); where sudo is missing, as root: make demo"

cargo-check:
	@if [ -z "$(CARGO)" ]; then echo "make $(GOAL): cargo not found: Rust is needed; install it with rustup (https://rustup.rs), then run make again" >&2; exit 1; fi

deps: cargo-check
	@if ! command -v dpkg-query >/dev/null; then \
		echo "make deps: not a Debian system: install these (or equivalents) yourself: $(DEB_PACKAGES)" >&2; exit 0; \
	fi; \
	missing=""; \
	for pkg in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}' "$$pkg" 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$pkg"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages are installed"; exit 0; fi; \
	if [ "$$(id -u)" -ne 0 ]; then echo "make $(GOAL): missing packages:$$missing; installing them needs root: run as root, e.g. sudo make $(GOAL)" >&2; exit 1; fi; \
	echo "deps: installing$$missing"; \
	apt-get update; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing

build: cargo-check
	$(BUILD_AS) $(CARGO) build --locked

test:
	$(need_root)
	@$(SUBMAKE) deps
	$(BUILD_AS) $(CARGO) build --locked
	$(if $(BUILD_AS),$(BUILD_AS) $(CARGO) test --locked --no-run)
	$(CARGO) test --locked

lint: cargo-check
	$(BUILD_AS) $(CARGO) fmt --check
	$(BUILD_AS) $(CARGO) clippy --all-targets --locked -- -D warnings

vmlinux:
	@test -r /sys/kernel/btf/vmlinux || { echo "make vmlinux: /sys/kernel/btf/vmlinux is missing: this kernel has no BTF (CONFIG_DEBUG_INFO_BTF)" >&2; exit 1; }
	@command -v bpftool >/dev/null || { echo "make vmlinux: bpftool not found: make deps" >&2; exit 1; }
	bpftool btf dump file /sys/kernel/btf/vmlinux format c > $(VMLINUX_H).tmp
	mv $(VMLINUX_H).tmp $(VMLINUX_H)
	@echo "wrote $(VMLINUX_H) ($$(wc -l < $(VMLINUX_H)) lines) from kernel $$(uname -r)"

# build.rs writes the objects to target/debug/build/xdp-tutorial-<hash>/out/;
# after source changes several such directories exist: use the newest.
# -S asks for source lines, which show up only if the object keeps DWARF.
objdump: build
	@out=$$(ls -dt target/debug/build/xdp-tutorial-*/out 2>/dev/null | head -n 1); \
	objs=$$(ls "$$out"/*.bpf.o 2>/dev/null || true); \
	if [ -z "$$objs" ]; then echo "make objdump: no BPF objects under target/debug/build/xdp-tutorial-*/out" >&2; exit 1; fi; \
	objdump=$$(command -v llvm-objdump || compgen -c llvm-objdump- | sort -V | tail -n 1 || true); \
	if [ -z "$$objdump" ]; then echo "make objdump: llvm-objdump not found: make deps (package llvm)" >&2; exit 1; fi; \
	for obj in $$objs; do \
		echo "=== $$obj"; \
		$$objdump -S --no-show-raw-insn "$$obj"; \
	done; \
	echo ""; \
	echo "No C source lines above: libbpf-cargo links the objects with libbpf's linker, which drops DWARF (BTF stays)."; \
	echo "For a loaded program, the BTF line info gives them: bpftool prog dump xlated id ID linum"

demo:
	$(need_root)
	@$(SUBMAKE) deps build
	@$(WALK); $(call cleanup_trap,$(DEMO_ENV)); \
	xdp-loader testenv teardown --name $(DEMO_ENV) >/dev/null 2>&1 || true; \
	step "1. A test environment: namespace $(DEMO_ENV) with veth0, joined by a veth pair to interface $(DEMO_ENV) here"; \
	run xdp-loader testenv setup --name $(DEMO_ENV); \
	step "2. Attach the built-in program xdp_pass_func (returns XDP_PASS) to $(DEMO_ENV), native mode"; \
	run xdp-loader load $(DEMO_ENV) xdp_prog -n xdp_pass_func; \
	step "3. Traffic: ping from inside the namespace; XDP_PASS lets it through"; \
	run xdp-loader testenv ping --name $(DEMO_ENV) -c 2; \
	step "4. What is attached where"; \
	run xdp-loader status $(DEMO_ENV); \
	step "5. Replace it (--force) with xdp_drop_func, which returns XDP_DROP"; \
	run xdp-loader load -F $(DEMO_ENV) xdp_prog -n xdp_drop_func; \
	step "6. Ping again: every packet is dropped before the network stack sees it"; \
	printf '$$ %s\n' "xdp-loader testenv ping --name $(DEMO_ENV) -c 2"; \
	if xdp-loader testenv ping --name $(DEMO_ENV) -c 2; then \
		echo "make demo: FAILED: ping got through although xdp_drop_func is attached" >&2; exit 1; \
	fi; \
	echo "ping dropped by XDP, as expected"; \
	step "7. Detach the program"; \
	run xdp-loader unload $(DEMO_ENV); \
	step "8. Remove the test environment"; \
	run xdp-loader testenv teardown --name $(DEMO_ENV); \
	printf '\nDemo done. Next: make basic01, make basic02 (and README.md).\n'

basic01:
	$(need_root)
	@$(SUBMAKE) deps build
	@$(WALK); $(call cleanup_trap,$(BASIC01_ENV)); \
	xdp-loader testenv teardown --name $(BASIC01_ENV) >/dev/null 2>&1 || true; \
	step "basic01, step 1: a test environment (the interface $(BASIC01_ENV) out here, veth0 inside the namespace)"; \
	run xdp-loader testenv setup --name $(BASIC01_ENV); \
	step "step 2: load the lesson's program (built-in xdp_pass: xdp_prog_simple returns XDP_PASS) in native mode"; \
	run xdp-loader load $(BASIC01_ENV) xdp_pass; \
	step "step 3: see it attached, here and through iproute2 and bpftool"; \
	run xdp-loader status $(BASIC01_ENV); \
	run ip link show dev $(BASIC01_ENV); \
	run bpftool net show dev $(BASIC01_ENV); \
	step "step 4: traffic still flows: XDP_PASS hands every packet to the stack"; \
	run xdp-loader testenv ping --name $(BASIC01_ENV) -c 2; \
	step "step 5: unload"; \
	run xdp-loader unload $(BASIC01_ENV); \
	run xdp-loader status $(BASIC01_ENV); \
	step "step 6: tear the environment down"; \
	run xdp-loader testenv teardown --name $(BASIC01_ENV); \
	printf '\nbasic01 done.\n'

basic02:
	$(need_root)
	@$(SUBMAKE) deps build
	@$(WALK); $(call cleanup_trap,$(BASIC02_ENV)); \
	xdp-loader testenv teardown --name $(BASIC02_ENV) >/dev/null 2>&1 || true; \
	step "basic02, step 1: a test environment"; \
	run xdp-loader testenv setup --name $(BASIC02_ENV); \
	step "step 2: one object, three programs: without -n the first XDP program (xdp_pass_func) is picked"; \
	run xdp-loader list; \
	run xdp-loader load $(BASIC02_ENV) xdp_prog; \
	run xdp-loader status $(BASIC02_ENV); \
	step "step 3: loading again without --force is refused (exit 30), with a hint"; \
	expect_fail 30 xdp-loader load $(BASIC02_ENV) xdp_prog -n xdp_drop_func; \
	step "step 4: --force replaces it with xdp_drop_func (picked by name with -n): ping now fails"; \
	run xdp-loader load -F $(BASIC02_ENV) xdp_prog -n xdp_drop_func; \
	expect_fail 1 xdp-loader testenv ping --name $(BASIC02_ENV) -c 2; \
	step "step 5: xdp_abort_func returns XDP_ABORTED: dropped too, and the xdp:xdp_exception tracepoint fires"; \
	run xdp-loader load -F $(BASIC02_ENV) xdp_prog -n xdp_abort_func; \
	expect_fail 1 xdp-loader testenv ping --name $(BASIC02_ENV) -c 2; \
	step "step 6: -m skb (generic XDP) with --force: the native program is taken off first (cross-mode fallback)"; \
	run xdp-loader load -F -m skb $(BASIC02_ENV) xdp_prog -n xdp_pass_func; \
	run xdp-loader status $(BASIC02_ENV); \
	run xdp-loader testenv ping --name $(BASIC02_ENV) -c 2; \
	step "step 7: unload"; \
	run xdp-loader unload $(BASIC02_ENV); \
	step "step 8: tear the environment down"; \
	run xdp-loader testenv teardown --name $(BASIC02_ENV); \
	printf '\nbasic02 done.\n'

basic03:
	$(need_root)
	@$(SUBMAKE) deps build
	@$(WALK); $(call cleanup_trap,$(BASIC03_ENV)); \
	xdp-loader testenv teardown --name $(BASIC03_ENV) >/dev/null 2>&1 || true; \
	step "basic03, step 1: a test environment"; \
	run xdp-loader testenv setup --name $(BASIC03_ENV); \
	step "step 2: load xdp_stats1: it counts every packet in xdp_stats_map, pinned at /sys/fs/bpf/$(BASIC03_ENV)/"; \
	run xdp-loader load $(BASIC03_ENV) xdp_stats1; \
	run bpftool map show pinned /sys/fs/bpf/$(BASIC03_ENV)/xdp_stats_map; \
	step "step 3: 5 pings from the namespace, then one sample: XDP_PASS counts the echo requests"; \
	run xdp-loader testenv ping --name $(BASIC03_ENV) -c 5; \
	run xdp-loader stats $(BASIC03_ENV) --count 1; \
	step "step 4: the same numbers as JSON, for scripts"; \
	run xdp-loader stats $(BASIC03_ENV) --count 1 --json; \
	step "step 5: unload (the map pin goes too) and tear down"; \
	run xdp-loader unload $(BASIC03_ENV); \
	run xdp-loader testenv teardown --name $(BASIC03_ENV); \
	printf '\nbasic03 done.\n'

basic04:
	$(need_root)
	@$(SUBMAKE) deps build
	@$(WALK); $(call cleanup_trap,$(BASIC04_ENV)); \
	xdp-loader testenv teardown --name $(BASIC04_ENV) >/dev/null 2>&1 || true; \
	step "basic04, step 1: a test environment, and xdp_pass_func (it counts its verdict) loaded"; \
	run xdp-loader testenv setup --name $(BASIC04_ENV); \
	run xdp-loader load $(BASIC04_ENV) xdp_prog -n xdp_pass_func; \
	step "step 2: stats runs as its own process, reading the pinned map every 2 s (rows only: --quiet)"; \
	printf '$$ %s\n' "xdp-loader stats $(BASIC04_ENV) --interval 2 --quiet &"; \
	xdp-loader stats $(BASIC04_ENV) --interval 2 --quiet & stats=$$!; \
	run xdp-loader testenv ping --name $(BASIC04_ENV) -c 3; \
	step "step 3: reload with --force: the pinned map is reused, so the counters carry on"; \
	run xdp-loader load -F $(BASIC04_ENV) xdp_prog -n xdp_drop_func; \
	expect_fail 1 xdp-loader testenv ping --name $(BASIC04_ENV) -c 3; \
	sleep 2; run kill -TERM $$stats; wait $$stats; \
	step "step 4: unload --keep-maps keeps the pin; stats --pin-path reads the final counts"; \
	run xdp-loader unload --keep-maps $(BASIC04_ENV); \
	run xdp-loader stats --pin-path /sys/fs/bpf/$(BASIC04_ENV) --count 1; \
	step "step 5: remove the pin by hand and tear down"; \
	run rm /sys/fs/bpf/$(BASIC04_ENV)/xdp_stats_map; \
	run xdp-loader testenv teardown --name $(BASIC04_ENV); \
	printf '\nbasic04 done.\n'

clean: cargo-check
	$(BUILD_AS) $(CARGO) clean
