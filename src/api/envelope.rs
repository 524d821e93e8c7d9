//! Envelopes (CMS): which recipients they name, and opening them with the key where it lives.

use super::*;

/// Where this workstation has a recipient's key (the envelope module's `Reachable`, as the window receives it).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, TS)]
#[serde(rename_all = "snake_case")]
pub enum Reachable {
    /// In the OS certificate store, with its private key.
    Store,
    /// On a card or token that is present now.
    Token,
    /// Nowhere here (the card that holds it is not inserted, or the key is on another workstation).
    Absent,
}

#[cfg(feature = "software-keys")]
impl From<crate::envelope::Reachable> for Reachable {
    fn from(r: crate::envelope::Reachable) -> Self {
        use crate::envelope::Reachable as R;
        match r {
            R::Store => Reachable::Store,
            R::Token => Reachable::Token,
            R::Absent => Reachable::Absent,
        }
    }
}

/// How the content key was encrypted to a recipient.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, TS)]
#[serde(rename_all = "snake_case")]
pub enum KeyTransport {
    RsaPkcs1v15,
    RsaOaepSha1,
    RsaOaepSha256,
}

#[cfg(feature = "software-keys")]
impl From<crate::envelope::KeyTransport> for KeyTransport {
    fn from(t: crate::envelope::KeyTransport) -> Self {
        use crate::envelope::KeyTransport as K;
        match t {
            K::RsaPkcs1v15 => KeyTransport::RsaPkcs1v15,
            K::RsaOaepSha1 => KeyTransport::RsaOaepSha1,
            K::RsaOaepSha256 => KeyTransport::RsaOaepSha256,
        }
    }
}

/// The CMS structure of an envelope.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, TS)]
#[serde(rename_all = "snake_case")]
pub enum EnvelopeKind {
    /// EnvelopedData (RFC 5652).
    Enveloped,
    /// AuthEnvelopedData (RFC 5083).
    AuthEnveloped,
}

/// One recipient of an envelope, as the window shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct EnvelopeRecipient {
    /// Issuer (RFC 4514) and serial (hex), or the subject key identifier.
    pub issuer: Option<String>,
    pub serial: Option<String>,
    pub ski: Option<String>,
    /// `None` with `unsupported` naming what it is.
    pub key_transport: Option<KeyTransport>,
    pub unsupported: Option<String>,
    pub reachable: Reachable,
    /// Holder's name and the card's label when this workstation has the key.
    pub holder: Option<String>,
    pub token: Option<String>,
}

/// What an envelope names, read without any PIN.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, TS)]
pub struct EnvelopeView {
    pub kind: EnvelopeKind,
    /// `aes-256-cbc`, `aes-128-gcm`, `des-ede3-cbc`…
    pub content_cipher: String,
    pub encrypted_size: f64,
    pub recipients: Vec<EnvelopeRecipient>,
    pub can_open: bool,
}

/// Open an envelope into a folder (or file); the card's PIN when the key is on a card.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct EnvelopeOpenRequest {
    #[ts(type = "string")]
    pub path: PathBuf,
    #[ts(type = "string")]
    pub out: PathBuf,
    /// Replace an existing file of the same name.
    pub force: bool,
    #[ts(type = "string | null")]
    pub pin: Option<password::Password>,
}

/// An envelope opened: where its content is.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, TS)]
pub struct EnvelopeOpened {
    pub out: String,
    pub size: f64,
    pub recipient: EnvelopeRecipient,
}

#[cfg(feature = "software-keys")]
pub(super) fn envelope_recipient(r: crate::envelope::Recipient) -> EnvelopeRecipient {
    EnvelopeRecipient {
        issuer: r.issuer,
        serial: r.serial,
        ski: r.ski,
        key_transport: r.key_transport.map(Into::into),
        unsupported: r.unsupported,
        reachable: r.reachable.into(),
        holder: r.holder,
        token: r.token,
    }
}

gated! { feature = "software-keys", "envelope";
    /// Which recipients an envelope names and which of them this workstation can open (no PIN asked).
    pub fn envelope_inspect(req: FileRequest, lang: Lang) -> Result<EnvelopeView, ApiError> {
        let i = crate::envelope::inspect(&req.path, lang).map_err(|e| ApiError::from_coded(&e, lang))?;
        Ok(EnvelopeView {
            kind: if i.kind == "auth_enveloped" { EnvelopeKind::AuthEnveloped } else { EnvelopeKind::Enveloped },
            content_cipher: i.content_cipher.name().to_string(),
            encrypted_size: i.encrypted_size as f64,
            can_open: i.can_open,
            recipients: i.recipients.into_iter().map(envelope_recipient).collect(),
        })
    }
}

gated! { feature = "software-keys", "envelope";
    /// Opens an envelope with the key where it lives (the PIN given is used only if the key is on a card).
    pub fn envelope_open(req: EnvelopeOpenRequest, lang: Lang) -> Result<EnvelopeOpened, ApiError> {
        let open = crate::envelope::OpenRequest { file: req.path.clone(), out: req.out.clone(), force: req.force };
        let mut source = card_pin(&req.pin);
        let o = crate::envelope::open(&open, &mut source, lang).map_err(|e| ApiError::from_coded(&e, lang))?;
        Ok(EnvelopeOpened {
            out: o.out.display().to_string(),
            size: o.size as f64,
            recipient: envelope_recipient(o.recipient),
        })
    }
}
