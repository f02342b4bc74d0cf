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
DEB_PACKAGES := clang llvm libelf-dev zlib1g-dev pkg-config make iproute2 bpftool time \
                iputils-ping tcpdump ethtool xdp-tools
# `make bench` also counts syscalls per stats sample with strace.
BENCH_DEB_PACKAGES := strace
# The benchmark measures the release build: an unoptimized build would time
# the compiler's debug settings, not the tool. BENCH_QUICK=1: a quick check.
BENCH_LOADER := target/release/xdp-loader

# Test environments used by the walk-through targets. ENV=name names them
# all (make packet01 ENV=alice), so two students on one machine do not
# collide; lessons with several environments add suffixes to it.
DEMO_ENV ?= $(or $(ENV),xdpdemo)
BASIC01_ENV ?= $(or $(ENV),basic01)
BASIC02_ENV ?= $(or $(ENV),basic02)
BASIC03_ENV ?= $(or $(ENV),basic03)
BASIC04_ENV ?= $(or $(ENV),basic04)
PACKET01_ENV ?= $(or $(ENV),packet01)
PACKET02_ENV ?= $(or $(ENV),packet02)
PACKET03_ENV ?= $(or $(ENV),packet03)
TRACING01_ENV ?= $(or $(ENV),tracing01)
TRACING02_ENV ?= $(or $(ENV),tracing02)
TRACING03_ENV ?= $(or $(ENV),tracing03)
TRACING04_ENV ?= $(or $(ENV),tracing04)
MAPS_ENV ?= $(or $(ENV),maps)
# tracing02 redirects between two environments.
T02_L := $(TRACING02_ENV)l
T02_R := $(TRACING02_ENV)r
TRACING04_PCAP ?= /tmp/xdp-tutorial-$(TRACING04_ENV).pcap
# A new link's IPv6 stack sends a few reports of its own in its first
# seconds; the tracing walk-throughs wait for them so only the pings show.
SETTLE := sleep 3

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
	quoted() { local arg out=""; for arg; do case $$arg in ""|*[!A-Za-z0-9_./:=@%+,-]*) out="$$out '$${arg//\'/\'\\\'\'}'";; *) out="$$out $$arg";; esac; done; echo "$${out\# }"; }; \
	step() { printf '\n=== %s\n' "$$*"; }; \
	run() { printf '$$ %s\n' "$$(quoted "$$@")"; "$$@"; }; \
	expect_fail() { local want=$$1 rc=0; shift; printf '$$ %s\n' "$$(quoted "$$@")"; "$$@" || rc=$$?; \
		if [ $$rc -ne $$want ]; then echo "UNEXPECTED: exit code $$rc, expected $$want" >&2; return 1; fi; \
		echo "(exit code $$rc: failed, as expected)"; }

# More for the packet lessons. `addr6 ENV`/`addr4 ENV`: the outside end's
# address; `inside6 ENV`/`inside4 ENV`: veth0's, inside. `capture ARGS`
# starts tcpdump ARGS in the background (output saved, shown by `captured`
# when it has its -c packets or after 10 s). `has_vlan`: can this kernel make
# 802.1Q VLAN devices (testenv setup --vlan)?
PACKET_WALK := $(WALK); \
	addr_of() { ip $$1 -o addr show dev "$$2" scope global | awk '{ sub("/.*", "", $$4); print $$4; exit }'; }; \
	addr6() { addr_of -6 "$$1"; }; addr4() { addr_of -4 "$$1"; }; \
	inside6() { addr_of "-n $$1 -6" veth0; }; inside4() { addr_of "-n $$1 -4" veth0; }; \
	capture() { cap_out=$$(mktemp); cap_err=$$(mktemp); printf '$$ %s &\n' "tcpdump $$(quoted "$$@")"; \
		timeout 10 tcpdump -l "$$@" >"$$cap_out" 2>"$$cap_err" & cap_pid=$$!; \
		for _ in $$(seq 50); do grep -q 'listening on' "$$cap_err" && break; sleep 0.1; done; }; \
	captured() { wait $$cap_pid || true; echo "(tcpdump saw:)"; cat "$$cap_out"; rm -f "$$cap_out" "$$cap_err"; }; \
	has_vlan() { [ -d /proc/net/vlan ] || { modprobe -q 8021q 2>/dev/null && [ -d /proc/net/vlan ]; }; }

# What the walk-throughs assert (README: "Walk-throughs that check").
# `replies WANT CMD...` runs a ping command and fails unless exactly WANT
# replies came back. `verdicts ENV ACTION WANT` fails unless the program on
# ENV counted WANT packets under ACTION in its xdp_stats_map (WANT+ : at
# least WANT, where the link's own IPv6 reports may add to the count).
CHECK_WALK := \
	replies() { local want=$$1 out got; shift; printf '$$ %s\n' "$$*"; out=$$("$$@" 2>&1) || true; echo "$$out"; \
		got=$$(sed -n 's/.*, \([0-9]*\) received.*/\1/p' <<<"$$out"); got=$${got:-0}; \
		if [ "$$got" != "$$want" ]; then echo "UNEXPECTED: $$got replies, expected $$want" >&2; return 1; fi; \
		echo "($$got replies, as the lesson says)"; }; \
	verdicts() { local env=$$1 action=$$2 want=$$3 got; \
		got=$$(xdp-loader stats "$$env" --count 1 --json | sed -n "s/.*\"$$action\":{\"packets\":\([0-9]*\).*/\1/p"); got=$${got:-0}; \
		case $$want in *+) [ "$$got" -ge "$${want%+}" ];; *) [ "$$got" -eq "$$want" ];; esac || \
			{ echo "UNEXPECTED: the program on $$env counted $$got $$action, expected $$want" >&2; return 1; }; \
		echo "(xdp_stats_map on $$env: $$action $$got, as the lesson says: $$want)"; }

