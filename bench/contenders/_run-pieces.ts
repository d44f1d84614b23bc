// Shared by the two interval-tree contenders, which store runs as closed intervals
// [low, high] (high = end - 1) covering the whole guest: given the runs overlapping or touching
// `[start, end)`, which to remove and which to insert so that the runs stay maximal.
export interface Run {
  low: number;
  high: number;
  value: number;
}

/**
 * @param found runs intersecting the closed interval [start - 1, end] (the range plus both neighbours)
 * @returns runs to remove and runs to insert (fresh objects)
 */
export function planSet(found: Run[], start: number, end: number, value: number): { remove: Run[]; insert: Run[] } {
  const remove: Run[] = [];
  const insert: Run[] = [];
  let low = start;
  let high = end - 1;
  for (const r of found) {
    if (r.high < start || r.low > end - 1) {
      // a neighbour that only touches the range: merge when equal, else leave it alone
      if (r.value !== value) continue;
      remove.push(r);
      if (r.high < start) low = r.low;
      else high = r.high;
      continue;
    }
    remove.push(r);
    if (r.low < start) {
      if (r.value === value) low = r.low;
      else insert.push({ low: r.low, high: start - 1, value: r.value });
    }
    if (r.high > end - 1) {
      if (r.value === value) high = r.high;
      else insert.push({ low: end, high: r.high, value: r.value });
    }
  }
  insert.push({ low, high, value });
  return { remove, insert };
}
