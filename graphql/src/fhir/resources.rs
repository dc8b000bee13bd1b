//! MedChain's facts as FHIR R4 resources, through the `fhir` crate's R4 model (so the
//! shapes, codes and required fields are the specification's, not ours): `Patient`,
//! `DocumentReference`, `Consent` (a share, a proxy grant, a share link), `AuditEvent`
//! (an access log line, after IHE's Basic Audit Log Patterns), `Provenance` (a record a
//! doctor added). Each function takes what the access rules already let the caller see;
//! none decides anything.
//!
//! Ids are MedChain's UUIDs. People other than patients have no resource here, so they
//! are named by a logical reference (`identifier` in `urn:medchain:user`, and a display
//! name), never by a reference that would not resolve.

use domain::Timestamp;
use domain::account::Role;
use fhir::r4::{
    builder::BuilderError,
    coded::Coded,
    codes::{
        AuditEventAction, AuditEventOutcome, ConsentDataMeaning, ConsentProvisionType,
        ConsentStateCodes, ContactPointSystem, DocumentReferenceStatus,
    },
    resources::{
        AuditEvent, Consent, DocumentReference, Patient, Provenance, Resource,
        audit_event::{AuditEventAgent, AuditEventEntity, AuditEventSource},
        consent::{ConsentProvision, ConsentProvisionActor, ConsentProvisionData},
        document_reference::DocumentReferenceContent,
        provenance::ProvenanceAgent,
    },
    types::{
        Attachment, Boolean, CodeableConcept, Coding, ContactPoint, DateTime, HumanName,
        Identifier, Instant, Period, Reference, String as FhirString, UnsignedInt, Uri, Url,
    },
};
use uuid::Uuid;

/// The system of MedChain's account ids in logical references.
pub const USER_SYSTEM: &str = "urn:medchain:user";
/// The system of the SHA-256 of a record's ciphertext, which its ledger event commits to.
pub const CIPHERTEXT_SHA256_SYSTEM: &str = "urn:medchain:ciphertext-sha256";

pub fn instant(at: Timestamp) -> Instant {
    Instant(
        at.to_datetime()
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    )
}

pub fn date_time(at: Timestamp) -> DateTime {
    DateTime(
        at.to_datetime()
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    )
}

fn text(s: impl Into<String>) -> FhirString {
    FhirString(s.into())
}

pub fn coding(system: &str, code: &str, display: Option<&str>) -> Coding {
    Coding {
        system: Some(Uri(system.into())),
        code: Some(fhir::r4::types::Code(code.into())),
        display: display.map(text),
        ..Default::default()
    }
}

fn concept(codings: Vec<Coding>) -> CodeableConcept {
    CodeableConcept {
        coding: codings,
        ..Default::default()
    }
}

pub fn patient_ref<T>(id: Uuid) -> Reference<T> {
    Reference {
        reference: Some(text(format!("Patient/{id}"))),
        ..Default::default()
    }
}

pub fn document_ref<T>(id: Uuid) -> Reference<T> {
    Reference {
        reference: Some(text(format!("DocumentReference/{id}"))),
        ..Default::default()
    }
}

/// A person as an author, an agent or an actor names them: their `Patient` when they
/// are a patient, else a logical reference with their name.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: Uuid,
    pub role: Option<Role>,
    pub name: Option<String>,
}

impl Person {
    pub fn reference<T>(&self) -> Reference<T> {
        if self.role == Some(Role::Patient) {
            return Reference {
                display: self.name.clone().map(text),
                ..patient_ref(self.id)
            };
        }
        let kind = match self.role {
            Some(Role::Doctor) => "Practitioner",
            _ => "RelatedPerson",
        };
        Reference {
            r#type: Some(Uri(kind.into())),
            identifier: Some(Identifier {
                system: Some(Uri(USER_SYSTEM.into())),
                value: Some(text(self.id.to_string())),
                ..Default::default()
            }),
            display: self.name.clone().map(text),
            ..Default::default()
        }
    }
}

/// What the caller may see of a person: `contact` when the rules about people allow
/// their e-mail address and phone.
pub fn patient(
    view: &projections::users::UserView,
    contact: bool,
) -> Result<Resource, BuilderError> {
    let mut telecom = Vec::new();
    if contact {
        if let Some(email) = &view.email {
            telecom.push(ContactPoint {
                system: Some(Coded::Known(ContactPointSystem::Email)),
                value: Some(text(email.clone())),
                ..Default::default()
            });
        }
        if let Some(phone) = &view.phone {
            telecom.push(ContactPoint {
                system: Some(Coded::Known(ContactPointSystem::Phone)),
                value: Some(text(phone.clone())),
                ..Default::default()
            });
        }
    }
    let name = view
        .name
        .clone()
        .map(|n| HumanName {
            text: Some(text(n)),
            ..Default::default()
        })
        .into_iter()
        .collect();
    let patient = Patient::builder()
        .id(text(view.id.to_string()))
        .identifier(vec![Identifier {
            system: Some(Uri(USER_SYSTEM.into())),
            value: Some(text(view.id.to_string())),
            ..Default::default()
        }])
        .active(Boolean(
            view.status == domain::account::AccountStatus::Active,
        ))
        .name(name)
        .telecom(telecom)
        .build()?;
    Ok(Resource::Patient(Box::new(patient)))
}

