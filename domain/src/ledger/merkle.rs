//! The transparency log's tree (DESIGN.md §9): RFC 6962 over the ledger's event hashes,
//! leaf `i` (0-based) being event `seq = i + 1`. Leaf hash `SHA-256(0x00 ‖ event hash)`,
//! node `SHA-256(0x01 ‖ left ‖ right)`, the empty tree `SHA-256("")`.
//!
//! Written here rather than taken from a crate: the well-kept Merkle crates (`rs_merkle`,
//! `ct-merkle`) keep the whole tree in memory, while MedChain keeps it in PostgreSQL as
//! the hashes of complete, aligned subtrees — `(level, index)` covers leaves
//! `index·2^level .. (index+1)·2^level` — so any root or proof costs O(log n) node
//! reads. Every algorithm here therefore asks a `nodes` function for the subtrees it
//! needs; `needed` runs the same algorithm to list them first, so a caller can read them
//! all in one query (which nodes an answer needs never depends on their hashes).
//!
//! The proofs are RFC 6962 §2.1.1 (`PATH`) and §2.1.2 (`PROOF`); their checks are
//! RFC 9162 §2.1.3.2 and §2.1.4.2.

use super::Hash;
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::BTreeSet;

/// A complete subtree: `(level, index)`, covering `2^level` leaves from `index·2^level`.
pub type Node = (u32, u64);

pub fn leaf_hash(event_hash: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(event_hash.as_bytes());
    Hash::from_bytes(h.finalize().into())
}

pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left.as_bytes());
    h.update(right.as_bytes());
    Hash::from_bytes(h.finalize().into())
}

pub fn empty_root() -> Hash {
    Hash::from_bytes(Sha256::digest([]).into())
}

/// The largest power of two smaller than `n` (n ≥ 2).
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// MTH of the `n` leaves from `start`, where `start` is a multiple of the largest power
/// of two not above `n` (true of every range the RFC's recursion visits).
fn subtree_root(start: u64, n: u64, nodes: &mut impl FnMut(Node) -> Hash) -> Hash {
    if n.is_power_of_two() {
        let level = n.trailing_zeros();
        return nodes((level, start >> level));
    }
    let k = split(n);
    let left = subtree_root(start, k, nodes);
    let right = subtree_root(start + k, n - k, nodes);
    node_hash(&left, &right)
}

/// The hash of a complete subtree from its leaf hashes (a power of two of them, in
/// order): for a store that keeps only the larger subtrees and computes the small ones
/// from the events under them.
pub fn subtree_from_leaves(leaves: &[Hash]) -> Hash {
    debug_assert!(leaves.len().is_power_of_two());
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| node_hash(&pair[0], &pair[1]))
            .collect();
    }
    level[0]
}

/// The root of the tree of the first `size` leaves.
pub fn root(size: u64, mut nodes: impl FnMut(Node) -> Hash) -> Hash {
    if size == 0 {
        return empty_root();
    }
    subtree_root(0, size, &mut nodes)
}

/// The audit path of leaf `index` in the tree of `size` leaves (RFC 6962 `PATH`), from
/// the leaf's sibling up. `None` unless `index < size`.
pub fn inclusion_path(
    index: u64,
    size: u64,
    mut nodes: impl FnMut(Node) -> Hash,
) -> Option<Vec<Hash>> {
    if index >= size {
        return None;
    }
    let mut path = Vec::new();
    path_of(index, 0, size, &mut nodes, &mut path);
    Some(path)
}

fn path_of(m: u64, start: u64, n: u64, nodes: &mut impl FnMut(Node) -> Hash, out: &mut Vec<Hash>) {
    if n == 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path_of(m, start, k, nodes, out);
        out.push(subtree_root(start + k, n - k, nodes));
    } else {
        path_of(m - k, start + k, n - k, nodes, out);
        out.push(subtree_root(start, k, nodes));
    }
}

/// The consistency proof from the tree of `from` leaves to the tree of `to` (RFC 6962
/// `PROOF`). `None` unless `0 < from ≤ to`.
pub fn consistency_path(
    from: u64,
    to: u64,
    mut nodes: impl FnMut(Node) -> Hash,
) -> Option<Vec<Hash>> {
    if from == 0 || from > to {
        return None;
    }
    let mut path = Vec::new();
    subproof(from, 0, to, true, &mut nodes, &mut path);
    Some(path)
}

fn subproof(
    m: u64,
    start: u64,
    n: u64,
    whole: bool,
    nodes: &mut impl FnMut(Node) -> Hash,
    out: &mut Vec<Hash>,
) {
    if m == n {
        if !whole {
            out.push(subtree_root(start, n, nodes));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, start, k, whole, nodes, out);
        out.push(subtree_root(start + k, n - k, nodes));
    } else {
        subproof(m - k, start + k, n - k, false, nodes, out);
        out.push(subtree_root(start, k, nodes));
    }
}

/// The subtrees `answer` asks for, in the order it asks: run it with this, read them, run
/// it again with the hashes read.
pub fn needed<T>(answer: impl FnOnce(&mut dyn FnMut(Node) -> Hash) -> T) -> Vec<Node> {
    let asked = RefCell::new(BTreeSet::new());
    let mut record = |node: Node| {
        asked.borrow_mut().insert(node);
        Hash::ZERO
    };
    answer(&mut record);
    asked.into_inner().into_iter().collect()
}

/// Whether `path` proves leaf `index` (with `leaf`, a leaf hash) in the tree of `size`
/// leaves whose root is `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, path: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    s_n == 0 && r == *root
}

