// capi_stubs.S: one trampoline per entry of the C API hook table (capi_hooks.cpp).
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

        .macro CAPI_STUB index
        .globl gilwatch_capi_stub_\index
        .hidden gilwatch_capi_stub_\index
        .type gilwatch_capi_stub_\index, @function
        .p2align 4
gilwatch_capi_stub_\index:
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
        .size gilwatch_capi_stub_\index, .-gilwatch_capi_stub_\index
        .endm

        CAPI_STUB 0
        CAPI_STUB 1
        CAPI_STUB 2
        CAPI_STUB 3
        CAPI_STUB 4
        CAPI_STUB 5
        CAPI_STUB 6
        CAPI_STUB 7
        CAPI_STUB 8
        CAPI_STUB 9
        CAPI_STUB 10
        CAPI_STUB 11
        CAPI_STUB 12
        CAPI_STUB 13
        CAPI_STUB 14
        CAPI_STUB 15
        CAPI_STUB 16
        CAPI_STUB 17
        CAPI_STUB 18
        CAPI_STUB 19
        CAPI_STUB 20
        CAPI_STUB 21
        CAPI_STUB 22
        CAPI_STUB 23
        CAPI_STUB 24
        CAPI_STUB 25
        CAPI_STUB 26
        CAPI_STUB 27
        CAPI_STUB 28
        CAPI_STUB 29
        CAPI_STUB 30
        CAPI_STUB 31
        CAPI_STUB 32
        CAPI_STUB 33
        CAPI_STUB 34
        CAPI_STUB 35
        CAPI_STUB 36
        CAPI_STUB 37
        CAPI_STUB 38
        CAPI_STUB 39
        CAPI_STUB 40
        CAPI_STUB 41
        CAPI_STUB 42
        CAPI_STUB 43
        CAPI_STUB 44
        CAPI_STUB 45
        CAPI_STUB 46
        CAPI_STUB 47
        CAPI_STUB 48
        CAPI_STUB 49
        CAPI_STUB 50
        CAPI_STUB 51
        CAPI_STUB 52
        CAPI_STUB 53
        CAPI_STUB 54
        CAPI_STUB 55
        CAPI_STUB 56
        CAPI_STUB 57
        CAPI_STUB 58
        CAPI_STUB 59
        CAPI_STUB 60
        CAPI_STUB 61
        CAPI_STUB 62
        CAPI_STUB 63
        CAPI_STUB 64
        CAPI_STUB 65
        CAPI_STUB 66
        CAPI_STUB 67
        CAPI_STUB 68
        CAPI_STUB 69
        CAPI_STUB 70
        CAPI_STUB 71
        CAPI_STUB 72
        CAPI_STUB 73
        CAPI_STUB 74
        CAPI_STUB 75
        CAPI_STUB 76
        CAPI_STUB 77
        CAPI_STUB 78
        CAPI_STUB 79
        CAPI_STUB 80
        CAPI_STUB 81
        CAPI_STUB 82
        CAPI_STUB 83
        CAPI_STUB 84
        CAPI_STUB 85
        CAPI_STUB 86
        CAPI_STUB 87
        CAPI_STUB 88
        CAPI_STUB 89
        CAPI_STUB 90
        CAPI_STUB 91
        CAPI_STUB 92
        CAPI_STUB 93
        CAPI_STUB 94
        CAPI_STUB 95
        CAPI_STUB 96
        CAPI_STUB 97
        CAPI_STUB 98
        CAPI_STUB 99
        CAPI_STUB 100
        CAPI_STUB 101
        CAPI_STUB 102
        CAPI_STUB 103
        CAPI_STUB 104
        CAPI_STUB 105
        CAPI_STUB 106
        CAPI_STUB 107
        CAPI_STUB 108
        CAPI_STUB 109
        CAPI_STUB 110
        CAPI_STUB 111
        CAPI_STUB 112
        CAPI_STUB 113
        CAPI_STUB 114
        CAPI_STUB 115
        CAPI_STUB 116
        CAPI_STUB 117
        CAPI_STUB 118
        CAPI_STUB 119
        CAPI_STUB 120
        CAPI_STUB 121
        CAPI_STUB 122
        CAPI_STUB 123
        CAPI_STUB 124
        CAPI_STUB 125
        CAPI_STUB 126
        CAPI_STUB 127
        CAPI_STUB 128
        CAPI_STUB 129
        CAPI_STUB 130
        CAPI_STUB 131
        CAPI_STUB 132
        CAPI_STUB 133
        CAPI_STUB 134
        CAPI_STUB 135
        CAPI_STUB 136
        CAPI_STUB 137
        CAPI_STUB 138
        CAPI_STUB 139
        CAPI_STUB 140
        CAPI_STUB 141
        CAPI_STUB 142
        CAPI_STUB 143
        CAPI_STUB 144
        CAPI_STUB 145
        CAPI_STUB 146
        CAPI_STUB 147
        CAPI_STUB 148
        CAPI_STUB 149
        CAPI_STUB 150
        CAPI_STUB 151
        CAPI_STUB 152
        CAPI_STUB 153
        CAPI_STUB 154
        CAPI_STUB 155
        CAPI_STUB 156
        CAPI_STUB 157
        CAPI_STUB 158
        CAPI_STUB 159
        CAPI_STUB 160
        CAPI_STUB 161
        CAPI_STUB 162
        CAPI_STUB 163
        CAPI_STUB 164
        CAPI_STUB 165
        CAPI_STUB 166
        CAPI_STUB 167
        CAPI_STUB 168
        CAPI_STUB 169
        CAPI_STUB 170
        CAPI_STUB 171
        CAPI_STUB 172
        CAPI_STUB 173
        CAPI_STUB 174
        CAPI_STUB 175
        CAPI_STUB 176
        CAPI_STUB 177
        CAPI_STUB 178
        CAPI_STUB 179
        CAPI_STUB 180
        CAPI_STUB 181
        CAPI_STUB 182
        CAPI_STUB 183
        CAPI_STUB 184
        CAPI_STUB 185
        CAPI_STUB 186
        CAPI_STUB 187
        CAPI_STUB 188
        CAPI_STUB 189
        CAPI_STUB 190
        CAPI_STUB 191

        // The stubs' addresses, in index order, for capi_hooks.cpp.
        .section .data.rel.ro,"aw"
        .p2align 3
        .globl gilwatch_capi_stub_table
        .hidden gilwatch_capi_stub_table
