# Shared by every lessons/<lesson>/Makefile, which sets LESSON and PROGS
# (the starter programs, without .bpf.c) and includes this file.
#
#   make                      build each starter: NAME.bpf.c -> NAME.bpf.o (xdp-loader build)
#   make load IF=veth0 [PROG=name]   attach the (first) object to IF, replacing what is there
#   make unload IF=veth0      detach it
#   make check                grade the object: xdp-loader check $(LESSON) OBJ
#   make objdump              the BPF instructions with the C lines they came from
#   make user                 build the user-space starters (USER_EXAMPLES, cargo examples)
#   make check-user           grade them: xdp-loader check $(LESSON) --user PROG[,PROG]
#   make clean                remove the objects
#
# XDP_LOADER: the repository's debug build, else the one on PATH.

SHELL := /bin/bash
ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
XDP_LOADER ?= $(or $(wildcard $(ROOT)/target/debug/xdp-loader),$(shell command -v xdp-loader 2>/dev/null),$(ROOT)/target/debug/xdp-loader)
OBJS := $(addsuffix .bpf.o,$(PROGS))
OBJ ?= $(firstword $(OBJS))

.PHONY: all load unload check objdump clean user check-user

all: $(OBJS)

# Rebuilt when the source, a shared header or the loader (which carries
# the headers) changes.
%.bpf.o: %.bpf.c $(wildcard $(ROOT)/src/bpf/*.h) $(XDP_LOADER)
	$(XDP_LOADER) build $< -o $@

$(ROOT)/target/debug/xdp-loader:
	$(MAKE) -C $(ROOT) build

load: $(OBJ)
	@if [ -z "$(IF)" ]; then echo "make load: which interface? make load IF=NAME (a test environment: xdp-loader testenv setup --name NAME)" >&2; exit 2; fi
	$(XDP_LOADER) load --force $(IF) $(OBJ)$(if $(PROG), -n $(PROG))

unload:
	@if [ -z "$(IF)" ]; then echo "make unload: which interface? make unload IF=NAME" >&2; exit 2; fi
	$(XDP_LOADER) unload $(IF)

check: $(OBJ)
	$(XDP_LOADER) check $(LESSON) $(OBJ)

objdump: $(OBJS)
	@objdump=$$(command -v llvm-objdump || compgen -c llvm-objdump- | sort -V | tail -n 1 || true); \
	if [ -z "$$objdump" ]; then echo "make objdump: llvm-objdump not found: make deps (package llvm)" >&2; exit 1; fi; \
	for obj in $(OBJS); do echo "=== $$obj"; $$objdump -S --no-show-raw-insn $$obj; done

# The user-space starters are cargo examples (lessons/LESSON/user/*.rs);
# cargo puts them under target/debug/examples/.
USER_PROGS := $(addprefix $(ROOT)/target/debug/examples/,$(USER_EXAMPLES))
comma := ,
empty :=
space := $(empty) $(empty)

user:
	@if [ -z "$(USER_EXAMPLES)" ]; then echo "make user: lesson $(LESSON) has no user-space starter" >&2; exit 2; fi
	cd $(ROOT) && cargo build --locked $(addprefix --example ,$(USER_EXAMPLES))

# A lesson with its own way of checking user space (advanced03) defines
# check-user itself.
ifdef USER_EXAMPLES
check-user: user
	$(XDP_LOADER) check $(LESSON) --user $(subst $(space),$(comma),$(USER_PROGS))
endif

clean:
	rm -f $(OBJS)