/// Whether `path` proves the tree of `from` leaves (root `from_root`) is a prefix of the
/// tree of `to` leaves (root `to_root`) (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    from: u64,
    to: u64,
    from_root: &Hash,
    to_root: &Hash,
    path: &[Hash],
) -> bool {
    if from == 0 || from > to {
        return false;
    }
    if from == to {
        return path.is_empty() && from_root == to_root;
    }
    let mut path: Vec<Hash> = path.to_vec();
    if from.is_power_of_two() {
        path.insert(0, *from_root);
    }
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let (mut f_n, mut s_n) = (from - 1, to - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut f_r, mut s_r) = (*first, *first);
    for c in rest {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    f_r == *from_root && s_r == *to_root && s_n == 0
}

/// The subtrees completed by appending leaf `index` whose hash is `leaf`, bottom up:
/// the leaf itself, then each parent its arrival completes. `left` gives the left sibling
/// at a level (a subtree completed earlier).
pub fn completed_by(
    index: u64,
    leaf: Hash,
    mut left: impl FnMut(Node) -> Hash,
) -> Vec<(Node, Hash)> {
    let mut out = vec![((0, index), leaf)];
    let (mut level, mut i, mut hash) = (0u32, index, leaf);
    while i & 1 == 1 {
        let sibling = left((level, i - 1));
        hash = node_hash(&sibling, &hash);
        level += 1;
        i >>= 1;
        out.push(((level, i), hash));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A tree held in memory, built leaf by leaf with `completed_by`, as the projector does.
    struct Tree {
        nodes: HashMap<Node, Hash>,
        leaves: Vec<Hash>,
    }

    impl Tree {
        fn of(size: u64) -> Self {
            let mut tree = Tree {
                nodes: HashMap::new(),
                leaves: Vec::new(),
            };
            for i in 0..size {
                let leaf = leaf_hash(&Hash::from_bytes(Sha256::digest(i.to_be_bytes()).into()));
                tree.leaves.push(leaf);
                for (node, hash) in completed_by(i, leaf, |n| tree.nodes[&n]) {
                    tree.nodes.insert(node, hash);
                }
            }
            tree
        }

        fn node(&self) -> impl FnMut(Node) -> Hash + '_ {
            |n| self.nodes[&n]
        }
    }

    /// RFC 6962's MTH, straight from its definition, over the leaf hashes.
    fn reference_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split(n as u64) as usize;
                node_hash(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
            }
        }
    }

    #[test]
    fn roots_match_the_definition_at_every_size() {
        let tree = Tree::of(70);
        for size in 0..=70 {
            assert_eq!(
                root(size, tree.node()),
                reference_root(&tree.leaves[..size as usize]),
                "size {size}"
            );
        }
        assert_eq!(
            empty_root().to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn every_inclusion_proof_verifies_and_a_wrong_one_does_not() {
        let tree = Tree::of(41);
        for size in 1..=40u64 {
            let r = root(size, tree.node());
            for index in 0..size {
                let path = inclusion_path(index, size, tree.node()).unwrap();
                let leaf = tree.leaves[index as usize];
                assert!(
                    verify_inclusion(&leaf, index, size, &path, &r),
                    "{index} in {size}"
                );
                let other = tree.leaves[((index + 1) % size) as usize];
                if size > 1 {
                    assert!(!verify_inclusion(&other, index, size, &path, &r));
                }
                // Against the next size's root (the head a forger would need), it fails.
                let next = root(size + 1, tree.node());
                assert!(!verify_inclusion(&leaf, index, size + 1, &path, &next));
            }
        }
        assert!(inclusion_path(3, 3, tree.node()).is_none());
    }

    #[test]
    fn every_consistency_proof_verifies_and_a_wrong_one_does_not() {
        let tree = Tree::of(40);
        for to in 1..=40u64 {
            let to_root = root(to, tree.node());
            for from in 1..=to {
                let from_root = root(from, tree.node());
                let path = consistency_path(from, to, tree.node()).unwrap();
                assert!(
                    verify_consistency(from, to, &from_root, &to_root, &path),
                    "{from} → {to}"
                );
                if from < to {
                    let forged = root(from - 1, tree.node());
                    assert!(!verify_consistency(from, to, &forged, &to_root, &path));
                }
            }
        }
        assert!(consistency_path(0, 3, tree.node()).is_none());
        assert!(consistency_path(4, 3, tree.node()).is_none());
    }

    #[test]
    fn an_answer_needs_logarithmically_many_nodes_and_says_which() {
        let size = 1_000_003u64;
        let wanted = needed(|nodes| root(size, nodes));
        assert!(wanted.len() <= 20, "{}", wanted.len());
        let proof = needed(|nodes| inclusion_path(12_345, size, nodes));
        assert!(proof.len() <= 40, "{}", proof.len());
        let consistency = needed(|nodes| consistency_path(77_777, size, nodes));
        assert!(consistency.len() <= 60, "{}", consistency.len());
    }

    #[test]
    fn a_subtree_from_its_leaves_is_the_root_of_those_leaves() {
        let l: Vec<Hash> = (0..4u8)
            .map(|i| leaf_hash(&Hash::from_bytes([i; 32])))
            .collect();
        assert_eq!(subtree_from_leaves(&l[..1]), l[0]);
        assert_eq!(subtree_from_leaves(&l[..2]), node_hash(&l[0], &l[1]));
        assert_eq!(
            subtree_from_leaves(&l),
            node_hash(&node_hash(&l[0], &l[1]), &node_hash(&l[2], &l[3]))
        );
    }
}
