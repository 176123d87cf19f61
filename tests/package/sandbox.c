/*
 * sandbox: runs a command under the seccomp parts of pennyworth.service, so
 * scripts/package can see the packaged server work inside them without a
 * systemd to start the unit. Like systemd, and in its order of checks:
 *
 *   SystemCallFilter=@system-service ~@privileged, SystemCallErrorNumber=EPERM
 *       a call whose number is not in SANDBOX_ALLOWED (a list scripts/package
 *       generates from `systemd-analyze syscall-filter`) fails with EPERM;
 *   RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
 *       socket() of any other family fails with EAFNOSUPPORT;
 *   MemoryDenyWriteExecute=yes
 *       mmap() asking for PROT_WRITE|PROT_EXEC, and mprotect() or
 *       pkey_mprotect() asking for PROT_EXEC, fail with EPERM;
 *   NoNewPrivileges=yes (which seccomp needs anyway).
 *
 * Only the native architecture is allowed (SystemCallArchitectures=native).
 * Build: cc -DSANDBOX_ALLOWED='SYS_read, SYS_write, ...' sandbox.c
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SANDBOX_ALLOWED
#error "define SANDBOX_ALLOWED as the list of allowed SYS_ numbers"
#endif

static const long allowed[] = {SANDBOX_ALLOWED};
#define NALLOWED (sizeof allowed / sizeof allowed[0])

#define LOAD(field) \
    ((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, field)))
#define RET(v) ((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, (v)))
#define JEQ(k, jt, jf) ((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), (jt), (jf)))

int main(int argc, char **argv)
{
    static struct sock_filter f[2 * NALLOWED + 64];
    size_t n = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: sandbox COMMAND [ARGS...]\n");
        return 2;
    }
    f[n++] = LOAD(arch);
    f[n++] = JEQ(AUDIT_ARCH_X86_64, 1, 0);
    f[n++] = RET(SECCOMP_RET_KILL_PROCESS);
    f[n++] = LOAD(nr);
    /* socket(): the family in args[0]. */
    f[n++] = JEQ(SYS_socket, 0, 6);
    f[n++] = LOAD(args[0]);
    f[n++] = JEQ(AF_INET, 3, 0);
    f[n++] = JEQ(AF_INET6, 2, 0);
    f[n++] = JEQ(AF_UNIX, 1, 0);
    f[n++] = RET(SECCOMP_RET_ERRNO | EAFNOSUPPORT);
    f[n++] = RET(SECCOMP_RET_ALLOW);
    /* mmap(): not writable and executable at once (args[2] is prot). */
    f[n++] = JEQ(SYS_mmap, 0, 5);
    f[n++] = LOAD(args[2]);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_AND | BPF_K, PROT_WRITE | PROT_EXEC);
    f[n++] = JEQ(PROT_WRITE | PROT_EXEC, 0, 1);
    f[n++] = RET(SECCOMP_RET_ERRNO | EPERM);
    f[n++] = RET(SECCOMP_RET_ALLOW);
    /* mprotect(), pkey_mprotect(): never adding PROT_EXEC. */
    f[n++] = JEQ(SYS_mprotect, 1, 0);
    f[n++] = JEQ(SYS_pkey_mprotect, 0, 4);
    f[n++] = LOAD(args[2]);
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, PROT_EXEC, 0, 1);
    f[n++] = RET(SECCOMP_RET_ERRNO | EPERM);
    f[n++] = RET(SECCOMP_RET_ALLOW);
    /* Everything else: the allow list. */
    for (size_t i = 0; i < NALLOWED; i++) {
        f[n++] = JEQ((unsigned)allowed[i], 0, 1);
        f[n++] = RET(SECCOMP_RET_ALLOW);
    }
    f[n++] = RET(SECCOMP_RET_ERRNO | EPERM);

    struct sock_fprog prog = {(unsigned short)n, f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
        perror("sandbox: seccomp");
        return 127;
    }
    execv(argv[1], argv + 1);
    perror("sandbox: execv");
    return 127;
}
