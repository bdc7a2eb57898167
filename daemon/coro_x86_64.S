/*
 * coro_x86_64.S: the coroutine context switch for x86-64 (System V ABI).
 * See coro.c for the contract.
 *
 * Saved: the callee-saved rbx rbp r12-r15, MXCSR and the x87 control word
 * (their control bits are callee-saved too). MXCSR / the control word are
 * only reloaded when the incoming context's differ from the outgoing one's. Not saved: rax rcx rdx rsi
 * rdi r8-r11 and all xmm registers, which the caller of coro__switch (a C
 * function call) already treats as clobbered.
 *
 * Frame left at the saved stack pointer, from low to high:
 *   0: MXCSR (4 bytes), x87 control word (2), padding (2)
 *   8: r15  16: r14  24: r13  32: r12  40: rbx  48: rbp  56: return address
 *
 * The switch continues with pop + jmp instead of ret: the return address
 * belongs to the other context's call, so ret would mispredict in the
 * return stack buffer on nearly every switch.
 *
 * No CET/IBT property note is emitted on purpose: the indirect jmp lands
 * on call return sites, which carry no endbr64, and switching stacks
 * breaks a shadow stack.
 */
	.text

	.globl	coro__switch
	.hidden	coro__switch
	.type	coro__switch, @function
	.p2align 4
/* void coro__switch(void **save_sp, void *to_sp) */
coro__switch:
	.cfi_startproc
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbp, 0
	pushq	%rbx
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbx, 0
	pushq	%r12
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r12, 0
	pushq	%r13
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r13, 0
	pushq	%r14
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r14, 0
	pushq	%r15
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r15, 0
	subq	$8, %rsp
	.cfi_adjust_cfa_offset 8
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movl	(%rsp), %eax
	movzwl	4(%rsp), %edx

	/* Both stacks hold the same layout here, so the CFI above stays
	 * true across the switch. */
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp

	/* ldmxcsr and fldcw are slow (tens of ns on some CPUs): load only
	 * when the control bits differ. The MXCSR status flags (bits 0-5) are
	 * not preserved across calls by the ABI and are not compared. */
	movl	(%rsp), %ecx
	xorl	%eax, %ecx
	testl	$0xffc0, %ecx
	jz	1f
	ldmxcsr	(%rsp)
1:	cmpw	4(%rsp), %dx
	je	2f
	fldcw	4(%rsp)
2:
	addq	$8, %rsp
	.cfi_adjust_cfa_offset -8
	popq	%r15
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r15
	popq	%r14
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r14
	popq	%r13
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r13
	popq	%r12
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r12
	popq	%rbx
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbx
	popq	%rbp
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbp
	popq	%rcx
	.cfi_adjust_cfa_offset -8
	.cfi_register %rip, %rcx
	jmpq	*%rcx
	.cfi_endproc
	.size	coro__switch, .-coro__switch

	.globl	coro__trampoline
	.hidden	coro__trampoline
	.type	coro__trampoline, @function
	.p2align 4
/* First "return" of a new coroutine. rbx = struct coro *, rbp = 0,
 * rsp 16-aligned. coro__entry never returns. */
coro__trampoline:
	.cfi_startproc
	.cfi_undefined %rip	/* outermost frame: unwinders stop here */
	movq	%rbx, %rdi
	call	coro__entry
	ud2
	.cfi_endproc
	.size	coro__trampoline, .-coro__trampoline

	.section .note.GNU-stack,"",@progbits
