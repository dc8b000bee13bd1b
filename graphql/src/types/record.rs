//! `Record`, `Share` and `AccessEntry`: what a viewer may see of a record, decided field
//! by field by the access rules (`domain::record::access`) asked once, when the object is
//! made. Medical fields are opened only for the owner and doctors with a live share;
//! administrators asking for them get FORBIDDEN; owner-only fields answer FORBIDDEN to
//! anyone else.

use super::enums::{AccessAction, RecordStatus};
use super::page::{PageInfo, page, page_size, parse_seq_cursor, seq_cursor};
use super::transparency::{InclusionProof, TreeHead};
use super::user::User;
use crate::api::transparency;
use crate::context::services;
use crate::error::{Code, ToGql as _, error, missing_from_view};
use crate::loaders;
use crate::scalars::{DateTime, Long};
use async_graphql::{Context, Object, Result, SimpleObject};
use domain::Timestamp;
use domain::account::sees_contact_details;
use domain::record::{Access, Viewer, access};
use projections::records::{self, AccessRow, Medical, RecordView, ShareView};
use std::sync::{Arc, OnceLock};
use tokio::sync::OnceCell;
use uuid::Uuid;

#[derive(Clone)]
pub struct Record {
    view: Arc<RecordView>,
    viewer: Viewer,
    access: Access,
    medical: Arc<OnceLock<Option<Medical>>>,
}

impl Record {
    /// The record as `viewer` may see it at `now`; `None` when it is not theirs to see.
    pub fn seen_by(view: RecordView, viewer: Viewer, now: Timestamp) -> Option<Self> {
        Self::seen_in(view, viewer, now, None)
    }

    /// The record as a proxy of its owner sees it, under `proxy` (their live grant
    /// covering it, from the owner's proxies).
    pub fn seen_as_proxy(
        view: RecordView,
        viewer: Viewer,
        now: Timestamp,
        proxy: Option<(Uuid, domain::proxy::ProxyScope)>,
    ) -> Option<Self> {
        let facts = domain::record::RecordFacts {
            proxy,
            ..view.facts(None)
        };
        let access = access(viewer, facts, now);
        access.sees_record().then(|| Self {
            view: Arc::new(view),
            viewer,
            access,
            medical: Arc::default(),
        })
    }

    /// The record under an access the rules already decided (`record_access`).
    pub fn with_access(view: RecordView, viewer: Viewer, access: Access) -> Option<Self> {
        access.sees_record().then(|| Self {
            view: Arc::new(view),
            viewer,
            access,
            medical: Arc::default(),
        })
    }

    /// What a doctor a record is referred to sees before the owner approves: that it
    /// exists and whose it is, nothing of its content.
    pub fn referred(view: RecordView, viewer: Viewer) -> Self {
        Self {
            view: Arc::new(view),
            viewer,
            access: Access::Stranger,
            medical: Arc::default(),
        }
    }

    /// The same, for a doctor holding `emergency`, an open emergency access to the
    /// record's owner.
    pub fn seen_in(
        view: RecordView,
        viewer: Viewer,
        now: Timestamp,
        emergency: Option<domain::emergency::EmergencyId>,
    ) -> Option<Self> {
        let access = access(viewer, view.facts(emergency), now);
        access.sees_record().then(|| Self {
            view: Arc::new(view),
            viewer,
            access,
            medical: Arc::default(),
        })
    }

    fn medical(&self) -> Result<Option<&Medical>> {
        if self.access == Access::Oversight {
            return Err(error(
                Code::Forbidden,
                "administrators never see medical content",
            ));
        }
        if !self.access.sees_medical_content() {
            return Ok(None);
        }
        if let Some(opened) = self.medical.get() {
            return Ok(opened.as_ref());
        }
        let opened = self.view.medical().map_err(|e| e.gql())?;
        Ok(self.medical.get_or_init(|| opened).as_ref())
    }

    fn owner_only(&self, what: &str) -> Result<()> {
        if self.access.is_owner() {
            Ok(())
        } else {
            Err(error(
                Code::Forbidden,
                format!("only the record's owner sees its {what}"),
            ))
        }
    }
}

#[Object]
impl Record {
    async fn id(&self) -> Uuid {
        self.view.id.as_uuid()
    }

    async fn owner(&self, ctx: &Context<'_>) -> Result<User> {
        let owner = self.view.owner;
        let view = loaders::user(ctx, owner.as_uuid())
            .await
            .map_err(|e| e.gql())?
            .ok_or_else(|| missing_from_view("user", owner.as_uuid()))?;
        Ok(User::new(
            view,
            sees_contact_details(self.viewer, self.view.owner),
        ))
    }