# A walk-through's own environments: leftovers of an earlier run are
# removed first, and the trap removes them again however the run ends.
fresh_env = $(call cleanup_trap,$(1)); xdp-loader testenv teardown --name $(1) >/dev/null 2>&1 || true
fresh_envs = $(call cleanup_trap_all,$(1)); for env in $(1); do xdp-loader testenv teardown --name $$env >/dev/null 2>&1 || true; done

# Runs on exit (success, failure or Ctrl-C): removes the environment $(1).
cleanup_trap = trap 'rc=$$?; trap - EXIT; xdp-loader testenv teardown --name $(1) >/dev/null 2>&1 || true; if [ $$rc -ne 0 ]; then echo "make $@: FAILED (exit $$rc); test environment $(1) removed" >&2; fi; exit $$rc' EXIT; trap 'exit 130' INT TERM
# The same for several environments ($(1): a list of names).
cleanup_trap_all = trap 'rc=$$?; trap - EXIT; for env in $(1); do xdp-loader testenv teardown --name $$env >/dev/null 2>&1 || true; done; if [ $$rc -ne 0 ]; then echo "make $@: FAILED (exit $$rc); test environments removed: $(1)" >&2; fi; exit $$rc' EXIT; trap 'exit 130' INT TERM

.PHONY: help deps cargo-check build install uninstall test lint examples cfg vmlinux objdump vm test-kernels demo basic01 basic02 basic03 basic04 \
	packet01 packet02 packet03 tracing01 tracing02 tracing03 tracing04 maps bench bench-quick clean

help:
	@echo "xdp-tutorial (Rust): targets"
	@echo ""
	@echo "  make demo      [root] test environment + xdp_pass, ping, status, then xdp_drop: ping fails; cleaned up"
	@echo "  make test      [root] install deps, build, run all tests (privileged ones too)"
	@echo "  make basic01   [root] lesson basic01 step by step (load xdp_pass, status, ping, unload)"
	@echo "  make basic02   [root] lesson basic02 step by step (pick programs by name, --force, modes)"
	@echo "  make basic03   [root] lesson basic03 step by step (a map counts packets; read it with stats)"
	@echo "  make basic04   [root] lesson basic04 step by step (pinned maps: reload keeps counters, stats follows)"
	@echo "  make packet01  [root] lesson packet01 step by step (parsing: even echo sequence numbers dropped)"
	@echo "  make packet02  [root] lesson packet02 step by step (rewriting: UDP port - 1, VLAN push/pop)"
	@echo "  make packet03  [root] lesson packet03 step by step (XDP_TX echo replies, redirect, router)"
	@echo "  make tracing01 [root] lesson tracing01 step by step (the abort program; monitor counts xdp:xdp_exception)"
	@echo "  make tracing02 [root] lesson tracing02 step by step (monitor every xdp tracepoint: redirects, failed ones)"
	@echo "  make tracing03 [root] lesson tracing03 step by step (bpf_printk from XDP, read with xdp-loader trace)"
	@echo "  make tracing04 [root] lesson tracing04 step by step (capture packets to a pcap file, read it with tcpdump)"
	@echo "  make maps      [root] lesson maps step by step (map dump/lookup/update/delete by BTF types, update flags, map-in-map)"
	@echo "  make bench     [root] per-packet cost, live veth traffic, load/unload vs ip and bpftool, stats readout: one table"
	@echo "  make vm KERNEL=6.1 CMD='...'  [root] run CMD on Debian's kernel 5.10, 6.1 or 6.12 in a QEMU guest (virtme-ng)"
	@echo "  make test-kernels [root] the guest suite on each kernel of KERNELS=\"$(KERNELS)\"; one table of results"
	@echo "  make bench-quick  [root] the same in seconds: a check, not a measurement (= make bench BENCH_QUICK=1)"
	@echo "  make deps      install the missing Debian packages (root only if something is missing)"
	@echo "  make build     cargo build --locked  ->  $(LOADER)"
	@echo "  make lint      cargo fmt --check; cargo clippy -D warnings; cargo build --examples"
	@echo "  make examples  build the user-space examples (examples/*.rs) and list them"
	@echo "  make example-NAME ARGS='...'  [root] build and run one, e.g. make example-basic03_stats ARGS='eth0'"
	@echo "  make cfg ID=N  [root] draw loaded program N's control-flow graph (bpftool ... visual | dot) into $(CFG_DIR)/"
	@echo "  make objdump   the lesson objects (lessons/*/) with their C source lines; LESSON=packet01 for one"
	@echo "  make install   [root] the release build -> $(PREFIX)/sbin/xdp-loader (make uninstall removes it)"
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
	$(BUILD_AS) $(CARGO) build --locked --bins --examples
	$(if $(BUILD_AS),$(BUILD_AS) $(CARGO) test --locked --no-run)
	$(CARGO) test --locked

# README, Performance. Not a test: nothing here has a time limit.
bench:
	$(need_root)
	@$(SUBMAKE) deps DEB_PACKAGES='$(DEB_PACKAGES) $(BENCH_DEB_PACKAGES)'
	$(BUILD_AS) $(CARGO) build --release --locked
	@# The student-loop row's reference: the same change to a built-in, through cargo
	@# (debug, as make build). Skipped by the quick check: it takes seconds.
	@$(if $(BENCH_QUICK),,start=$$(date +%s.%N); touch src/bpf/xdp_parser.bpf.c; \
		$(BUILD_AS) $(CARGO) build --locked --quiet; \
		export XDP_BENCH_CARGO_BUILD_S=$$(awk "BEGIN { print $$(date +%s.%N) - $$start }");) \
	$(BENCH_LOADER) bench suite $(if $(BENCH_QUICK),--quick)

bench-quick:
	@$(SUBMAKE) bench BENCH_QUICK=1

