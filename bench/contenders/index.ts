// Every contender, in the order the tables list them (memattr first: ratios are to it).
import type { Contender } from "./_contender.js";
import { flat } from "./flat.js";
import { flattenIntervalTree } from "./flatten-interval-tree.js";
import { memattrBatched, memattrPerCall } from "./memattr.js";
import { nodeIntervalTree } from "./node-interval-tree.js";
import { pageMap } from "./page-map.js";
import { roaring } from "./roaring.js";
import { sortedBtree } from "./sorted-btree.js";

export const CONTENDERS: Contender[] = [memattrPerCall, memattrBatched, flat, pageMap, sortedBtree, flattenIntervalTree, nodeIntervalTree, roaring];
export { memattrBatched, memattrPerCall, flat, pageMap, sortedBtree, flattenIntervalTree, nodeIntervalTree, roaring };
export type { Contender, Shape, Store } from "./_contender.js";
