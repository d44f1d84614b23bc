/**
 * Base of every object that owns a file descriptor (Node only): one `close()` that is
 * idempotent, `Symbol.dispose` for `using`, and a typed error on use after close.
 */
import { MemattrDisposedError } from "../core/errors.js";
import { sysClose } from "./_syscall.js";

export abstract class FdOwner implements Disposable {
  #fd: number;

  protected constructor(
    fd: number,
    /** what the object is, for messages: "Kvm", "Vm", "GuestMemfd" … */
    protected readonly kind: string,
  ) {
    this.#fd = fd;
  }

  /** The descriptor. @throws MemattrDisposedError after close(). */
  get fd(): number {
    if (this.#fd < 0) throw new MemattrDisposedError(this.kind);
    return this.#fd;
  }

  /** True once close() ran. */
  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Releases what the subclass holds beyond the fd (mappings); runs once, before the fd closes. */
  protected releaseResources(): void {}

  /** Closes the descriptor (and unmaps what this object mapped). Idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1; // mark first: a failing close must not leave a half-open object behind
    try {
      this.releaseResources();
    } finally {
      sysClose(fd);
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
