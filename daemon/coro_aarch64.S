/*
 * coro_aarch64.S: the coroutine context switch for AArch64 (AAPCS64).
 * See coro.c for the contract.
 *
 * Saved: the callee-saved x19-x28, the frame pointer x29, the link
 * register x30, sp (as the saved stack pointer itself), the low halves
 * d8-d15 of v8-v15, and FPCR (rounding mode etc.). FPCR is written back
 * only when it differs, since MSR FPCR can be slow.
 *
 * Frame left at the saved stack pointer (176 bytes, 16-aligned):
 *     0: x19 x20   16: x21 x22   32: x23 x24   48: x25 x26   64: x27 x28
 *    80: x29 x30   96: d8 d9    112: d10 d11  128: d12 d13  144: d14 d15
 *   160: fpcr     168: padding
 *
 * Unlike x86-64 this continues with ret: ret x30 is exempt from BTI
 * landing-pad checks where br is not, and the return sites reached here are
 * ordinary call return sites.
 */
	.text

	.globl	coro__switch
	.hidden	coro__switch
	.type	coro__switch, %function
	.p2align 4
/* void coro__switch(void **save_sp, void *to_sp) */
coro__switch:
	.cfi_startproc
	sub	sp, sp, #176
	.cfi_def_cfa_offset 176
	stp	x19, x20, [sp, #0]
	stp	x21, x22, [sp, #16]
	stp	x23, x24, [sp, #32]
	stp	x25, x26, [sp, #48]
	stp	x27, x28, [sp, #64]
	stp	x29, x30, [sp, #80]
	.cfi_offset x19, -176
	.cfi_offset x20, -168
	.cfi_offset x21, -160
	.cfi_offset x22, -152
	.cfi_offset x23, -144
	.cfi_offset x24, -136
	.cfi_offset x25, -128
	.cfi_offset x26, -120
	.cfi_offset x27, -112
	.cfi_offset x28, -104
	.cfi_offset x29, -96
	.cfi_offset x30, -88
	stp	d8, d9, [sp, #96]
	stp	d10, d11, [sp, #112]
	stp	d12, d13, [sp, #128]
	stp	d14, d15, [sp, #144]
	.cfi_offset d8, -80
	.cfi_offset d9, -72
	.cfi_offset d10, -64
	.cfi_offset d11, -56
	.cfi_offset d12, -48
	.cfi_offset d13, -40
	.cfi_offset d14, -32
	.cfi_offset d15, -24
	mrs	x9, fpcr
	str	x9, [sp, #160]

	/* Both stacks hold the same layout here, so the CFI above stays
	 * true across the switch. */
	mov	x10, sp
	str	x10, [x0]
	mov	sp, x1

	ldp	x19, x20, [sp, #0]
	ldp	x21, x22, [sp, #16]
	ldp	x23, x24, [sp, #32]
	ldp	x25, x26, [sp, #48]
	ldp	x27, x28, [sp, #64]
	ldp	x29, x30, [sp, #80]
	ldp	d8, d9, [sp, #96]
	ldp	d10, d11, [sp, #112]
	ldp	d12, d13, [sp, #128]
	ldp	d14, d15, [sp, #144]
	ldr	x10, [sp, #160]
	cmp	x9, x10
	b.eq	1f
	msr	fpcr, x10
1:
	add	sp, sp, #176
	.cfi_def_cfa_offset 0
	.cfi_restore x19
	.cfi_restore x20
	.cfi_restore x21
	.cfi_restore x22
	.cfi_restore x23
	.cfi_restore x24
	.cfi_restore x25
	.cfi_restore x26
	.cfi_restore x27
	.cfi_restore x28
	.cfi_restore x29
	.cfi_restore x30
	.cfi_restore d8
	.cfi_restore d9
	.cfi_restore d10
	.cfi_restore d11
	.cfi_restore d12
	.cfi_restore d13
	.cfi_restore d14
	.cfi_restore d15
	ret
	.cfi_endproc
	.size	coro__switch, .-coro__switch

	.globl	coro__trampoline
	.hidden	coro__trampoline
	.type	coro__trampoline, %function
	.p2align 4
/* First "return" of a new coroutine. x19 = struct coro *, x29 = 0, sp is
 * the 16-aligned stack top. coro__entry never returns. */
coro__trampoline:
	.cfi_startproc
	.cfi_undefined x30	/* outermost frame: unwinders stop here */
	mov	x0, x19
	bl	coro__entry
	brk	#1
	.cfi_endproc
	.size	coro__trampoline, .-coro__trampoline

	.section .note.GNU-stack,"",%progbits
