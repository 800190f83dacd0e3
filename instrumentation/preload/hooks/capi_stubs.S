// capi_stubs.S: one trampoline per C API function of the hook list (hooks.def, GW_CAPI),
// in the list's order: index i is entry i of capi_hooks.cpp's table. Each is named
// gilwatch_capi_stub_<function> (hidden), so a stack through one says which it is.
//
// A stub is what an extension's GOT slot for, say, PyErr_Format points to once patched.
// It must work for any signature (varargs, doubles, stack arguments), so it touches no
// argument: it saves every argument register (rdi, rsi, rdx, rcx, r8, r9, rax — the
// vector-register count of a varargs call — and xmm0-xmm7), calls
// gilwatch_capi_check(index, return address), restores them, and jumps to the real
// function, which then returns straight to the extension. The stack stays 16-byte
// aligned for the call (7 pushes + 128 bytes after the 8-byte return address), and CFI
// describes every adjustment so that the check can unwind through the stub.
#if defined(__x86_64__)
        .text

        .macro CAPI_STUB name, index
        .globl gilwatch_capi_stub_\name
        .hidden gilwatch_capi_stub_\name
        .type gilwatch_capi_stub_\name, @function
        .p2align 4
gilwatch_capi_stub_\name:
        .cfi_startproc
        pushq %rdi
        .cfi_adjust_cfa_offset 8
        pushq %rsi
        .cfi_adjust_cfa_offset 8
        pushq %rdx
        .cfi_adjust_cfa_offset 8
        pushq %rcx
        .cfi_adjust_cfa_offset 8
        pushq %r8
        .cfi_adjust_cfa_offset 8
        pushq %r9
        .cfi_adjust_cfa_offset 8
        pushq %rax
        .cfi_adjust_cfa_offset 8
        subq $128, %rsp
        .cfi_adjust_cfa_offset 128
        movdqu %xmm0, 0(%rsp)
        movdqu %xmm1, 16(%rsp)
        movdqu %xmm2, 32(%rsp)
        movdqu %xmm3, 48(%rsp)
        movdqu %xmm4, 64(%rsp)
        movdqu %xmm5, 80(%rsp)
        movdqu %xmm6, 96(%rsp)
        movdqu %xmm7, 112(%rsp)
        movl $\index, %edi
        movq 184(%rsp), %rsi
        call gilwatch_capi_check
        movdqu 0(%rsp), %xmm0
        movdqu 16(%rsp), %xmm1
        movdqu 32(%rsp), %xmm2
        movdqu 48(%rsp), %xmm3
        movdqu 64(%rsp), %xmm4
        movdqu 80(%rsp), %xmm5
        movdqu 96(%rsp), %xmm6
        movdqu 112(%rsp), %xmm7
        addq $128, %rsp
        .cfi_adjust_cfa_offset -128
        popq %rax
        .cfi_adjust_cfa_offset -8
        popq %r9
        .cfi_adjust_cfa_offset -8
        popq %r8
        .cfi_adjust_cfa_offset -8
        popq %rcx
        .cfi_adjust_cfa_offset -8
        popq %rdx
        .cfi_adjust_cfa_offset -8
        popq %rsi
        .cfi_adjust_cfa_offset -8
        popq %rdi
        .cfi_adjust_cfa_offset -8
        // gilwatch_capi_originals[index]: the real function.
        jmp *gilwatch_capi_originals+8*\index(%rip)
        .cfi_endproc
        .size gilwatch_capi_stub_\name, .-gilwatch_capi_stub_\name
        .endm

// One stub per GW_CAPI line; __COUNTER__ numbers them from 0 in the list's order (it is
// used nowhere else in this file).
#define GW_CAPI(name) CAPI_STUB name, __COUNTER__
#include "hooks.def"

        // The stubs' addresses, in index order, for capi_hooks.cpp.
        .section .data.rel.ro,"aw"
        .p2align 3
        .globl gilwatch_capi_stub_table
        .hidden gilwatch_capi_stub_table
gilwatch_capi_stub_table:
#define GW_CAPI(name) .quad gilwatch_capi_stub_##name
#include "hooks.def"
        .size gilwatch_capi_stub_table, .-gilwatch_capi_stub_table
#endif

        .section .note.GNU-stack,"",@progbits
