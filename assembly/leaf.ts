// Leaves: one chunk of 4096 pages, palette-packed. A chunk whose pages all hold one value is
// never a leaf — its parent keeps a uniform slot instead — so every leaf holds 2 or more values.
//
// Width (bits per page) is the smallest power of two ≥ ceil(log2(distinct values)): 1, 2, 4 or
// 8. Powers of two keep a page inside one byte, so reads are one load and word-wide compares
// work for every width. A leaf may stay wider than its current distinct count needs (single-page
// and fully covered edits never shrink it, to avoid re-encoding on every flip); range edits of
// SHRINK_MIN_PAGES or more re-encode it at the narrowest width when that is a quarter of its
// width or less (shouldShrink).
//
// The four parts, one idea each: leaf-layout.ts (the block and its accessors), leaf-words.ts
// (reads and word-at-a-time helpers), leaf-encode.ts (make, widen, decode, re-encode, revive),
// leaf-edit.ts (edits, and the in-place short edits). This file is what the rest of the core
// uses of them; @inline works across the files, so the split costs nothing at run time.
//
// Hysteresis, so a page cycling through three or more values (the model's value carries the
// populated bits too) pays neither an allocation nor a re-encode per flip: a leaf that becomes
// uniform through a small edit is parked (alloc.ts) with its width and content, and the next
// edit of its chunk revives it by rewriting two palette entries and the edited pages; a leaf is
// widened once, straight to the width an edit needs, and kept at that width by small edits.
// A value with no free palette entry first takes over an entry whose pages all lie inside the
// edited range (its count drops to 0 by the edit), so a hot page cycling through four values in
// a 1-bit leaf relabels entries instead of widening; widening itself spreads packed words, not
// pages.


export { SHORT_RUN_PAGES, leafAddHistogram, leafAllEqual, leafAllEqualInline, leafBoundaries, leafCheck, leafCountValue, leafNextChange, leafRunValue, leafValueAt } from "./leaf-words";
export { leafBytesOf, leafClass, leafFree, leafGet, minWidthFor } from "./leaf-layout";
export { leafFromUniform } from "./leaf-encode";
export { IN_PLACE_REFUSED, RUN_REFUSED, leafSetPage, leafSetPageInPlace, leafSetRange, leafSetRangeInPlace, leafSetRunInPlace, leafUpdate } from "./leaf-edit";
