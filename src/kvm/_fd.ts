/**
 * Base of every object that owns a file descriptor (Node only): one `close()` that is
 * idempotent, `Symbol.dispose` for `using`, and a typed error on use after close.
 */
import { MemattrDisposedError } from "../core/errors.js";
import { sysClose } from "./_syscall.js";

export abstract class FdOwner implements Disposable {
  #fd: number;
  /** releaseResources() has not yet run to its end: a later close() runs it again. */
  #releasePending = false;

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

  /**
   * Releases what the subclass holds beyond the fd (mappings), before the fd closes. Runs once
   * to its end: if it throws, the next close() calls it again, so it must be safe to repeat.
   */
  protected releaseResources(): void {}

  /**
   * Closes the descriptor (and unmaps what this object mapped). Idempotent. When the unmap or
   * the close fails the first error is thrown; the descriptor is gone all the same (Linux
   * releases it whatever close says), and calling close() again retries what was not released.
   */
  close(): void {
    const fd = this.#fd;
    if (fd < 0) {
      if (this.#releasePending) this.#release();
      return;
    }
    this.#fd = -1; // mark first: a failing close must not leave a half-open object behind
    this.#releasePending = true;
    let failure: { error: unknown } | undefined;
    try {
      this.#release();
    } catch (error) {
      failure = { error };
    }
    try {
      sysClose(fd);
    } catch (error) {
      failure ??= { error };
    }
    if (failure) throw failure.error;
  }

  #release(): void {
    this.releaseResources();
    this.#releasePending = false;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Closes what a failed construction had opened — objects (close()) or raw descriptors — and
 * lets the caller rethrow the error that stopped it: a close that fails here has released its
 * descriptor all the same, and its error would only hide the first one.
 */
export function closeAfterFailure(...opened: ({ close(): void } | number | undefined)[]): void {
  for (const o of opened) {
    try {
      if (typeof o === "number") sysClose(o);
      else o?.close();
    } catch {
      /* the first error is the one to report */
    }
  }
}