/// A record's metadata, for a caller who may see its medical fields: title (as the
/// description: R4's DocumentReference has no title), type, size, the hash the ledger
/// commits to, author, date, and where its content is (`Binary/{id}`).
///
/// FHIR's `Attachment.hash` is the SHA-1 of the plaintext, which MedChain never keeps;
/// the SHA-256 of the ciphertext, which the upload's ledger event names, is given as an
/// identifier instead.
pub fn document_reference(
    base: &str,
    view: &projections::records::RecordView,
    medical: &projections::records::Medical,
    author: &Person,
) -> Result<Resource, BuilderError> {
    let id = view.id.as_uuid();
    let added_by_doctor = view.author != view.owner;
    let kind = if added_by_doctor {
        "Document a doctor added to the patient's record"
    } else {
        "Document the patient uploaded"
    };
    let attachment = Attachment {
        content_type: Some(fhir::r4::types::Code(view.content_type.clone())),
        url: Some(Url(format!("{base}/Binary/{id}"))),
        size: Some(UnsignedInt(u32::try_from(view.size).unwrap_or(u32::MAX))),
        title: Some(text(medical.file_name.clone())),
        creation: Some(date_time(view.uploaded_at)),
        ..Default::default()
    };
    let document = DocumentReference::builder()
        .id(text(id.to_string()))
        .identifier(vec![Identifier {
            system: Some(Uri(CIPHERTEXT_SHA256_SYSTEM.into())),
            value: Some(text(view.sha256.clone())),
            ..Default::default()
        }])
        .status(Coded::Known(DocumentReferenceStatus::Current))
        .r#type(CodeableConcept {
            text: Some(text(kind)),
            ..Default::default()
        })
        .subject(patient_ref(view.owner.as_uuid()))
        .date(instant(view.uploaded_at))
        .author(vec![author.reference()])
        .description(text(medical.title.clone()))
        .content(vec1::vec1![DocumentReferenceContent {
            attachment,
            ..Default::default()
        }])
        .build()?;
    Ok(Resource::DocumentReference(Box::new(document)))
}

/// Who a consent lets in, and to what.
pub struct Permit<'a> {
    pub id: String,
    pub patient: Uuid,
    pub state: ConsentStateCodes,
    pub granted_at: Timestamp,
    /// When it ends or ended (expiry, revocation), if it does.
    pub ends_at: Option<Timestamp>,
    /// The actor: a doctor, a proxy, or `None` for whoever holds a share link.
    pub actor: Option<&'a Person>,
    /// What they may do, as `consentaction` codes (access, correct, disclose).
    pub actions: &'a [&'a str],
    /// The records it covers; empty: all the patient's records.
    pub records: &'a [Uuid],
    /// A human description: "Share", "Proxy (MANAGE)", "Share link".
    pub kind: &'a str,
}