    /// Who stored it: the owner, or a doctor who added it to the owner's file (and
    /// reads it through a share made with it, which the owner may revoke).
    async fn author(&self, ctx: &Context<'_>) -> Result<User> {
        let author = self.view.author;
        let view = loaders::user(ctx, author.as_uuid())
            .await
            .map_err(|e| e.gql())?
            .ok_or_else(|| missing_from_view("user", author.as_uuid()))?;
        Ok(User::new(view, sees_contact_details(self.viewer, author)))
    }

    /// Sealed at rest; null once erased.
    async fn title(&self) -> Result<Option<&str>> {
        Ok(self.medical()?.map(|m| m.title.as_str()))
    }

    async fn description(&self) -> Result<Option<&str>> {
        Ok(self.medical()?.and_then(|m| m.description.as_deref()))
    }

    async fn file_name(&self) -> Result<Option<&str>> {
        Ok(self.medical()?.map(|m| m.file_name.as_str()))
    }

    async fn content_type(&self) -> &str {
        &self.view.content_type
    }

    /// Bytes of plaintext.
    async fn size(&self) -> Long {
        Long(self.view.size)
    }

    /// Hex SHA-256 of the stored ciphertext, as in the ledger.
    async fn sha256(&self) -> &str {
        &self.view.sha256
    }

    async fn uploaded_at(&self) -> DateTime {
        DateTime(self.view.uploaded_at)
    }

    /// The owner and administrators: whether a legal hold stands on the record (or on its
    /// owner), which keeps it from being erased. Never why. Null for anyone else.
    async fn legal_hold(&self, ctx: &Context<'_>) -> Result<Option<bool>> {
        if !(self.access.is_owner() || self.access == Access::Oversight) {
            return Ok(None);
        }
        let held = projections::legal_holds::record_held(
            &services(ctx).pool,
            self.view.id.as_uuid(),
            self.view.owner.as_uuid(),
        )
        .await
        .map_err(|e| e.gql())?;
        Ok(Some(held))
    }

    async fn status(&self) -> RecordStatus {
        if self.view.erased {
            RecordStatus::Erased
        } else {
            RecordStatus::Active
        }
    }

    async fn content_url(&self) -> String {
        format!("/api/records/{}/content", self.view.id)
    }

    /// The caller's own live share of the record (a doctor's), with its expiry; null for
    /// anyone else.
    async fn my_share(&self, ctx: &Context<'_>) -> Result<Option<Share>> {
        let Access::Shared(id) = self.access else {
            return Ok(None);
        };
        let s = services(ctx);
        let share = records::find_share(&s.pool, id)
            .await
            .map_err(|e| e.gql())?;
        Ok(share.map(|view| Share::new(view, self.clone(), s.clock.now())))
    }

    /// Owner only: every share, live or ended, oldest first.
    async fn shares(&self, ctx: &Context<'_>) -> Result<Vec<Share>> {
        self.owner_only("shares")?;
        let s = services(ctx);
        let now = s.clock.now();
        let shares = records::shares_of(&s.pool, self.view.id)
            .await
            .map_err(|e| e.gql())?;
        Ok(shares
            .into_iter()
            .map(|view| Share::new(view, self.clone(), now))
            .collect())
    }

    /// Owner only: who did what with the record, newest first.
    #[graphql(complexity = "crate::types::page::cost(first, child_complexity)")]
    async fn access_log(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<AccessEntryConnection> {
        self.owner_only("access log")?;
        let s = services(ctx);
        let limit = page_size(first)?;
        let before = after.as_deref().map(parse_seq_cursor).transpose()?;
        let rows = records::access_log(&s.pool, self.view.id, before, limit + 1)
            .await
            .map_err(|e| e.gql())?;
        let record = (!self.view.erased).then(|| self.clone());
        Ok(AccessEntryConnection::page(
            rows,
            limit,
            |_| record.clone(),
            true,
        ))
    }
}

#[derive(SimpleObject)]
pub struct RecordEdge {
    pub cursor: String,
    pub node: Record,
}

#[derive(SimpleObject)]
pub struct RecordConnection {
    pub edges: Vec<RecordEdge>,
    pub page_info: PageInfo,
    pub total_count: i32,
}

pub struct Share {
    view: ShareView,
    record: Record,
    now: Timestamp,
}

impl Share {
    pub fn new(view: ShareView, record: Record, now: Timestamp) -> Self {
        Self { view, record, now }
    }
}

#[Object]
impl Share {
    async fn id(&self) -> Uuid {
        self.view.id.as_uuid()
    }

    async fn record(&self) -> &Record {
        &self.record
    }

    async fn doctor(&self, ctx: &Context<'_>) -> Result<User> {
        let doctor = self.view.doctor;
        let view = loaders::user(ctx, doctor.as_uuid())
            .await
            .map_err(|e| e.gql())?
            .ok_or_else(|| missing_from_view("user", doctor.as_uuid()))?;
        Ok(User::new(
            view,
            sees_contact_details(self.record.viewer, self.view.doctor),
        ))
    }

