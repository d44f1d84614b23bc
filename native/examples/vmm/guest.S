/* The guest: 64-bit code that the VMM copies to CODE_GPA and enters in long mode (machine.c
 * sets up the GDT, the identity-mapped page tables and the registers). It runs the OVMF-style
 * DMA loop of layout.h, asking for every conversion through the doorbell; the same loop as
 * buildDmaGuest in src/vmm/guest/program.ts, without its boot phase.
 *
 * The bytes between guest_code_start and guest_code_end are data for the VMM, never executed
 * in the VMM's own process: every jump is relative and every address an immediate, so they need
 * no relocation and run wherever they are loaded.
 *
 * Registers: r15 = mailbox gpa, r12 = txn, r13 = transactions to run, r8 = bounce gpa,
 * r9 = bounce npages. No stack, no interrupts (RFLAGS.IF = 0), no IDT: any exception
 * triple-faults and the VMM sees a shutdown exit.
 */
#include "layout.h"

/* Asks the VMM to convert [r8, +r9 pages) (attrs: 0 = to shared, MAP_GPA_RANGE_ENCRYPTED = to
 * private) and goes to fail unless the status is 0. */
.macro request attrs
	mov	%r8, MB_GPA(%r15)
	mov	%r9, MB_NPAGES(%r15)
	movq	$\attrs, MB_ATTRS(%r15)
	mov	$OP_MAP_GPA_RANGE, %al
	out	%al, $DOORBELL_PORT
	cmpq	$0, MB_STATUS(%r15)
	jne	fail
.endm

	.section .rodata
	.globl	guest_code_start
	.globl	guest_code_end
	.code64
guest_code_start:
	cld
	mov	$MAILBOX_GPA, %r15d
	xor	%r12d, %r12d
	mov	MB_TRANSACTIONS(%r15), %r13
	cmp	%r13, %r12
	jae	done

txn:
	/* A few hot bounce pages, as OVMF reuses them: gpa = BOUNCE_GPA + (txn & 7) * 2 pages,
	 * npages = 1 + (txn & 1); 12 distinct pages in all. */
	mov	%r12, %r8
	and	$7, %r8
	shl	$13, %r8
	add	$BOUNCE_GPA, %r8
	mov	%r12, %r9
	and	$1, %r9
	inc	%r9

	/* 1. The bounce pages become shared. */
	request	0

	/* 2. The device writes this transaction's payload into them (mailbox gpa/npages still hold them). */
	mov	%r12, MB_TXN(%r15)
	mov	$OP_DMA_WRITE, %al
	out	%al, $DOORBELL_PORT
	cmpq	$0, MB_STATUS(%r15)
	jne	fail

	/* 3. Copy them through the shared alias into the private DMA buffer. */
	lea	SHARED_BIT(%r8), %rsi
	mov	$DMA_BUF_GPA, %edi
	mov	%r9, %rcx
	shl	$9, %rcx			/* qwords */
	rep movsq

	/* 4. The bounce pages become private again. */
	request	MAP_GPA_RANGE_ENCRYPTED

	/* 5. Check the copy: every qword is PAYLOAD_TAG << 32 | txn. */
	movabs	$(PAYLOAD_TAG << 32), %rax
	or	%r12, %rax
	mov	$DMA_BUF_GPA, %edi
	mov	%r9, %rcx
	shl	$9, %rcx
	repe scasq				/* stops at the first qword that differs (ZF = 0) */
	jne	fail
	incq	MB_VERIFIED(%r15)

	/* Reuse the bounce pages as private memory: a secret in every qword. */
	movabs	$(SECRET_TAG << 32), %rax
	or	%r12, %rax
	mov	%r8, %rdi
	mov	%r9, %rcx
	shl	$9, %rcx
	rep stosq

	inc	%r12
	cmp	%r13, %r12
	jb	txn

done:
	mov	$OP_DONE, %al
	out	%al, $DOORBELL_PORT
	hlt

fail:
	mov	%r12, MB_TXN(%r15)
	mov	$OP_FAIL, %al
	out	%al, $DOORBELL_PORT
	hlt
guest_code_end:

	.section .note.GNU-stack, "", @progbits