lint: cargo-check
	$(BUILD_AS) $(CARGO) fmt --check
	$(BUILD_AS) $(CARGO) clippy --all-targets --locked -- -D warnings
	$(BUILD_AS) $(CARGO) build --locked --examples

# The user-space examples (README, "User space in Rust"): small libbpf-rs
# skeleton programs, one per lesson. `cargo run --example NAME -- ARGS` works too.
EXAMPLES := $(basename $(notdir $(wildcard examples/*.rs)))

examples: cargo-check
	$(BUILD_AS) $(CARGO) build --locked --examples
	@for e in $(EXAMPLES); do printf '  target/debug/examples/%-22s %s\n' "$$e" "$$(sed -n '1s|^//! *||p' examples/$$e.rs)"; done

# "Look inside the program" (lesson basic01): a loaded program's control-flow
# graph, as bpftool dumps it for graphviz (`visual`), drawn by dot.
CFG_DEB_PACKAGES := graphviz
CFG_FORMAT ?= svg
CFG_DIR ?= target/cfg

cfg:
	$(need_root)
	@if [ -z "$(ID)" ]; then echo "make cfg: which program? make cfg ID=N (xdp-loader status shows the ids; FORMAT: CFG_FORMAT=png)" >&2; exit 2; fi
	@$(SUBMAKE) deps DEB_PACKAGES='$(DEB_PACKAGES) $(CFG_DEB_PACKAGES)'
	@mkdir -p $(CFG_DIR)
	bpftool prog dump xlated id $(ID) visual > $(CFG_DIR)/prog-$(ID).dot
	dot -T$(CFG_FORMAT) $(CFG_DIR)/prog-$(ID).dot -o $(CFG_DIR)/prog-$(ID).$(CFG_FORMAT)
	@echo "$(CFG_DIR)/prog-$(ID).$(CFG_FORMAT): one box per basic block of the verified program, an arrow per jump"

example-%: cargo-check
	$(need_root)
	$(BUILD_AS) $(CARGO) build --locked --example $*
	target/debug/examples/$* $(ARGS)

# --- Other kernels (README, Testing) -----------------------------------------
# Debian's kernels, booted in QEMU guests by virtme-ng, with this machine's
# filesystem as their root. tests/kernels/ has the scripts; the kernel packages
# and virtme-ng are cached in ~/.cache/xdp-tutorial.
KERNEL ?= 6.1
KERNELS ?= 5.10 6.1 6.12

# The guest finds xdp-loader on PATH, as on the host.
vm: export VM_CMD = export PATH="$(abspath $(dir $(LOADER))):$$PATH"; $(CMD)
vm:
	$(need_root)
	@if [ -z "$(CMD)" ]; then echo "make vm: nothing to run: make vm KERNEL=6.1 CMD='xdp-loader features'" >&2; exit 2; fi
	@$(SUBMAKE) deps build
	@tests/kernels/vm '$(KERNEL)' bash -c "$$VM_CMD"

# The guest suite (tests/guest.rs) is built here and run in each guest: the
# guests share this filesystem, so nothing is compiled inside them.
test-kernels:
	$(need_root)
	@$(SUBMAKE) deps build
	@bin=$$($(BUILD_AS) $(CARGO) test --locked --no-run --test guest --message-format=json | \
		sed -n 's/.*"executable":"\([^"]*\/deps\/guest-[^"]*\)".*/\1/p' | tail -n 1); \
	[ -n "$$bin" ] || { echo "make $(GOAL): cargo built no guest test binary" >&2; exit 1; }; \
	tests/kernels/lane "$$bin" $(KERNELS)

vmlinux:
	@test -r /sys/kernel/btf/vmlinux || { echo "make vmlinux: /sys/kernel/btf/vmlinux is missing: this kernel has no BTF (CONFIG_DEBUG_INFO_BTF)" >&2; exit 1; }
	@command -v bpftool >/dev/null || { echo "make vmlinux: bpftool not found: make deps" >&2; exit 1; }
	bpftool btf dump file /sys/kernel/btf/vmlinux format c > $(VMLINUX_H).tmp
	mv $(VMLINUX_H).tmp $(VMLINUX_H)
	@echo "wrote $(VMLINUX_H) ($$(wc -l < $(VMLINUX_H)) lines) from kernel $$(uname -r)"

# The lesson objects, built from lessons/*/ by their Makefiles (clang -g:
# DWARF line info stays), disassembled with the C lines they came from.
# LESSON=packet01: only that one. (The built-ins under target/ have no
# source lines: libbpf-cargo's linker drops DWARF.)
LESSON_DIRS = $(if $(LESSON),lessons/$(LESSON),$(wildcard lessons/*/))
objdump: build
	@objdump=$$(command -v llvm-objdump || compgen -c llvm-objdump- | sort -V | tail -n 1 || true); \
	if [ -z "$$objdump" ]; then echo "make objdump: llvm-objdump not found: make deps (package llvm)" >&2; exit 1; fi; \
	for dir in $(LESSON_DIRS); do \
		[ -f "$$dir/Makefile" ] || { echo "make objdump: no lesson folder $$dir" >&2; exit 1; }; \
		$(MAKE) --no-print-directory -s -C "$$dir" >/dev/null; \
		for obj in "$$dir"/*.bpf.o; do \
			echo "=== $${obj#./}"; \
			$$objdump -S --no-show-raw-insn "$$obj"; \
		done; \
	done

# README, Quick start. The release build; /usr/local/sbin comes before
# /usr/sbin (Debian's xdp-tools) on root's PATH and in sudo's secure_path.
PREFIX ?= /usr/local
SBINDIR = $(DESTDIR)$(PREFIX)/sbin
install: cargo-check
	@if [ -z "$(DESTDIR)" ] && [ ! -w "$(PREFIX)/sbin" ] && [ "$$(id -u)" -ne 0 ]; then echo "make install: $(PREFIX)/sbin is not writable: run it as root, e.g. sudo make install" >&2; exit 1; fi
	$(BUILD_AS) $(CARGO) build --release --locked
	install -D -m 0755 target/release/xdp-loader $(SBINDIR)/xdp-loader
	@$(SBINDIR)/xdp-loader --version
	@if [ -x /usr/sbin/xdp-loader ] && [ -z "$(DESTDIR)" ]; then \
		echo "Note: /usr/sbin/xdp-loader (xdp-tools) is installed too; $(SBINDIR)/xdp-loader comes first on PATH. Run that one as /usr/sbin/xdp-loader."; \
	fi

uninstall:
	@if [ -x $(SBINDIR)/xdp-loader ] && ! $(SBINDIR)/xdp-loader --version 2>/dev/null | grep -q 'xdp-tutorial in Rust'; then \
		echo "make uninstall: $(SBINDIR)/xdp-loader is not this project's: left alone" >&2; exit 1; fi
	rm -f $(SBINDIR)/xdp-loader

demo:
	$(need_root)
	@$(SUBMAKE) deps build
	@$(WALK); $(call fresh_env,$(DEMO_ENV)); \
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
	@$(WALK); $(CHECK_WALK); $(call fresh_env,$(BASIC01_ENV)); \
	step "basic01, step 1: a test environment (the interface $(BASIC01_ENV) out here, veth0 inside the namespace)"; \
	run xdp-loader testenv setup --name $(BASIC01_ENV); \
	step "step 2: load the lesson's program (built-in xdp_pass: xdp_prog_simple returns XDP_PASS) in native mode"; \
	run xdp-loader load $(BASIC01_ENV) xdp_pass; \
	step "step 3: see it attached, here and through iproute2 and bpftool"; \
	run xdp-loader status $(BASIC01_ENV); \
	run ip link show dev $(BASIC01_ENV); \
	run bpftool net show dev $(BASIC01_ENV); \
	step "step 4: traffic still flows: XDP_PASS hands every packet to the stack"; \
	replies 2 xdp-loader testenv ping --name $(BASIC01_ENV) -c 2; \
	step "step 5: unload"; \
	run xdp-loader unload $(BASIC01_ENV); \
	run xdp-loader status $(BASIC01_ENV); \
	step "step 6: tear the environment down"; \
	run xdp-loader testenv teardown --name $(BASIC01_ENV); \
	printf '\nbasic01 done.\n'

basic02:
	$(need_root)
	@$(SUBMAKE) deps build
	@$(WALK); $(CHECK_WALK); $(call fresh_env,$(BASIC02_ENV)); \
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
	verdicts $(BASIC02_ENV) XDP_DROP 2+; verdicts $(BASIC02_ENV) XDP_ABORTED 2+; \
	step "step 6: -m skb (generic XDP) with --force: the native program is taken off first (cross-mode fallback)"; \
	run xdp-loader load -F -m skb $(BASIC02_ENV) xdp_prog -n xdp_pass_func; \
	run xdp-loader status $(BASIC02_ENV); \
	replies 2 xdp-loader testenv ping --name $(BASIC02_ENV) -c 2; \
	step "step 7: unload"; \
	run xdp-loader unload $(BASIC02_ENV); \
	step "step 8: grade the lesson's assignments (here on the built-in solution; yours: xdp-loader check basic02 FILE.o)"; \
	run xdp-loader check basic02; \
	step "step 9: tear the environment down"; \
	run xdp-loader testenv teardown --name $(BASIC02_ENV); \
	printf '\nbasic02 done.\n'

basic03:
	$(need_root)
	@$(SUBMAKE) deps build
	@$(WALK); $(CHECK_WALK); $(call fresh_env,$(BASIC03_ENV)); \
	step "basic03, step 1: a test environment"; \
	run xdp-loader testenv setup --name $(BASIC03_ENV); \
	step "step 2: load xdp_stats1: it counts every packet in xdp_stats_map, pinned at /sys/fs/bpf/$(BASIC03_ENV)/"; \
	run xdp-loader load $(BASIC03_ENV) xdp_stats1; \
	run bpftool map show pinned /sys/fs/bpf/$(BASIC03_ENV)/xdp_stats_map; \
	step "step 3: 5 pings from the namespace, then one sample: XDP_PASS counts the echo requests"; \
	replies 5 xdp-loader testenv ping --name $(BASIC03_ENV) -c 5; \
	run xdp-loader stats $(BASIC03_ENV) --count 1; \
	verdicts $(BASIC03_ENV) XDP_PASS 5+; \
	step "step 4: the same numbers as JSON, for scripts"; \
	run xdp-loader stats $(BASIC03_ENV) --count 1 --json; \
	step "step 5: unload (the map pin goes too) and tear down"; \
	run xdp-loader unload $(BASIC03_ENV); \
	run xdp-loader testenv teardown --name $(BASIC03_ENV); \
	step "step 6: grade the lesson's assignments (here on the built-in solution; yours: xdp-loader check basic03 FILE.o)"; \
	run xdp-loader check basic03; \
	printf '\nbasic03 done.\n'

basic04:
	$(need_root)
	@$(SUBMAKE) deps build
	@$(WALK); $(CHECK_WALK); $(call fresh_env,$(BASIC04_ENV)); \
	step "basic04, step 1: a test environment, and xdp_pass_func (it counts its verdict) loaded"; \
	run xdp-loader testenv setup --name $(BASIC04_ENV); \
	run xdp-loader load $(BASIC04_ENV) xdp_prog -n xdp_pass_func; \
	step "step 2: stats runs as its own process, reading the pinned map every 2 s (rows only: --quiet)"; \
	printf '$$ %s\n' "xdp-loader stats $(BASIC04_ENV) --interval 2 --quiet &"; \
	xdp-loader stats $(BASIC04_ENV) --interval 2 --quiet & stats=$$!; \
	replies 3 xdp-loader testenv ping --name $(BASIC04_ENV) -c 3; \
	step "step 3: reload with --force: the pinned map is reused, so the counters carry on"; \
	run xdp-loader load -F $(BASIC04_ENV) xdp_prog -n xdp_drop_func; \
	expect_fail 1 xdp-loader testenv ping --name $(BASIC04_ENV) -c 3; \
	sleep 2; run kill -TERM $$stats; wait $$stats; \
	step "step 4: unload --keep-maps keeps the pin; stats --pin-path reads the final counts"; \
	run xdp-loader unload --keep-maps $(BASIC04_ENV); \
	run xdp-loader stats --pin-path /sys/fs/bpf/$(BASIC04_ENV) --count 1; \
	echo "(the counters carried on through the reload: both programs' packets are in the one map)"; \
	got=$$(xdp-loader stats --pin-path /sys/fs/bpf/$(BASIC04_ENV) --count 1 --json); \
	for action in XDP_PASS XDP_DROP; do \
		n=$$(sed -n "s/.*\"$$action\":{\"packets\":\([0-9]*\).*/\1/p" <<<"$$got"); \
		[ "$${n:-0}" -ge 3 ] || { echo "UNEXPECTED: $$action counted $${n:-0}, expected at least 3" >&2; exit 1; }; \
	done; \
	step "step 5: remove the pin by hand and tear down"; \
	run rm /sys/fs/bpf/$(BASIC04_ENV)/xdp_stats_map; \
	run xdp-loader testenv teardown --name $(BASIC04_ENV); \
	printf '\nbasic04 done.\n'

packet01:
	$(need_root)
	@$(SUBMAKE) deps build
	@$(PACKET_WALK); $(CHECK_WALK); $(call fresh_envs,$(PACKET01_ENV) $(PACKET01_ENV)v); \
	step "packet01, step 1: a test environment with IPv6 and, with --legacy-ip, IPv4"; \
	run xdp-loader testenv setup --name $(PACKET01_ENV) --legacy-ip; \
	step "step 2: load xdp_parser: it parses Ethernet, up to two VLAN tags, IPv4/IPv6 and ICMP/ICMPv6, and drops echo requests with an even sequence number"; \
	run xdp-loader load $(PACKET01_ENV) xdp_parser; \
	step "step 3: 6 pings over IPv6: only icmp_seq 1, 3 and 5 are answered. tcpdump on $(PACKET01_ENV) runs after XDP: it sees only those 3 requests"; \
	capture -n -i $(PACKET01_ENV) -Q in -c 3 'icmp6 and ip6[40] == 128'; \
	replies 3 xdp-loader testenv ping --name $(PACKET01_ENV) -c 6; \
	captured; \
	step "step 4: the same over IPv4 (its header length varies: the parser reads it from ihl)"; \
	capture -n -i $(PACKET01_ENV) -Q in -c 3 'icmp[icmptype] == icmp-echo'; \
	replies 3 xdp-loader testenv ping --name $(PACKET01_ENV) --legacy-ip -c 6; \
	captured; \
	step "step 5: the verdicts as counted by the program: XDP_DROP 6 (3 + 3 even requests)"; \
	run xdp-loader stats $(PACKET01_ENV) --count 1; \
	verdicts $(PACKET01_ENV) XDP_DROP 6; \
	step "step 6: through a VLAN (testenv setup --vlan: 802.1Q devices on both ends)"; \
	if has_vlan; then \
		run xdp-loader testenv setup --name $(PACKET01_ENV)v --vlan; \
		run xdp-loader load $(PACKET01_ENV)v xdp_parser; \
		vlan_ip=$$(addr6 $(PACKET01_ENV)v.1); \
		replies 3 xdp-loader testenv exec --name $(PACKET01_ENV)v -- ping -c 6 -W 1 $$vlan_ip; \
		run xdp-loader stats $(PACKET01_ENV)v --count 1; \
		verdicts $(PACKET01_ENV)v XDP_DROP 3; \
		run xdp-loader testenv teardown --name $(PACKET01_ENV)v; \
	else \
		echo "skipped: this kernel has no 802.1Q VLAN support (CONFIG_VLAN_8021Q; modprobe 8021q fails), so testenv setup --vlan cannot work here."; \
		echo "testenv ping --vlan sends tagged echo requests from a raw socket instead (no 8021q needed); xdp-loader check packet01 below does the same."; \
		replies 3 xdp-loader testenv ping --name $(PACKET01_ENV) --vlan -c 6; \
	fi; \
	step "step 7: unload and tear down"; \
	run xdp-loader unload $(PACKET01_ENV); \
	run xdp-loader testenv teardown --name $(PACKET01_ENV); \
	step "step 8: grade the lesson's assignments on raw frames (VLAN ones too); yours: xdp-loader check packet01 FILE.o"; \
	run xdp-loader check packet01; \
	printf '\npacket01 done.\n'

packet02:
	$(need_root)
	@$(SUBMAKE) deps build
	@$(PACKET_WALK); $(CHECK_WALK); $(call fresh_envs,$(PACKET02_ENV) $(PACKET02_ENV)v); \
	step "packet02, step 1: a test environment"; \
	run xdp-loader testenv setup --name $(PACKET02_ENV); \
	outside=$$(addr6 $(PACKET02_ENV)); \
	step "step 2: load xdp_port_rewrite_func: UDP and TCP destination port minus 1, checksum updated"; \
	run xdp-loader load $(PACKET02_ENV) xdp_rewrite -n xdp_port_rewrite_func; \
	step "step 3: checksum offload off on veth0: datagrams leave with a complete checksum, which tcpdump and the receiving kernel check"; \
	run xdp-loader testenv exec --name $(PACKET02_ENV) -- ethtool -K veth0 tx off; \
	step "step 4: one UDP datagram to port 2001 (bash's /dev/udp). It arrives for port 2000 with a good checksum; nothing listens there, so the kernel answers 'port 2000 unreachable'"; \
	capture -n -vv -i $(PACKET02_ENV) -c 2 'udp or (icmp6 and ip6[40] == 1)'; \
	printf '$$ %s\n' "xdp-loader testenv exec --name $(PACKET02_ENV) -- bash -c 'echo hello > /dev/udp/$$outside/2001'"; \
	xdp-loader testenv exec --name $(PACKET02_ENV) -- bash -c "echo hello > /dev/udp/$$outside/2001"; \
	captured; \
	step "step 5: replace it with xdp_vlan_swap_func: it pushes VLAN 1 onto untagged frames and pops the outer tag of tagged ones"; \
	run xdp-loader load -F $(PACKET02_ENV) xdp_rewrite -n xdp_vlan_swap_func; \
	step "step 6: pings from inside arrive tagged with VLAN 1 (tcpdump -e shows the tag). $(PACKET02_ENV) has no VLAN 1 device, so the kernel drops them: no replies"; \
	capture -n -e -i $(PACKET02_ENV) -Q in -c 2 'vlan and icmp6 and ip6[40] == 128'; \
	expect_fail 1 xdp-loader testenv ping --name $(PACKET02_ENV) -c 2; \
	captured; \
	step "step 7: and the other way: pings sent on VLAN 1 inside (veth0.1, testenv setup --vlan) arrive without the tag"; \
	if has_vlan; then \
		run xdp-loader testenv setup --name $(PACKET02_ENV)v --vlan; \
		run xdp-loader load $(PACKET02_ENV)v xdp_rewrite -n xdp_vlan_swap_func; \
		vlan_ip=$$(addr6 $(PACKET02_ENV)v.1); \
		capture -n -e -i $(PACKET02_ENV)v -Q in -c 2 'icmp6 and ip6[40] == 128'; \
		run xdp-loader testenv exec --name $(PACKET02_ENV)v -- ping -c 2 -W 1 $$vlan_ip || true; \
		captured; \
		run xdp-loader testenv teardown --name $(PACKET02_ENV)v; \
	else \
		echo "skipped: this kernel has no 802.1Q VLAN support (CONFIG_VLAN_8021Q; modprobe 8021q fails), so testenv setup --vlan cannot work here."; \
		echo "tests/packets.rs sends tagged frames as raw frames instead, and sees the tags popped."; \
	fi; \
	step "step 8: unload and tear down"; \
	run xdp-loader unload $(PACKET02_ENV); \
	run xdp-loader testenv teardown --name $(PACKET02_ENV); \
	step "step 9: grade the lesson's assignments (rewritten ports and checksums, tags popped and pushed, byte by byte); yours: xdp-loader check packet02 FILE.o"; \
	run xdp-loader check packet02; \
	printf '\npacket02 done.\n'

P03_TX := $(PACKET03_ENV)
P03_L := $(PACKET03_ENV)-left
P03_R := $(PACKET03_ENV)-right
P03_A := $(PACKET03_ENV)-a
P03_B := $(PACKET03_ENV)-b

packet03:
	$(need_root)
	@$(SUBMAKE) deps build
	@$(PACKET_WALK); $(CHECK_WALK); $(call fresh_envs,$(P03_TX) $(P03_L) $(P03_R) $(P03_A) $(P03_B)); \
	step "packet03, part 1 (XDP_TX), step 1: a test environment; its namespace's kernel is told to ignore echo requests"; \
	run xdp-loader testenv setup --name $(P03_TX) --legacy-ip; \
	in6=$$(inside6 $(P03_TX)); in4=$$(inside4 $(P03_TX)); \
	run xdp-loader testenv exec --name $(P03_TX) -- sysctl -w net.ipv4.icmp_echo_ignore_all=1 net.ipv6.icmp.echo_ignore_all=1; \
	expect_fail 1 ping -6 -c 2 -W 1 $$in6; \
	step "step 2: xdp_icmp_echo_func on veth0 inside answers pings itself (XDP_TX); xdp_pass_func out here, because a veth delivers XDP_TX frames only to a peer that runs XDP"; \
	run xdp-loader load $(P03_TX) xdp_redirect -n xdp_pass_func; \
	run xdp-loader testenv exec --name $(P03_TX) -- xdp-loader load veth0 xdp_redirect -n xdp_icmp_echo_func; \
	step "step 3: pings from here to inside get replies again, over IPv6 and IPv4: XDP answers, not the kernel"; \
	replies 3 ping -6 -c 3 -W 1 $$in6; \
	replies 3 ping -4 -c 3 -W 1 $$in4; \
	step "step 4: without the program, silence again"; \
	run xdp-loader testenv exec --name $(P03_TX) -- xdp-loader unload veth0; \
	expect_fail 1 ping -6 -c 2 -W 1 $$in6; \
	run xdp-loader testenv teardown --name $(P03_TX); \
	step "part 2 (redirect), step 1: two environments; testenv redirect joins them with xdp_redirect_map_func on both outside ends"; \
	run xdp-loader testenv setup --name $(P03_L); \
	run xdp-loader testenv setup --name $(P03_R); \
	run xdp-loader testenv redirect $(P03_L) $(P03_R); \
	step "step 2: ping from the left namespace to the right one: the frames go from one outside end straight out of the other"; \
	replies 3 xdp-loader testenv exec --name $(P03_L) -- ping -6 -c 3 -W 1 $$(inside6 $(P03_R)); \
	run xdp-loader stats $(P03_L) --count 1; \
	verdicts $(P03_L) XDP_REDIRECT 3+; \
	run xdp-loader testenv teardown --name $(P03_L); \
	run xdp-loader testenv teardown --name $(P03_R); \
	step "part 3 (router), step 1: two environments; forwarding on for their outside ends only (these settings go with the interfaces)"; \
	run xdp-loader testenv setup --name $(P03_A) --legacy-ip; \
	run xdp-loader testenv setup --name $(P03_B) --legacy-ip; \
	b6=$$(inside6 $(P03_B)); b4=$$(inside4 $(P03_B)); \
	for env in $(P03_A) $(P03_B); do \
		run sysctl -w net.ipv6.conf.$$env.forwarding=1 net.ipv4.conf.$$env.forwarding=1; \
		run xdp-loader testenv exec --name $$env -- xdp-loader load veth0 xdp_redirect -n xdp_pass_func; \
	done; \
	if [ "$$(sysctl -n net.ipv6.conf.all.forwarding)" = 0 ]; then \
		echo "The kernel itself does not forward IPv6 here (net.ipv6.conf.all.forwarding=0):"; \
		expect_fail 1 xdp-loader testenv exec --name $(P03_A) -- ping -6 -c 2 -W 1 $$b6; \
	fi; \
	step "step 2: xdp_router_func on both outside ends: bpf_fib_lookup() finds the route and the neighbour's MAC, XDP lowers the TTL and redirects"; \
	run xdp-loader load $(P03_A) xdp_redirect -n xdp_router_func; \
	run xdp-loader load $(P03_B) xdp_redirect -n xdp_router_func; \
	step "step 3: ping from A's namespace to B's: the replies come with ttl=63, one hop"; \
	replies 3 xdp-loader testenv exec --name $(P03_A) -- ping -6 -c 3 -W 1 $$b6; \
	replies 3 xdp-loader testenv exec --name $(P03_A) -- ping -4 -c 3 -W 1 $$b4; \
	run xdp-loader stats $(P03_A) --count 1; \
	verdicts $(P03_A) XDP_REDIRECT 6+; \
	step "step 4: tear down"; \
	run xdp-loader testenv teardown --name $(P03_A); \
	run xdp-loader testenv teardown --name $(P03_B); \
	step "step 5: grade the lesson's assignments (echo replies, redirects, the router, each where it should arrive); yours: xdp-loader check packet03 FILE.o"; \
	run xdp-loader check packet03; \
	printf '\npacket03 done.\n'

tracing01:
	$(need_root)
	@$(SUBMAKE) deps build
	@$(WALK); $(CHECK_WALK); $(call fresh_env,$(TRACING01_ENV)); \
	step "tracing01, step 1: a test environment, and basic02's xdp_abort_func on it (XDP_ABORTED: drop, and fire xdp:xdp_exception)"; \
	run xdp-loader testenv setup --name $(TRACING01_ENV); $(SETTLE); \
	run xdp-loader load $(TRACING01_ENV) xdp_prog -n xdp_abort_func; \
	step "step 2: the monitor attaches a BPF program to each xdp tracepoint this kernel has; one sample after 4 s"; \
	printf '$$ %s\n' "xdp-loader monitor --interval 4 --count 1 &"; \
	xdp-loader monitor --interval 4 --count 1 & monitor=$$!; sleep 1; \
	step "step 3: 3 pings: each echo request is aborted, one xdp_exception each"; \
	expect_fail 1 xdp-loader testenv ping --name $(TRACING01_ENV) -c 3; \
	wait $$monitor; \
	verdicts $(TRACING01_ENV) XDP_ABORTED 3+; \
	step "step 4: unload and tear down (the monitor's programs went when it ended)"; \
	run xdp-loader unload $(TRACING01_ENV); \
	run xdp-loader testenv teardown --name $(TRACING01_ENV); \
	printf '\ntracing01 done.\n'

tracing02:
	$(need_root)
	@$(SUBMAKE) deps build
	@$(PACKET_WALK); $(call fresh_envs,$(T02_L) $(T02_R)); \
	step "tracing02, step 1: two environments joined by XDP redirects (packet03's testenv redirect)"; \
	run xdp-loader testenv setup --name $(T02_L); \
	run xdp-loader testenv setup --name $(T02_R); \
	xdp-loader testenv redirect $(T02_L) $(T02_R) >/dev/null; echo '$$ xdp-loader testenv redirect $(T02_L) $(T02_R) >/dev/null'; \
	right=$$(inside6 $(T02_R)); \
	step "step 2: monitor while pinging from left to right: xdp_redirect and xdp_devmap_xmit, both ways"; \
	printf '$$ %s\n' "xdp-loader monitor --interval 3 --count 1 &"; \
	xdp-loader monitor --interval 3 --count 1 & monitor=$$!; sleep 1; \
	run xdp-loader testenv exec --name $(T02_L) -- ping -6 -c 3 -i 0.3 -W 1 $$right; \
	wait $$monitor; \
	step "step 3: take XDP off veth0 on the right: a veth then refuses redirected frames; the monitor shows xdp_redirect_err and the errno"; \
	run xdp-loader testenv exec --name $(T02_R) -- xdp-loader unload veth0; \
	printf '$$ %s\n' "xdp-loader monitor --interval 3 --count 1 &"; \
	xdp-loader monitor --interval 3 --count 1 & monitor=$$!; sleep 1; \
	expect_fail 1 xdp-loader testenv exec --name $(T02_L) -- ping -6 -c 3 -i 0.3 -W 1 $$right; \
	wait $$monitor; \
	step "step 4: the same as JSON, for scripts (one object per sample)"; \
	printf '$$ %s\n' "xdp-loader monitor --interval 2 --count 1 --json &"; \
	xdp-loader monitor --interval 2 --count 1 --json 2>/dev/null & monitor=$$!; sleep 0.5; \
	expect_fail 1 xdp-loader testenv exec --name $(T02_L) -- ping -6 -c 1 -W 1 $$right; \
	wait $$monitor; \
	step "step 5: tear down"; \
	run xdp-loader testenv teardown --name $(T02_L); \
	run xdp-loader testenv teardown --name $(T02_R); \
	printf '\ntracing02 done.\n'

tracing03:
	$(need_root)
	@$(SUBMAKE) deps build
	@$(WALK); $(call fresh_env,$(TRACING03_ENV)); \
	step "tracing03, step 1: a test environment, and xdp_printk on it: one bpf_printk() per packet"; \
	run xdp-loader testenv setup --name $(TRACING03_ENV); $(SETTLE); \
	run xdp-loader load $(TRACING03_ENV) xdp_printk; \
	step "step 2: read the trace pipe (3 lines) while pinging: source MAC, destination MAC, ethertype"; \
	printf '$$ %s\n' "xdp-loader trace --count 3 &"; \
	xdp-loader trace --count 3 & trace=$$!; sleep 0.5; \
	run xdp-loader testenv ping --name $(TRACING03_ENV) -c 3; \
	wait $$trace; \
	step "step 3: the MACs, as ip shows them (inside: the source; outside: the destination)"; \
	run xdp-loader testenv exec --name $(TRACING03_ENV) -- ip -br link show dev veth0; \
	run ip -br link show dev $(TRACING03_ENV); \
	step "step 4: unload and tear down"; \
	run xdp-loader unload $(TRACING03_ENV); \
	run xdp-loader testenv teardown --name $(TRACING03_ENV); \
	printf '\ntracing03 done.\n'

tracing04:
	$(need_root)
	@$(SUBMAKE) deps build
	@$(WALK); $(call fresh_env,$(TRACING04_ENV)); \
	pcap=$(TRACING04_PCAP); \
	step "tracing04, step 1: a test environment"; \
	run xdp-loader testenv setup --name $(TRACING04_ENV); $(SETTLE); \
	step "step 2: capture 3 packets: the capture program copies each to user space (ring buffer from 5.18, else perf buffer), xdp-loader writes them to a pcap file"; \
	printf '$$ %s\n' "xdp-loader capture $(TRACING04_ENV) -w $$pcap --count 3 &"; \
	xdp-loader capture $(TRACING04_ENV) -w $$pcap --count 3 & capture=$$!; sleep 1; \
	run xdp-loader testenv ping --name $(TRACING04_ENV) -c 3; \
	wait $$capture; \
	step "step 3: tcpdump reads the file"; \
	run tcpdump -r $$pcap -nn -e; \
	step "step 4: nothing stays attached after a capture"; \
	run xdp-loader status $(TRACING04_ENV); \
	run xdp-loader testenv teardown --name $(TRACING04_ENV); \
	step "step 5: grade the lesson's assignment (samples read back from the perf buffer); yours: xdp-loader check tracing04 FILE.o"; \
	run xdp-loader check tracing04; \
	printf '\ntracing04 done. The capture stays in %s (tcpdump -r, wireshark).\n' "$$pcap"

maps:
	$(need_root)
	@$(SUBMAKE) deps build
	@$(WALK); $(call fresh_env,$(MAPS_ENV)); \
	step "maps, step 1: a test environment, and xdp_map_in_map on it: its maps, as the kernel has them"; \
	run xdp-loader testenv setup --name $(MAPS_ENV); $(SETTLE); \
	run xdp-loader load $(MAPS_ENV) xdp_map_in_map; \
	run xdp-loader map list $(MAPS_ENV); \
	step "step 2: 3 pings, then read the counters: a per-CPU map shows each CPU and the sum; BTF gives the field names"; \
	run xdp-loader testenv ping --name $(MAPS_ENV) -c 3; \
	run xdp-loader map lookup $(MAPS_ENV):xdp_stats_map 2; \
	run xdp-loader map lookup $(MAPS_ENV):proto_counts 58; \
	step "step 3: writing from user space, and the update flags: every key of an array exists, so noexist always fails"; \
	expect_fail 1 xdp-loader map update $(MAPS_ENV):xdp_stats_map 0 '{rx_packets: 0, rx_bytes: 0}' --flags noexist; \
	run xdp-loader map update $(MAPS_ENV):xdp_stats_map 0 '{rx_packets: 1, rx_bytes: 100}' --flags exist; \
	expect_fail 1 xdp-loader map delete $(MAPS_ENV):xdp_stats_map 0; \
	step "step 4: map-in-map: slot 0 of the array of maps 'counters' holds proto_counts; swap in a new, empty inner map"; \
	run xdp-loader map dump $(MAPS_ENV):counters; \
	run xdp-loader map new-inner $(MAPS_ENV):counters 0; \
	inner=$$(xdp-loader map lookup $(MAPS_ENV):counters 0 --json | sed 's/.*"map_id":\([0-9]*\).*/\1/'); \
	run xdp-loader testenv ping --name $(MAPS_ENV) -c 2; \
	step "step 5: the 2 new pings are in the new inner map; proto_counts (pinned, so it lives on) kept what it had"; \
	run xdp-loader map lookup id:$$inner 58; \
	run xdp-loader map lookup $(MAPS_ENV):proto_counts 58; \
	step "step 6: the hash of maps counts an interface once user space gives it an inner map (key: its ifindex)"; \
	ifindex=$$(cat /sys/class/net/$(MAPS_ENV)/ifindex); \
	run xdp-loader map new-inner $(MAPS_ENV):counters_by_ifindex $$ifindex --like $(MAPS_ENV):proto_counts; \
	run xdp-loader testenv ping --name $(MAPS_ENV) -c 2; \
	run xdp-loader map dump $(MAPS_ENV):counters_by_ifindex; \
	step "step 7: unload (the pins go too) and tear down"; \
	run xdp-loader unload $(MAPS_ENV); \
	run xdp-loader testenv teardown --name $(MAPS_ENV); \
	step "step 8: grade the lesson's assignments (counts read through the outer maps); yours: xdp-loader check maps FILE.o"; \
	run xdp-loader check maps; \
	printf '\nmaps done.\n'

clean: cargo-check
	$(BUILD_AS) $(CARGO) clean