pub fn consent(p: &Permit<'_>) -> Result<Resource, BuilderError> {
    let actor = match p.actor {
        Some(person) => person.reference(),
        None => Reference {
            display: Some(text("Whoever holds the share link and its passcode")),
            ..Default::default()
        },
    };
    let provision = ConsentProvision {
        r#type: Some(Coded::Known(ConsentProvisionType::Permit)),
        period: Some(Period {
            start: Some(date_time(p.granted_at)),
            end: p.ends_at.map(date_time),
            ..Default::default()
        }),
        actor: vec![ConsentProvisionActor {
            role: concept(vec![coding(
                "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                "IRCP",
                Some("information recipient"),
            )]),
            reference: actor,
            ..Default::default()
        }],
        action: p
            .actions
            .iter()
            .map(|a| {
                concept(vec![coding(
                    "http://terminology.hl7.org/CodeSystem/consentaction",
                    a,
                    None,
                )])
            })
            .collect(),
        data: p
            .records
            .iter()
            .map(|r| ConsentProvisionData {
                meaning: Coded::Known(ConsentDataMeaning::Instance),
                reference: document_ref(*r),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let consent = Consent::builder()
        .id(text(p.id.clone()))
        .status(Coded::Known(p.state.clone()))
        .scope(CodeableConcept {
            text: Some(text(p.kind)),
            ..concept(vec![coding(
                "http://terminology.hl7.org/CodeSystem/consentscope",
                "patient-privacy",
                Some("Privacy Consent"),
            )])
        })
        .category(vec1::vec1![concept(vec![coding(
            "http://loinc.org",
            "59284-0",
            Some("Patient Consent"),
        )])])
        .patient(patient_ref(p.patient))
        .date_time(date_time(p.granted_at))
        .policy_rule(concept(vec![coding(
            "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "OPTIN",
            Some("opt-in"),
        )]))
        .provision(provision)
        .build()?;
    Ok(Resource::Consent(Box::new(consent)))
}

/// The access log's read-like lines: reads, denials, emergency reads, link opens.
pub const AUDITED_ACTIONS: &[&str] =
    &["VIEWED", "DOWNLOADED", "DENIED", "EMERGENCY", "LINK_OPENED"];

/// One access log line as an AuditEvent in the shape of IHE BALP's read of a patient's
/// resource: who (requestor), what (the patient and the document, by id only: never a
/// title), when, how it ended, and break-glass as the ETREAT purpose of use.
pub fn audit_event(
    row: &projections::records::AccessRow,
    actor: Option<&Person>,
) -> Result<Resource, BuilderError> {
    let denied = row.action == "DENIED";
    let emergency = row.action == "EMERGENCY";
    let who = match actor {
        Some(person) => person.reference(),
        None => Reference {
            display: Some(text("Someone holding a share link")),
            ..Default::default()
        },
    };
    let agent = AuditEventAgent {
        r#type: Some(concept(vec![coding(
            "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
            "IRCP",
            Some("information recipient"),
        )])),
        who: Some(who),
        requestor: Boolean(true),
        purpose_of_use: if emergency {
            vec![concept(vec![coding(
                "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                "ETREAT",
                Some("Emergency Treatment"),
            )])]
        } else {
            Vec::new()
        },
        ..Default::default()
    };
    let source = AuditEventSource {
        observer: Reference {
            display: Some(text("MedChain")),
            ..Default::default()
        },
        r#type: vec![coding(
            "http://terminology.hl7.org/CodeSystem/security-source-type",
            "4",
            Some("Application Server"),
        )],
        ..Default::default()
    };
    let entities = vec![
        AuditEventEntity {
            what: Some(patient_ref(row.owner_id)),
            r#type: Some(coding(
                "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                "1",
                Some("Person"),
            )),
            role: Some(coding(
                "http://terminology.hl7.org/CodeSystem/object-role",
                "1",
                Some("Patient"),
            )),
            ..Default::default()
        },
        AuditEventEntity {
            what: Some(document_ref(row.record_id)),
            r#type: Some(coding(
                "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                "2",
                Some("System Object"),
            )),
            role: Some(coding(
                "http://terminology.hl7.org/CodeSystem/object-role",
                "4",
                Some("Domain Resource"),
            )),
            ..Default::default()
        },
    ];
    let mut event = AuditEvent::builder()
        .id(text(format!("{}-{}", row.seq, row.record_id)))
        .r#type(coding(
            "http://terminology.hl7.org/CodeSystem/audit-event-type",
            "rest",
            Some("Restful Operation"),
        ))
        .subtype(vec![coding(
            "http://hl7.org/fhir/restful-interaction",
            "read",
            Some("read"),
        )])
        .action(Coded::Known(AuditEventAction::R))
        .recorded(instant(Timestamp::from_datetime(row.at)))
        .outcome(Coded::Known(if denied {
            AuditEventOutcome::N4
        } else {
            AuditEventOutcome::N0
        }))
        .agent(vec1::vec1![agent])
        .source(source)
        .entity(entities)
        .build()?;
    let description = match (row.action.as_str(), row.detail.as_deref()) {
        ("DENIED", Some(why)) => Some(format!("refused: {why}")),
        ("EMERGENCY", _) => Some("read under emergency access".to_owned()),
        ("LINK_OPENED", _) => Some("read through a share link".to_owned()),
        (action, _) => Some(action.to_lowercase()),
    };
    event.outcome_desc = description.map(text);
    Ok(Resource::AuditEvent(Box::new(event)))
}

/// Where a record a doctor added came from: the doctor, as author, when it was stored.
pub fn provenance(
    view: &projections::records::RecordView,
    author: &Person,
) -> Result<Resource, BuilderError> {
    let id = view.id.as_uuid();
    let provenance = Provenance::builder()
        .id(text(format!("added-{id}")))
        .target(vec1::vec1![document_ref(id)])
        .recorded(instant(view.uploaded_at))
        .activity(concept(vec![coding(
            "http://terminology.hl7.org/CodeSystem/v3-DataOperation",
            "CREATE",
            Some("create"),
        )]))
        .agent(vec1::vec1![ProvenanceAgent {
            r#type: Some(concept(vec![coding(
                "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                "author",
                Some("Author"),
            )])),
            who: author.reference(),
            ..Default::default()
        }])
        .build()?;
    Ok(Resource::Provenance(Box::new(provenance)))
}
