// dlsym_stub.S: hooks::dlsym (hooks.def: library_dlsym), the wrapper of dlsym in every
// loaded object but the interpreter's dlopen and libgilwatch itself.
//
// Libraries that Python code or an extension loads itself (ctypes, cffi, a plugin
// loader's dlopen) never go through the interpreter's dlopen, so nothing would patch
// their C API and GIL calls nor name their frames. Such a library's functions are
// reached through dlsym first, so the stub runs the after-dlopen pass
// (gilwatch_library_lookup: patch what is new, snapshot the module map; a pass with
// nothing new returns at once) and then jumps to the real dlsym. A jump, not a call:
// dlsym sees its caller's return address, so RTLD_NEXT and the caller's namespace stay
// the caller's (a C++ wrapper would make every lookup look like libgilwatch's to the
// loader). dlopen itself is not wrapped for the same reason, and its callers' RUNPATH.
//
// Stack: 8 (return address) + 2 pushes + 8 keeps the call 16-byte aligned.
#if defined(__x86_64__)
        .text
        .globl _ZN8gilwatch7preload5hooks5dlsymEPvPKc
        .hidden _ZN8gilwatch7preload5hooks5dlsymEPvPKc
        .type _ZN8gilwatch7preload5hooks5dlsymEPvPKc, @function
        .p2align 4
_ZN8gilwatch7preload5hooks5dlsymEPvPKc:
        .cfi_startproc
        pushq %rdi
        .cfi_adjust_cfa_offset 8
        pushq %rsi
        .cfi_adjust_cfa_offset 8
        subq $8, %rsp
        .cfi_adjust_cfa_offset 8
        call gilwatch_library_lookup
        addq $8, %rsp
        .cfi_adjust_cfa_offset -8
        popq %rsi
        .cfi_adjust_cfa_offset -8
        popq %rdi
        .cfi_adjust_cfa_offset -8
        // The real dlsym: gilwatch_real_dlsym (filled before the family is patched).
        jmp *gilwatch_real_dlsym(%rip)
        .cfi_endproc
        .size _ZN8gilwatch7preload5hooks5dlsymEPvPKc, .-_ZN8gilwatch7preload5hooks5dlsymEPvPKc
#endif
        .section .note.GNU-stack,"",@progbits
