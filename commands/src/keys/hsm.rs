//! The master key in a hardware security module (DESIGN.md §11), through PKCS#11 and the
//! `cryptoki` crate: an AES-256 secret key object created inside the module, sensitive
//! and never extractable, used only to seal and open (AES-GCM, inside the module) the
//! few things the master key wraps: the epoch keys and the derivation root.
//!
//! It is named by a PKCS#11 URI (RFC 7512): `pkcs11:token=<label>;object=<label>` with
//! `?module-path=<library>` and the user PIN as `pin-value=<pin>` or
//! `pin-source=<file>`. Only that subset is read; it is parsed here by hand because no
//! maintained crate parses PKCS#11 URIs (cryptoki leaves them to the caller).
//!
//! Every call blocks on the module: callers run them on the blocking pool. One session,
//! behind a mutex, is enough for what goes through it (an epoch key's unwrap once per
//! process, a wrap at each rotation).

use super::wrap::{NONCE_LEN, TAG_LEN};
use cryptoki::{
    context::{CInitializeArgs, CInitializeFlags, Pkcs11},
    mechanism::{Mechanism, aead::GcmParams},
    object::{Attribute, AttributeType, ObjectClass, ObjectHandle},
    session::{Session, UserType},
    types::AuthPin,
};
use rand::RngCore;
use std::{fmt, path::PathBuf, sync::Mutex};

#[derive(Debug, thiserror::Error)]
pub enum HsmError {
    #[error("{0}")]
    Uri(String),
    #[error("the PKCS#11 module {module}: {source}")]
    Module {
        module: String,
        source: cryptoki::error::Error,
    },
    #[error("no token labelled {0:?} in the PKCS#11 module")]
    NoToken(String),
    #[error("no secret key labelled {0:?} on the token (`medchain keys move-to-hsm` makes one)")]
    NoKey(String),
    #[error("the HSM: {0}")]
    Call(#[from] cryptoki::error::Error),
    #[error("a value sealed by the HSM key does not open (another key, or damage)")]
    DoesNotOpen,
    #[error("reading the PIN from {path}: {source}")]
    Pin {
        path: String,
        source: std::io::Error,
    },
}

/// What a `pkcs11:` URI names.
#[derive(Clone, PartialEq, Eq)]
pub struct HsmUri {
    pub module: PathBuf,
    pub token: String,
    pub object: String,
    pin: String,
}

impl fmt::Debug for HsmUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pkcs11:token={};object={} ({}, PIN hidden)",
            self.token,
            self.object,
            self.module.display()
        )
    }
}

fn percent_decode(raw: &str) -> Result<String, HsmError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = raw
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| HsmError::Uri(format!("a bad %-escape in {raw:?}")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| HsmError::Uri(format!("{raw:?} is not UTF-8")))
}

impl HsmUri {
    pub fn parse(uri: &str) -> Result<Self, HsmError> {
        let bad = |why: &str| HsmError::Uri(format!("MEDCHAIN_MASTER_KEY: {why}"));
        let rest = uri
            .strip_prefix("pkcs11:")
            .ok_or_else(|| bad("a PKCS#11 URI begins with \"pkcs11:\""))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (mut token, mut object, mut module, mut pin, mut pin_source) =
            (None, None, None, None, None);
        for part in path.split(';').filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| bad("an attribute without '='"))?;
            let v = percent_decode(v)?;
            match k {
                "token" => token = Some(v),
                "object" => object = Some(v),
                // Other path attributes (type, id, manufacturer…) narrow nothing we use.
                _ => {}
            }
        }
        for part in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| bad("an attribute without '='"))?;
            let v = percent_decode(v)?;
            match k {
                "module-path" => module = Some(v),
                "pin-value" => pin = Some(v),
                "pin-source" => pin_source = Some(v),
                _ => {}
            }
        }
        let pin = match (pin, pin_source) {
            (Some(pin), _) => pin,
            (None, Some(source)) => {
                let path = source.strip_prefix("file:").unwrap_or(&source).to_owned();
                std::fs::read_to_string(&path)
                    .map_err(|source| HsmError::Pin { path, source })?
                    .trim_end_matches(['\n', '\r'])
                    .to_owned()
            }
            (None, None) => return Err(bad("give the PIN as pin-value= or pin-source=")),
        };
        Ok(Self {
            module: module
                .ok_or_else(|| bad("give the module as module-path=<library>"))?
                .into(),
            token: token.ok_or_else(|| bad("name the token: token=<label>"))?,
            object: object.ok_or_else(|| bad("name the key: object=<label>"))?,
            pin,
        })
    }
}

/// A session on the token, signed in, and the master key's handle.
pub struct Hsm {
    session: Mutex<Session>,
    key: ObjectHandle,
    uri: HsmUri,
    // Kept for the session's life: the module is finalised when the last handle goes.
    _context: Pkcs11,
}

impl fmt::Debug for Hsm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hsm({:?})", self.uri)
    }
}

