/**
 * The red-black tree under the IOVA allocator (lib/rbtree.c as drivers/iommu/iova.c uses it):
 * nodes are `struct iova` with the `rb_node` embedded, ordered by `pfnLo` (iova_insert_rbtree's
 * key; the ranges never overlap, so ordering by `pfnHi` is the same order). Insertion may start
 * from a hint node, as the kernel's does from the node the allocation walk stopped at; erase,
 * rb_next and rb_prev are the kernel's O(log n) operations. Nothing is allocated but the node.
 */

/** `struct iova`: one allocated or reserved range [pfnLo, pfnHi], and its `rb_node`. */
export class Iova {
  pfnLo: number;
  pfnHi: number;
  /** @internal rb_node links and colour. */
  left: Iova | null = null;
  /** @internal */
  right: Iova | null = null;
  /** @internal */
  parent: Iova | null = null;
  /** @internal */
  red = true;

  constructor(pfnLo: number, pfnHi: number) {
    this.pfnLo = pfnLo;
    this.pfnHi = pfnHi;
  }

  /** The range only (the tree links are the allocator's business). */
  toJSON(): { pfnLo: number; pfnHi: number } {
    return { pfnLo: this.pfnLo, pfnHi: this.pfnHi };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Iova [0x${this.pfnLo.toString(16)}, 0x${this.pfnHi.toString(16)}]`;
  }
}

/** `struct rb_root` with the lib/rbtree.c operations iova.c needs. */
export class IovaRbTree {
  root: Iova | null = null;
  /** Nodes in the tree (the anchor included). */
  size = 0;

  /**
   * `iova_insert_rbtree(root, iova, start)`: links `node` by `pfnLo`, walking down from `start`
   * (a node the new range is known to sit below in the tree, or null for the root), then
   * rebalances. Returns false (and links nothing) on a duplicate `pfnLo`, the kernel's WARN_ON.
   */
  insert(node: Iova, start: Iova | null): boolean {
    let parent: Iova | null = null;
    let cur: Iova | null = start ?? this.root;
    let goLeft = false;
    while (cur !== null) {
      parent = cur;
      if (node.pfnLo < cur.pfnLo) {
        cur = cur.left;
        goLeft = true;
      } else if (node.pfnLo > cur.pfnLo) {
        cur = cur.right;
        goLeft = false;
      } else {
        return false;
      }
    }
    node.parent = parent;
    node.left = null;
    node.right = null;
    node.red = true;
    if (parent === null) this.root = node;
    else if (goLeft) parent.left = node;
    else parent.right = node;
    this.size++;
    this.insertColor(node);
    return true;
  }

  /** `rb_insert_color`. */
  private insertColor(node: Iova): void {
    let n = node;
    for (;;) {
      const parent = n.parent;
      if (parent === null) {
        n.red = false;
        return;
      }
      if (!parent.red) return;
      const gparent = parent.parent as Iova; // a red parent is never the root
      if (parent === gparent.left) {
        const uncle = gparent.right;
        if (uncle !== null && uncle.red) {
          parent.red = false;
          uncle.red = false;
          gparent.red = true;
          n = gparent;
          continue;
        }
        if (n === parent.right) {
          this.rotateLeft(parent);
          n = parent;
        }
        const p = n.parent as Iova;
        p.red = false;
        gparent.red = true;
        this.rotateRight(gparent);
        return;
      }
      const uncle = gparent.left;
      if (uncle !== null && uncle.red) {
        parent.red = false;
        uncle.red = false;
        gparent.red = true;
        n = gparent;
        continue;
      }
      if (n === parent.left) {
        this.rotateRight(parent);
        n = parent;
      }
      const p = n.parent as Iova;
      p.red = false;
      gparent.red = true;
      this.rotateLeft(gparent);
      return;
    }
  }

  private rotateLeft(x: Iova): void {
    const y = x.right as Iova;
    x.right = y.left;
    if (y.left !== null) y.left.parent = x;
    y.parent = x.parent;
    if (x.parent === null) this.root = y;
    else if (x === x.parent.left) x.parent.left = y;
    else x.parent.right = y;
    y.left = x;
    x.parent = y;
  }

  private rotateRight(x: Iova): void {
    const y = x.left as Iova;
    x.left = y.right;
    if (y.right !== null) y.right.parent = x;
    y.parent = x.parent;
    if (x.parent === null) this.root = y;
    else if (x === x.parent.right) x.parent.right = y;
    else x.parent.left = y;
    y.right = x;
    x.parent = y;
  }

  /** Replaces the subtree at `u` with the one at `v` (CLRS transplant). */
  private transplant(u: Iova, v: Iova | null): void {
    if (u.parent === null) this.root = v;
    else if (u === u.parent.left) u.parent.left = v;
    else u.parent.right = v;
    if (v !== null) v.parent = u.parent;
  }

  /** `rb_erase`: unlinks `node` and rebalances; the node's links are cleared. */
  erase(node: Iova): void {
    let fixNode: Iova | null;
    let fixParent: Iova | null;
    let removedRed = node.red;
    if (node.left === null) {
      fixNode = node.right;
      fixParent = node.parent;
      this.transplant(node, node.right);
    } else if (node.right === null) {
      fixNode = node.left;
      fixParent = node.parent;
      this.transplant(node, node.left);
    } else {
      let succ = node.right;
      while (succ.left !== null) succ = succ.left;
      removedRed = succ.red;
      fixNode = succ.right;
      if (succ.parent === node) {
        fixParent = succ;
      } else {
        fixParent = succ.parent;
        this.transplant(succ, succ.right);
        succ.right = node.right;
        succ.right.parent = succ;
      }
      this.transplant(node, succ);
      succ.left = node.left;
      succ.left.parent = succ;
      succ.red = node.red;
    }
    node.left = null;
    node.right = null;
    node.parent = null;
    this.size--;
    if (!removedRed) this.eraseColor(fixNode, fixParent);
  }

  /** `____rb_erase_color`: restores the black height after removing a black node. */
  private eraseColor(start: Iova | null, startParent: Iova | null): void {
    let x = start;
    let parent = startParent;
    while (x !== this.root && (x === null || !x.red)) {
      const p = parent as Iova;
      if (x === p.left) {
        let w = p.right as Iova;
        if (w.red) {
          w.red = false;
          p.red = true;
          this.rotateLeft(p);
          w = p.right as Iova;
        }
        if ((w.left === null || !w.left.red) && (w.right === null || !w.right.red)) {
          w.red = true;
          x = p;
          parent = p.parent;
        } else {
          if (w.right === null || !w.right.red) {
            (w.left as Iova).red = false;
            w.red = true;
            this.rotateRight(w);
            w = p.right as Iova;
          }
          w.red = p.red;
          p.red = false;
          if (w.right !== null) w.right.red = false;
          this.rotateLeft(p);
          x = this.root;
          parent = null;
        }
      } else {
        let w = p.left as Iova;
        if (w.red) {
          w.red = false;
          p.red = true;
          this.rotateRight(p);
          w = p.left as Iova;
        }
        if ((w.right === null || !w.right.red) && (w.left === null || !w.left.red)) {
          w.red = true;
          x = p;
          parent = p.parent;
        } else {
          if (w.left === null || !w.left.red) {
            (w.right as Iova).red = false;
            w.red = true;
            this.rotateLeft(w);
            w = p.left as Iova;
          }
          w.red = p.red;
          p.red = false;
          if (w.left !== null) w.left.red = false;
          this.rotateRight(p);
          x = this.root;
          parent = null;
        }
      }
    }
    if (x !== null) x.red = false;
  }

  /** `rb_first`: the lowest range. */
  first(): Iova | null {
    let n = this.root;
    if (n === null) return null;
    while (n.left !== null) n = n.left;
    return n;
  }

  /** `rb_next`: the in-order successor. */
  static next(node: Iova): Iova | null {
    if (node.right !== null) {
      let n = node.right;
      while (n.left !== null) n = n.left;
      return n;
    }
    let n = node;
    let p = n.parent;
    while (p !== null && n === p.right) {
      n = p;
      p = p.parent;
    }
    return p;
  }

  /** `rb_prev`: the in-order predecessor. */
  static prev(node: Iova): Iova | null {
    if (node.left !== null) {
      let n = node.left;
      while (n.right !== null) n = n.right;
      return n;
    }
    let n = node;
    let p = n.parent;
    while (p !== null && n === p.left) {
      n = p;
      p = p.parent;
    }
    return p;
  }

  /**
   * Checks the red-black and ordering invariants and returns the black height; throws on a
   * violation (for tests).
   */
  verify(): number {
    if (this.root !== null && this.root.red) throw new Error('rbtree: red root');
    let count = 0;
    const walk = (n: Iova | null, lo: number, hi: number): number => {
      if (n === null) return 1;
      count++;
      if (n.pfnLo <= lo || n.pfnLo >= hi) throw new Error(`rbtree: order violated at ${n.pfnLo}`);
      if (n.red && ((n.left !== null && n.left.red) || (n.right !== null && n.right.red))) throw new Error('rbtree: red node with red child');
      if (n.left !== null && n.left.parent !== n) throw new Error('rbtree: bad parent link');
      if (n.right !== null && n.right.parent !== n) throw new Error('rbtree: bad parent link');
      const bl = walk(n.left, lo, n.pfnLo);
      const br = walk(n.right, n.pfnLo, hi);
      if (bl !== br) throw new Error('rbtree: black height differs');
      return bl + (n.red ? 0 : 1);
    };
    const h = walk(this.root, -Infinity, Infinity);
    if (count !== this.size) throw new Error(`rbtree: size ${this.size} but ${count} nodes`);
    return h;
  }
}