    async fn granted_at(&self) -> DateTime {
        DateTime(self.view.granted_at)
    }

    /// Null: until revoked.
    async fn expires_at(&self) -> Option<DateTime> {
        self.view.expires_at.map(DateTime)
    }

    async fn revoked_at(&self) -> Option<DateTime> {
        self.view.revoked_at.map(DateTime)
    }

    /// Lets its doctor read now.
    async fn active(&self) -> bool {
        self.view.share().is_live(self.now) && !self.record.view.erased
    }
}

pub struct AccessEntry {
    row: AccessRow,
    record: Option<Record>,
    /// Whether the viewer owns the records listed (the proofs are theirs).
    owner: bool,
    /// The newest signed tree head's size, read once for the whole page when a proof is
    /// first asked.
    newest_head: Arc<OnceCell<Option<Arc<TreeHead>>>>,
}

impl AccessEntry {
    /// The newest signed tree head, read once for the page, if it covers this entry.
    async fn covering_head(&self, ctx: &Context<'_>) -> Result<Option<Arc<TreeHead>>> {
        if !self.owner {
            return Err(error(
                Code::Forbidden,
                "only the records' owner may ask for the proofs of their access log",
            ));
        }
        let s = services(ctx);
        let newest = self
            .newest_head
            .get_or_try_init(|| async {
                Ok::<_, async_graphql::Error>(transparency::newest_head(s).await?.map(Arc::new))
            })
            .await?;
        Ok(newest
            .as_ref()
            .filter(|h| h.signed.checkpoint.seq >= self.row.seq)
            .cloned())
    }
}

#[Object]
impl AccessEntry {
    async fn seq(&self) -> Long {
        Long(self.row.seq)
    }

    /// Owner only: this entry's event in the newest signed tree head; null until a head
    /// covers it.
    async fn proof(&self, ctx: &Context<'_>) -> Result<Option<InclusionProof>> {
        let Some(head) = self.covering_head(ctx).await? else {
            return Ok(None);
        };
        let size = head.signed.checkpoint.seq;
        transparency::inclusion(services(ctx), self.row.seq, Some(size))
            .await
            .map(Some)
    }

    /// Owner only: the receipt file of DESIGN.md §9 for this entry's event (the event's
    /// export line, its inclusion proof and the newest signed tree head with its
    /// cosignatures), which `medchain ledger check-proof` and the web app check; null
    /// until a head covers it.
    async fn receipt(&self, ctx: &Context<'_>) -> Result<Option<crate::scalars::JsonValue>> {
        let Some(head) = self.covering_head(ctx).await? else {
            return Ok(None);
        };
        transparency::receipt(services(ctx), self.row.seq, &head)
            .await
            .map(|r| Some(crate::scalars::JsonValue(r)))
    }

    async fn at(&self) -> DateTime {
        DateTime(Timestamp::from_datetime(self.row.at))
    }

    /// Who acted; null for MedChain itself (an expiry).
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let Some(actor) = self.row.actor_id else {
            return Ok(None);
        };
        let view = loaders::user(ctx, actor).await.map_err(|e| e.gql())?;
        Ok(view.map(|v| User::new(v, false)))
    }

    async fn action(&self) -> Result<AccessAction> {
        AccessAction::parse(&self.row.action).ok_or_else(|| {
            tracing::error!(
                seq = self.row.seq,
                "an access log row has an unknown action"
            );
            error(Code::Internal, "internal error")
        })
    }

    async fn record_id(&self) -> Uuid {
        self.row.record_id
    }

    /// Null once erased or when the caller may no longer see it.
    async fn record(&self) -> Option<&Record> {
        self.record.as_ref()
    }

    async fn detail(&self) -> Option<&str> {
        self.row.detail.as_deref()
    }
}

#[derive(SimpleObject)]
pub struct AccessEntryEdge {
    pub cursor: String,
    pub node: AccessEntry,
}

#[derive(SimpleObject)]
pub struct AccessEntryConnection {
    pub edges: Vec<AccessEntryEdge>,
    pub page_info: PageInfo,
}

impl AccessEntryConnection {
    /// `rows`: up to `limit + 1`, the extra one only telling that there is a next page.
    pub fn page(
        rows: Vec<AccessRow>,
        limit: i64,
        record_of: impl Fn(&AccessRow) -> Option<Record>,
        owner: bool,
    ) -> Self {
        let newest_head = Arc::new(OnceCell::new());
        let (edges, page_info) = page(rows, limit, |row| {
            Some(AccessEntryEdge {
                cursor: seq_cursor(row.seq),
                node: AccessEntry {
                    record: record_of(&row),
                    row,
                    owner,
                    newest_head: newest_head.clone(),
                },
            })
        });
        Self { edges, page_info }
    }
}
