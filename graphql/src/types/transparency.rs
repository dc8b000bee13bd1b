//! The transparency log's types (API.graphql, DESIGN.md §9): signed tree heads, their
//! cosignatures, and proofs. Everything here is hashes and signatures: nothing personal,
//! so anyone may ask.

use crate::scalars::{DateTime, Long};
use async_graphql::{ComplexObject, Context, Object, Result, SimpleObject};
use domain::ledger::{Hash, SignedCheckpoint};

/// A witness's cosignature over a head (kept beside it, outside its signed message).
#[derive(SimpleObject, Clone)]
pub struct Cosignature {
    /// The witness's Ed25519 public key, hex.
    pub witness: String,
    pub name: String,
    pub at: DateTime,
    pub sig: String,
}

/// A signed tree head: a checkpoint that carries the Merkle root of the first `size`
/// events and signs it with the chain hash of event `size`.
pub struct TreeHead {
    pub signed: SignedCheckpoint,
    pub cosignatures: Vec<Cosignature>,
}

impl TreeHead {
    /// `None` for a checkpoint without a root (written before the tree existed).
    pub fn of(signed: SignedCheckpoint, cosignatures: Vec<Cosignature>) -> Option<Self> {
        signed.checkpoint.root.is_some().then_some(Self {
            signed,
            cosignatures,
        })
    }

    fn root_hash(&self) -> Hash {
        self.signed
            .checkpoint
            .root
            .expect("a tree head has a root (TreeHead::of)")
    }
}

#[Object]
impl TreeHead {
    /// = the seq of the last event it covers.
    async fn size(&self) -> Long {
        Long(self.signed.checkpoint.seq)
    }

    /// The Merkle root (RFC 6962), hex.
    async fn root(&self) -> String {
        self.root_hash().to_hex()
    }

    /// The chain hash of event `size`: ties the tree to the chain.
    async fn hash(&self) -> String {
        self.signed.checkpoint.hash.to_hex()
    }

    async fn at(&self) -> DateTime {
        DateTime(self.signed.checkpoint.at)
    }

    /// The ledger's public key, hex.
    async fn key(&self) -> String {
        hex::encode(self.signed.key.as_bytes())
    }

    /// Ed25519 over the JCS bytes of `{"seq","hash","root","at"}`, hex.
    async fn sig(&self) -> String {
        hex::encode(self.signed.sig.to_bytes())
    }

    async fn cosignatures(&self) -> &[Cosignature] {
        &self.cosignatures
    }
}

/// A configured witness as administrators watch it.
#[derive(SimpleObject)]
pub struct WitnessStatus {
    pub name: String,
    /// Its Ed25519 public key, hex.
    pub key: String,
    /// The size of the newest head it cosigned, and when it did.
    pub last_cosigned_size: Option<Long>,
    pub last_cosigned_at: Option<DateTime>,
    /// It has cosigned nothing for longer than the set time (`MEDCHAIN_WITNESS_SILENCE`),
    /// or never.
    pub silent: bool,
}

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct InclusionProof {
    pub seq: Long,
    pub leaf_hash: String,
    pub tree_size: Long,
    /// RFC 6962 PATH(seq − 1, D[treeSize]), hex, from the leaf's sibling up.
    pub path: Vec<String>,
}

#[ComplexObject]
impl InclusionProof {
    /// The signed head of that size, when one was signed. Read only when asked for: a
    /// client that holds the head already asks for the path alone.
    async fn head(&self, ctx: &Context<'_>) -> Result<Option<TreeHead>> {
        crate::api::transparency::head_of_size(crate::context::services(ctx), self.tree_size.0)
            .await
    }
}

#[derive(SimpleObject)]
pub struct ConsistencyProof {
    pub from_size: Long,
    pub to_size: Long,
    /// RFC 6962 PROOF(fromSize, D[toSize]), hex.
    pub path: Vec<String>,
}

pub fn hex_path(path: &[Hash]) -> Vec<String> {
    path.iter().map(Hash::to_hex).collect()
}
