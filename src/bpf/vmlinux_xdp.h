/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel's types for the lesson programs, without CO-RE relocations.
 * Include this instead of "vmlinux.h".
 *
 * vmlinux.h marks every struct preserve_access_index (CO-RE) by default.
 * XDP programs need none of that: packet headers are wire formats and
 * struct xdp_md is stable uapi, so no offset moves between kernels. Turning
 * it off has two effects:
 *  - libbpf no longer loads and parses the kernel's BTF (megabytes, from
 *    /sys/kernel/btf/vmlinux) on every load: that was most of
 *    `xdp-loader load`'s own time;
 *  - clang (14) no longer reads ctx->data through "ctx + register" after
 *    the program has written to the packet, which the verifier refuses
 *    ("dereference of modified ctx ptr").
 */
#ifndef VMLINUX_XDP_H
#define VMLINUX_XDP_H

#define BPF_NO_PRESERVE_ACCESS_INDEX
#include "vmlinux.h"

#endif /* VMLINUX_XDP_H */