gilwatch_capi_stub_table:
        .quad gilwatch_capi_stub_0
        .quad gilwatch_capi_stub_1
        .quad gilwatch_capi_stub_2
        .quad gilwatch_capi_stub_3
        .quad gilwatch_capi_stub_4
        .quad gilwatch_capi_stub_5
        .quad gilwatch_capi_stub_6
        .quad gilwatch_capi_stub_7
        .quad gilwatch_capi_stub_8
        .quad gilwatch_capi_stub_9
        .quad gilwatch_capi_stub_10
        .quad gilwatch_capi_stub_11
        .quad gilwatch_capi_stub_12
        .quad gilwatch_capi_stub_13
        .quad gilwatch_capi_stub_14
        .quad gilwatch_capi_stub_15
        .quad gilwatch_capi_stub_16
        .quad gilwatch_capi_stub_17
        .quad gilwatch_capi_stub_18
        .quad gilwatch_capi_stub_19
        .quad gilwatch_capi_stub_20
        .quad gilwatch_capi_stub_21
        .quad gilwatch_capi_stub_22
        .quad gilwatch_capi_stub_23
        .quad gilwatch_capi_stub_24
        .quad gilwatch_capi_stub_25
        .quad gilwatch_capi_stub_26
        .quad gilwatch_capi_stub_27
        .quad gilwatch_capi_stub_28
        .quad gilwatch_capi_stub_29
        .quad gilwatch_capi_stub_30
        .quad gilwatch_capi_stub_31
        .quad gilwatch_capi_stub_32
        .quad gilwatch_capi_stub_33
        .quad gilwatch_capi_stub_34
        .quad gilwatch_capi_stub_35
        .quad gilwatch_capi_stub_36
        .quad gilwatch_capi_stub_37
        .quad gilwatch_capi_stub_38
        .quad gilwatch_capi_stub_39
        .quad gilwatch_capi_stub_40
        .quad gilwatch_capi_stub_41
        .quad gilwatch_capi_stub_42
        .quad gilwatch_capi_stub_43
        .quad gilwatch_capi_stub_44
        .quad gilwatch_capi_stub_45
        .quad gilwatch_capi_stub_46
        .quad gilwatch_capi_stub_47
        .quad gilwatch_capi_stub_48
        .quad gilwatch_capi_stub_49
        .quad gilwatch_capi_stub_50
        .quad gilwatch_capi_stub_51
        .quad gilwatch_capi_stub_52
        .quad gilwatch_capi_stub_53
        .quad gilwatch_capi_stub_54
        .quad gilwatch_capi_stub_55
        .quad gilwatch_capi_stub_56
        .quad gilwatch_capi_stub_57
        .quad gilwatch_capi_stub_58
        .quad gilwatch_capi_stub_59
        .quad gilwatch_capi_stub_60
        .quad gilwatch_capi_stub_61
        .quad gilwatch_capi_stub_62
        .quad gilwatch_capi_stub_63
        .quad gilwatch_capi_stub_64
        .quad gilwatch_capi_stub_65
        .quad gilwatch_capi_stub_66
        .quad gilwatch_capi_stub_67
        .quad gilwatch_capi_stub_68
        .quad gilwatch_capi_stub_69
        .quad gilwatch_capi_stub_70
        .quad gilwatch_capi_stub_71
        .quad gilwatch_capi_stub_72
        .quad gilwatch_capi_stub_73
        .quad gilwatch_capi_stub_74
        .quad gilwatch_capi_stub_75
        .quad gilwatch_capi_stub_76
        .quad gilwatch_capi_stub_77
        .quad gilwatch_capi_stub_78
        .quad gilwatch_capi_stub_79
        .quad gilwatch_capi_stub_80
        .quad gilwatch_capi_stub_81
        .quad gilwatch_capi_stub_82
        .quad gilwatch_capi_stub_83
        .quad gilwatch_capi_stub_84
        .quad gilwatch_capi_stub_85
        .quad gilwatch_capi_stub_86
        .quad gilwatch_capi_stub_87
        .quad gilwatch_capi_stub_88
        .quad gilwatch_capi_stub_89
        .quad gilwatch_capi_stub_90
        .quad gilwatch_capi_stub_91
        .quad gilwatch_capi_stub_92
        .quad gilwatch_capi_stub_93
        .quad gilwatch_capi_stub_94
        .quad gilwatch_capi_stub_95
        .quad gilwatch_capi_stub_96
        .quad gilwatch_capi_stub_97
        .quad gilwatch_capi_stub_98
        .quad gilwatch_capi_stub_99
        .quad gilwatch_capi_stub_100
        .quad gilwatch_capi_stub_101
        .quad gilwatch_capi_stub_102
        .quad gilwatch_capi_stub_103
        .quad gilwatch_capi_stub_104
        .quad gilwatch_capi_stub_105
        .quad gilwatch_capi_stub_106
        .quad gilwatch_capi_stub_107
        .quad gilwatch_capi_stub_108
        .quad gilwatch_capi_stub_109
        .quad gilwatch_capi_stub_110
        .quad gilwatch_capi_stub_111
        .quad gilwatch_capi_stub_112
        .quad gilwatch_capi_stub_113
        .quad gilwatch_capi_stub_114
        .quad gilwatch_capi_stub_115
        .quad gilwatch_capi_stub_116
        .quad gilwatch_capi_stub_117
        .quad gilwatch_capi_stub_118
        .quad gilwatch_capi_stub_119
        .quad gilwatch_capi_stub_120
        .quad gilwatch_capi_stub_121
        .quad gilwatch_capi_stub_122
        .quad gilwatch_capi_stub_123
        .quad gilwatch_capi_stub_124
        .quad gilwatch_capi_stub_125
        .quad gilwatch_capi_stub_126
        .quad gilwatch_capi_stub_127
        .quad gilwatch_capi_stub_128
        .quad gilwatch_capi_stub_129
        .quad gilwatch_capi_stub_130
        .quad gilwatch_capi_stub_131
        .quad gilwatch_capi_stub_132
        .quad gilwatch_capi_stub_133
        .quad gilwatch_capi_stub_134
        .quad gilwatch_capi_stub_135
        .quad gilwatch_capi_stub_136
        .quad gilwatch_capi_stub_137
        .quad gilwatch_capi_stub_138
        .quad gilwatch_capi_stub_139
        .quad gilwatch_capi_stub_140
        .quad gilwatch_capi_stub_141
        .quad gilwatch_capi_stub_142
        .quad gilwatch_capi_stub_143
        .quad gilwatch_capi_stub_144
        .quad gilwatch_capi_stub_145
        .quad gilwatch_capi_stub_146
        .quad gilwatch_capi_stub_147
        .quad gilwatch_capi_stub_148
        .quad gilwatch_capi_stub_149
        .quad gilwatch_capi_stub_150
        .quad gilwatch_capi_stub_151
        .quad gilwatch_capi_stub_152
        .quad gilwatch_capi_stub_153
        .quad gilwatch_capi_stub_154
        .quad gilwatch_capi_stub_155
        .quad gilwatch_capi_stub_156
        .quad gilwatch_capi_stub_157
        .quad gilwatch_capi_stub_158
        .quad gilwatch_capi_stub_159
        .quad gilwatch_capi_stub_160
        .quad gilwatch_capi_stub_161
        .quad gilwatch_capi_stub_162
        .quad gilwatch_capi_stub_163
        .quad gilwatch_capi_stub_164
        .quad gilwatch_capi_stub_165
        .quad gilwatch_capi_stub_166
        .quad gilwatch_capi_stub_167
        .quad gilwatch_capi_stub_168
        .quad gilwatch_capi_stub_169
        .quad gilwatch_capi_stub_170
        .quad gilwatch_capi_stub_171
        .quad gilwatch_capi_stub_172
        .quad gilwatch_capi_stub_173
        .quad gilwatch_capi_stub_174
        .quad gilwatch_capi_stub_175
        .quad gilwatch_capi_stub_176
        .quad gilwatch_capi_stub_177
        .quad gilwatch_capi_stub_178
        .quad gilwatch_capi_stub_179
        .quad gilwatch_capi_stub_180
        .quad gilwatch_capi_stub_181
        .quad gilwatch_capi_stub_182
        .quad gilwatch_capi_stub_183
        .quad gilwatch_capi_stub_184
        .quad gilwatch_capi_stub_185
        .quad gilwatch_capi_stub_186
        .quad gilwatch_capi_stub_187
        .quad gilwatch_capi_stub_188
        .quad gilwatch_capi_stub_189
        .quad gilwatch_capi_stub_190
        .quad gilwatch_capi_stub_191
        .size gilwatch_capi_stub_table, .-gilwatch_capi_stub_table
#endif

        .section .note.GNU-stack,"",@progbits