impl Hsm {
    /// Opens the token and finds the key; with `create`, makes it there when it is not
    /// (AES-256, generated inside the module, sensitive, never extractable).
    pub fn connect(uri: &HsmUri, create: bool) -> Result<Self, HsmError> {
        let module = |source| HsmError::Module {
            module: uri.module.display().to_string(),
            source,
        };
        let context = Pkcs11::new(&uri.module).map_err(module)?;
        context
            .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .map_err(module)?;
        let slot = context
            .get_slots_with_token()?
            .into_iter()
            .find(|slot| {
                context
                    .get_token_info(*slot)
                    .is_ok_and(|info| info.label() == uri.token)
            })
            .ok_or_else(|| HsmError::NoToken(uri.token.clone()))?;
        let session = context.open_rw_session(slot)?;
        session.login(UserType::User, Some(&AuthPin::new(uri.pin.clone().into())))?;
        let label = uri.object.as_bytes().to_vec();
        let found = session.find_objects(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::Label(label.clone()),
        ])?;
        let key = match found.first() {
            Some(key) => *key,
            None if create => {
                let key = session.generate_key(
                    &Mechanism::AesKeyGen,
                    &[
                        Attribute::Token(true),
                        Attribute::Private(true),
                        Attribute::Sensitive(true),
                        Attribute::Extractable(false),
                        Attribute::Encrypt(true),
                        Attribute::Decrypt(true),
                        Attribute::ValueLen(32.into()),
                        Attribute::Label(label),
                    ],
                )?;
                tracing::warn!(token = %uri.token, object = %uri.object, "created the master key in the HSM");
                key
            }
            None => return Err(HsmError::NoKey(uri.object.clone())),
        };
        Ok(Self {
            session: Mutex::new(session),
            key,
            uri: uri.clone(),
            _context: context,
        })
    }

    /// `nonce ‖ ciphertext ‖ tag`, AES-256-GCM inside the module, bound to `ad`.
    pub fn seal(&self, ad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, HsmError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let mut iv = nonce;
        let params = GcmParams::new(&mut iv, ad, (TAG_LEN as u64 * 8).into())?;
        let sealed = self.session.lock().expect("not poisoned").encrypt(
            &Mechanism::AesGcm(params),
            self.key,
            plaintext,
        )?;
        Ok([&nonce[..], &sealed].concat())
    }

    pub fn unseal(&self, ad: &[u8], wrapped: &[u8]) -> Result<Vec<u8>, HsmError> {
        if wrapped.len() < NONCE_LEN + TAG_LEN {
            return Err(HsmError::DoesNotOpen);
        }
        let (nonce, sealed) = wrapped.split_at(NONCE_LEN);
        let mut iv: [u8; NONCE_LEN] = nonce.try_into().expect("split at its length");
        let params = GcmParams::new(&mut iv, ad, (TAG_LEN as u64 * 8).into())?;
        self.session
            .lock()
            .expect("not poisoned")
            .decrypt(&Mechanism::AesGcm(params), self.key, sealed)
            .map_err(|_| HsmError::DoesNotOpen)
    }

    /// What the module says of the key: (sensitive, extractable), for `keys status`.
    pub fn key_attributes(&self) -> Result<(bool, bool), HsmError> {
        let attributes = self.session.lock().expect("not poisoned").get_attributes(
            self.key,
            &[AttributeType::Sensitive, AttributeType::Extractable],
        )?;
        let (mut sensitive, mut extractable) = (false, true);
        for attribute in attributes {
            match attribute {
                Attribute::Sensitive(v) => sensitive = v,
                Attribute::Extractable(v) => extractable = v,
                _ => {}
            }
        }
        Ok((sensitive, extractable))
    }

    pub fn uri(&self) -> &HsmUri {
        &self.uri
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_subset_of_rfc_7512_it_needs() {
        let uri = HsmUri::parse(
            "pkcs11:token=Med%20Chain;object=master;type=secret-key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234",
        )
        .unwrap();
        assert_eq!(uri.token, "Med Chain");
        assert_eq!(uri.object, "master");
        assert_eq!(uri.module, PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"));
        assert!(
            !format!("{uri:?}").contains("1234"),
            "the PIN stays out of logs"
        );
        for bad in [
            "file:/x",
            "pkcs11:object=m?module-path=/x&pin-value=1",
            "pkcs11:token=t;object=m?pin-value=1",
            "pkcs11:token=t;object=m?module-path=/x",
            "pkcs11:token=%zz;object=m?module-path=/x&pin-value=1",
        ] {
            assert!(HsmUri::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_pin_comes_from_a_file_too() {
        let dir = tempfile::tempdir().unwrap();
        let pin = dir.path().join("pin");
        std::fs::write(&pin, "98765\n").unwrap();
        let uri = HsmUri::parse(&format!(
            "pkcs11:token=t;object=m?module-path=/x&pin-source=file:{}",
            pin.display()
        ))
        .unwrap();
        assert_eq!(uri.pin, "98765");
    }
}
